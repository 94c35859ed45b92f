"""The OpenAPI document of a Cleave API, with the project's conventions built in once.

- Operation ids read `<resource>_<action>`: the path's first segment (`conversations`,
  `auth`), then the handler's name without that resource's word (`conversation_list` under
  /conversations → `conversations_list`; `login` under /auth → `auth_login`); a handler named
  only after its resource takes its method's verb (`meta` → `meta_get`). An explicit
  `operation_id=` wins. Two operations with one id are a configuration error, not a warning.
- Every documented error answers with the `ErrorEnvelope` schema and lists its codes
  (`cleave.openapi.errors`).
- Schema names are what a client generator turns into type names: a generic one (`Input`,
  `Body`) or one name for two different schemas (ninja keeps the last silently) is refused.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from cleave.openapi.errors import ENVELOPE_COMPONENTS, error_responses

__all__ = ["GENERIC_SCHEMA_NAMES", "CleaveNinjaAPI", "CleaveOpenAPISchema", "operation_id_for"]

# Names that say nothing about what they hold; a client SDK would get a type called `Input`.
GENERIC_SCHEMA_NAMES = frozenset(
    {"Input", "Output", "Body", "Query", "Params", "Payload", "Data", "Schema", "Model"}
    | {"Response", "Request", "Item", "Items", "Page"}
)
_VERB_FOR_METHOD = {"get": "get", "post": "create", "put": "replace", "patch": "update"}
_VERB_FOR_METHOD |= {"delete": "delete"}
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def operation_id_for(path: str, method: str, handler: str) -> str:
    """`<resource>_<action>` for a handler at `path` (relative to the API's root)."""
    segments = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
    resource = segments[0].replace("-", "_") if segments else "root"
    action = handler
    for word in (resource, resource.removesuffix("s")):
        if handler == word:
            action = ""
            break
        if handler.startswith(f"{word}_"):
            action = handler[len(word) + 1 :]
            break
    return f"{resource}_{action or _VERB_FOR_METHOD[method]}"


class CleaveOpenAPISchema(OpenAPISchema):
    """ninja's document, then Cleave's operation ids and error responses over it."""

    def __init__(self, api: NinjaAPI, path_prefix: str) -> None:
        self._operation_of: dict[int, Operation] = {}
        super().__init__(api, path_prefix)
        self._apply_conventions()

    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details: dict[str, Any] = super().operation_details(operation)
        self._operation_of[id(details)] = operation
        return details

    def add_schema_definitions(self, definitions: dict[str, Any]) -> None:
        for name, schema in definitions.items():
            if name in GENERIC_SCHEMA_NAMES:
                raise ImproperlyConfigured(
                    f"Schema name {name!r} says nothing about what it holds: rename the model "
                    "(`<Entity><Action>In`, `<Entity>Out`) so client types read well."
                )
            known = self.schemas.get(name)
            if known is not None and known != schema:
                raise ImproperlyConfigured(
                    f"Two different schemas are named {name!r}; one would silently replace the "
                    "other in the document. Give each model its own name."
                )
        super().add_schema_definitions(definitions)

    def _apply_conventions(self) -> None:
        seen: dict[str, str] = {}
        root = "/" + self.path_prefix.strip("/")
        for path, methods in self["paths"].items():
            relative = path.removeprefix(root) if root != "/" else path
            for method, details in methods.items():
                operation = self._operation_of[id(details)]
                if not operation.operation_id:
                    handler = operation.view_func.__name__
                    details["operationId"] = operation_id_for(relative, method, handler)
                operation_id = details["operationId"]
                where = f"{method.upper()} {path}"
                if not _SNAKE.match(operation_id) or operation_id in seen:
                    raise ImproperlyConfigured(
                        f"{where}: operation id {operation_id!r} is not snake_case or is taken "
                        f"by {seen.get(operation_id)}; rename the handler or pass operation_id="
                    )
                seen[operation_id] = where
                details["responses"] |= error_responses(
                    operation,
                    path=path,
                    method=method,
                    has_inputs=bool(details.get("parameters") or details.get("requestBody")),
                    has_body="requestBody" in details,
                )
        self.schemas.update(ENVELOPE_COMPONENTS)


class CleaveNinjaAPI(NinjaAPI):
    """A NinjaAPI whose OpenAPI document follows Cleave's conventions (module docstring)."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> CleaveOpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return CleaveOpenAPISchema(self, path_prefix)
