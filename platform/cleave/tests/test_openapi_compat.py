"""The OpenAPI check refuses each kind of breaking change to /api/v1 and says how to version;
compatible changes only ask for the committed document to be rewritten."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cleave.openapi.published import DocumentCheckFailed
from cleave.openapi.snapshot import OPENAPI

Document = dict[str, Any]
SEND = "/api/v1/conversations/{conversation_id}/messages"
LIST = "/api/v1/conversations"


@pytest.fixture(scope="module")
def recorded() -> Document:
    return OPENAPI.current()


def _check_after(
    recorded: Document, change: Callable[[Document], None], tmp_path: Path
) -> list[Any]:
    """Check the code as if `change` had been made to it, against `recorded` as committed."""
    changed = copy.deepcopy(recorded)
    change(changed)
    snapshot = tmp_path / "openapi.json"
    snapshot.write_text(OPENAPI.render(recorded))
    return dataclasses.replace(OPENAPI, build=lambda: changed).check(snapshot)


def _schema(document: Document, name: str) -> Document:
    schema: Document = document["components"]["schemas"][name]
    return schema


def _parameter(document: Document, path: str, method: str, name: str) -> Document:
    (found,) = [p for p in document["paths"][path][method]["parameters"] if p["name"] == name]
    return found


def _remove_path(d: Document) -> None:
    del d["paths"]["/api/v1/blocks"]


def _remove_operation(d: Document) -> None:
    del d["paths"][LIST]["post"]


def _remove_response_field(d: Document) -> None:
    del _schema(d, "MessageOut")["properties"]["text"]
    _schema(d, "MessageOut")["required"].remove("text")


def _narrow_parameter(d: Document) -> None:
    _parameter(d, LIST, "get", "limit")["schema"]["maximum"] = 10


def _narrow_body_field(d: Document) -> None:
    _schema(d, "MessageSendIn")["properties"]["client_msg_id"]["maxLength"] = 8


def _require_new_body_field(d: Document) -> None:
    _schema(d, "MessageSendIn")["properties"]["priority"] = {"type": "integer"}
    _schema(d, "MessageSendIn")["required"].append("priority")


def _require_new_parameter(d: Document) -> None:
    d["paths"][LIST]["get"]["parameters"].append(
        {"in": "query", "name": "folder", "required": True, "schema": {"type": "string"}}
    )


def _rename_operation(d: Document) -> None:
    d["paths"][SEND]["post"]["operationId"] = "messages_send"


def _widen_response_type(d: Document) -> None:
    _schema(d, "MessageOut")["properties"]["seq"] = {"type": ["integer", "string"]}


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        (_remove_path, "GET /api/v1/blocks: operation removed"),
        (_remove_operation, "POST /api/v1/conversations: operation removed"),
        (_remove_response_field, "field 'text' removed"),
        (_narrow_parameter, "query parameter 'limit': type narrowed"),
        (_narrow_body_field, "request body (application/json).client_msg_id: type narrowed"),
        (_require_new_body_field, "field 'priority' added as required"),
        (_require_new_parameter, "query parameter 'folder': parameter added as required"),
        (_rename_operation, "operation id changed from 'conversations_message_send'"),
        (_widen_response_type, ".seq: type widened"),
    ],
)
def test_a_breaking_change_is_refused_with_advice_to_version(
    recorded: Document, tmp_path: Path, change: Callable[[Document], None], reported: str
) -> None:
    with pytest.raises(DocumentCheckFailed) as failure:
        _check_after(recorded, change, tmp_path)
    assert reported in str(failure.value)
    assert "/api/v2" in str(failure.value)
    assert "deprecated" in str(failure.value)


def _add_optional_response_field(d: Document) -> None:
    _schema(d, "MessageOut")["properties"]["reactions"] = {"type": "integer"}
    _schema(d, "MessageOut")["required"].append("reactions")  # responses are read once


def _add_optional_input(d: Document) -> None:
    _schema(d, "MessageSendIn")["properties"]["silent"] = {"type": "boolean", "default": False}


def _remove_deprecated_operation(d: Document) -> None:
    del d["paths"][LIST]["post"]


@pytest.mark.parametrize(
    "change", [_add_optional_response_field, _add_optional_input, _remove_deprecated_operation]
)
def test_a_compatible_change_only_asks_for_the_document_to_be_recorded(
    recorded: Document, tmp_path: Path, change: Callable[[Document], None]
) -> None:
    before = copy.deepcopy(recorded)
    before["paths"][LIST]["post"]["deprecated"] = True  # past its sunset, it may go
    with pytest.raises(DocumentCheckFailed, match="stale") as failure:
        _check_after(before, change, tmp_path)
    assert "breaking" not in str(failure.value)


def test_the_committed_document_is_the_served_one() -> None:
    call_command("openapi", "check")


def test_the_command_fails_on_a_breaking_change(recorded: Document, tmp_path: Path) -> None:
    widened = copy.deepcopy(recorded)
    widened["paths"]["/api/v1/gone"] = {"get": {"operationId": "gone_get", "responses": {}}}
    snapshot = tmp_path / "openapi.json"
    snapshot.write_text(OPENAPI.render(widened))
    with pytest.raises(CommandError, match="GET /api/v1/gone: operation removed"):
        call_command("openapi", "check", "--snapshot", str(snapshot))
