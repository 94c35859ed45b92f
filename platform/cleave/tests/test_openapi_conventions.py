"""The public API's document follows its conventions by construction: readable operation ids,
every error response in the envelope with its codes, no generic or clashing schema names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ninja import Router, Schema

from cleave.api import build_api, public_api
from cleave.errors import NotFound
from cleave.openapi.document import operation_id_for
from cleave.openapi.errors import raises


def _document() -> dict[str, Any]:
    # As clients read it: JSON, where status codes are strings.
    document: dict[str, Any] = json.loads(json.dumps(public_api.get_openapi_schema()))
    return document


@pytest.mark.parametrize(
    ("path", "method", "handler", "expected"),
    [
        ("/auth/login", "post", "login", "auth_login"),
        ("/conversations", "get", "conversation_list", "conversations_list"),
        (
            "/conversations/{conversation_id}/messages",
            "post",
            "message_send",
            "conversations_message_send",
        ),
        ("/sessions", "get", "sessions_list", "sessions_list"),
        ("/meta", "get", "meta", "meta_get"),
        (
            "/auth/password-reset/confirm",
            "post",
            "password_reset_confirm",
            "auth_password_reset_confirm",
        ),
        ("/users/{user_id}", "get", "user_profile", "users_profile"),
    ],
)
def test_operation_id_is_the_resource_then_the_handlers_action(
    path: str, method: str, handler: str, expected: str
) -> None:
    assert operation_id_for(path, method, handler) == expected


def test_every_public_operation_id_starts_with_its_resource() -> None:
    for path, methods in _document()["paths"].items():
        resource = path.removeprefix("/api/v1/").split("/")[0].replace("-", "_")
        for method, operation in methods.items():
            assert operation["operationId"].startswith(f"{resource}_"), (method, path)
            assert "apps_" not in operation["operationId"], operation["operationId"]


def test_every_error_response_uses_the_envelope_and_names_its_codes() -> None:
    document = _document()
    assert "ErrorEnvelope" in document["components"]["schemas"]
    errors = 0
    for methods in document["paths"].values():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                errors += 1
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}
                assert response["x-error-codes"], (operation["operationId"], status)
    assert errors > 40


def test_a_context_error_a_handler_declares_is_listed_under_its_status() -> None:
    send = _document()["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert "conversation_not_found" in send["responses"]["404"]["x-error-codes"]
    assert "user_unavailable" in send["responses"]["403"]["x-error-codes"]
    assert "token_expired" in send["responses"]["401"]["x-error-codes"]
    assert "validation_error" in send["responses"]["422"]["x-error-codes"]


def test_no_schema_has_a_generic_name() -> None:
    names = set(_document()["components"]["schemas"])
    assert not names & {"Input", "Body", "Output", "Query"}


def _api_with(*routes: tuple[str, str, Any]) -> Any:
    api = build_api(title="probe", urls_namespace="probe")
    router = Router()
    for path, name, handler in routes:
        handler.__name__ = name
        router.get(path, response={200: None})(handler)
    api.add_router("/things", router)
    return api


def test_two_operations_with_one_id_are_refused() -> None:
    def first(request: HttpRequest) -> None: ...

    def second(request: HttpRequest) -> None: ...

    api = _api_with(("", "thing_list", first), ("/all", "list", second))
    with pytest.raises(ImproperlyConfigured, match="things_list"):
        api.get_openapi_schema(path_prefix="")


class Input(Schema):
    """A name a client generator would turn into a type called `Input`."""

    name: str


def test_a_generic_schema_name_is_refused() -> None:
    api = build_api(title="probe", urls_namespace="probe-generic")
    router = Router()

    @router.post("")
    def thing_create(request: HttpRequest, payload: Input) -> None: ...

    api.add_router("/things", router)
    with pytest.raises(ImproperlyConfigured, match="'Input'"):
        api.get_openapi_schema(path_prefix="")


def test_two_different_schemas_with_one_name_are_refused() -> None:
    def model(kind: type) -> type[Schema]:
        return type("ThingOut", (Schema,), {"__annotations__": {"value": kind}})

    api = build_api(title="probe", urls_namespace="probe-clash")
    router = Router()

    @router.get("/a", response=model(int))
    def thing_a(request: HttpRequest) -> None: ...

    @router.get("/b", response=model(str))
    def thing_b(request: HttpRequest) -> None: ...

    api.add_router("/things", router)
    with pytest.raises(ImproperlyConfigured, match="'ThingOut'"):
        api.get_openapi_schema(path_prefix="")


class MissingThing(NotFound):
    code = "thing_not_found"


def test_declared_errors_are_listed_under_their_status() -> None:
    api = build_api(title="probe", urls_namespace="probe-errors")
    router = Router()

    @router.get("/{thing_id}", response={200: None})
    @raises(MissingThing)
    def thing_get(request: HttpRequest, thing_id: int) -> None: ...

    api.add_router("/things", router)
    operation = api.get_openapi_schema(path_prefix="")["paths"]["/things/{thing_id}"]["get"]
    assert operation["operationId"] == "things_get"
    assert operation["responses"][404]["x-error-codes"] == ["thing_not_found"]
    assert operation["responses"][422]["x-error-codes"] == ["validation_error"]
