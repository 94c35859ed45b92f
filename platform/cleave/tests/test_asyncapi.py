"""The AsyncAPI document of /ws/v1: generated from the typed frames, committed, and its check
refuses each kind of breaking change while compatible ones only ask to be recorded."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from cleave.openapi.published import DocumentCheckFailed
from cleave.realtime.asyncapi_snapshot import ASYNCAPI

Document = dict[str, Any]


@pytest.fixture(scope="module")
def recorded() -> Document:
    return ASYNCAPI.current()


def _check_after(recorded: Document, change: Callable[[Document], None], tmp_path: Path) -> Any:
    changed = copy.deepcopy(recorded)
    change(changed)
    snapshot = tmp_path / "asyncapi.json"
    snapshot.write_text(ASYNCAPI.render(recorded))
    return dataclasses.replace(ASYNCAPI, build=lambda: changed).check(snapshot)


def _schemas(d: Document) -> Document:
    schemas: Document = d["components"]["schemas"]
    return schemas


def test_the_document_describes_every_frame_event_close_and_error_code(recorded: Document) -> None:
    messages = recorded["components"]["messages"]
    assert {"AuthFrame", "ResumeFrame", "MessageSendFrame", "ErrorFrame", "ReadyFrame"} <= set(
        messages
    )
    assert {"MessageSentEvent", "StreamJoinedEvent", "UserUpdatedEvent"} <= set(messages)
    sent = _schemas(recorded)["MessageSentEvent"]["properties"]
    assert sent["event"]["const"] == "message.sent"
    assert sent["data"] == {"$ref": "#/components/schemas/MessageData"}
    assert set(recorded["x-close-codes"]) == {"1001", "1013", "4401", "4408", "4426", "4429"}
    assert {"invalid_frame", "conversation_not_found"} <= set(recorded["x-error-codes"])
    assert "message.sent" in recorded["x-streams"]["conv"]["events"]
    send = recorded["operations"]["receive_message_send"]
    assert {"$ref": "#/channels/socket/messages/MessageSendAck"} in send["reply"]["messages"]


def _remove_client_frame(d: Document) -> None:
    del d["components"]["messages"]["PresenceFrame"]


def _remove_event(d: Document) -> None:
    del d["components"]["messages"]["MessageSentEvent"]


def _remove_server_field(d: Document) -> None:
    del _schemas(d)["MessageData"]["properties"]["text"]


def _require_new_client_field(d: Document) -> None:
    _schemas(d)["MessageSendFrame"]["properties"]["priority"] = {"type": "integer"}
    _schemas(d)["MessageSendFrame"]["required"].append("priority")


def _narrow_client_field(d: Document) -> None:
    _schemas(d)["MessageSendFrame"]["properties"]["client_msg_id"]["maxLength"] = 8


def _widen_server_field(d: Document) -> None:
    _schemas(d)["MessageData"]["properties"]["seq"] = {"type": ["integer", "string"]}


def _remove_close_code(d: Document) -> None:
    del d["x-close-codes"]["4429"]


def _move_the_socket(d: Document) -> None:
    d["channels"]["socket"]["address"] = "/ws/socket"


def _turn_a_frame_around(d: Document) -> None:
    d["components"]["messages"]["PongFrame"]["x-direction"] = "client"


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        (_remove_client_frame, "message PresenceFrame: message removed"),
        (_remove_event, "message MessageSentEvent: message removed"),
        (_remove_server_field, "field 'text' removed"),
        (_require_new_client_field, "field 'priority' added as required"),
        (_narrow_client_field, "client_msg_id: type narrowed"),
        (_widen_server_field, ".seq: type widened"),
        (_remove_close_code, "close code 4429 removed"),
        (_move_the_socket, "address changed from '/ws/v1' to '/ws/socket'"),
        (_turn_a_frame_around, "direction changed from server to client"),
    ],
)
def test_a_breaking_change_to_the_socket_is_refused_with_advice_to_version(
    recorded: Document, tmp_path: Path, change: Callable[[Document], None], reported: str
) -> None:
    with pytest.raises(DocumentCheckFailed) as failure:
        _check_after(recorded, change, tmp_path)
    assert reported in str(failure.value)
    assert "/ws/v2" in str(failure.value)


def _add_server_field(d: Document) -> None:
    _schemas(d)["MessageData"]["properties"]["reactions"] = {"type": "integer"}
    _schemas(d)["MessageData"]["required"].append("reactions")


def _add_error_code(d: Document) -> None:
    d["x-error-codes"]["message_too_long"] = "The text is too long."


def _remove_deprecated_frame(d: Document) -> None:
    del d["components"]["messages"]["PresenceFrame"]


@pytest.mark.parametrize("change", [_add_server_field, _add_error_code, _remove_deprecated_frame])
def test_a_compatible_change_to_the_socket_only_asks_to_be_recorded(
    recorded: Document, tmp_path: Path, change: Callable[[Document], None]
) -> None:
    before = copy.deepcopy(recorded)
    _schemas(before)["PresenceFrame"]["deprecated"] = True
    with pytest.raises(DocumentCheckFailed, match="stale") as failure:
        _check_after(before, change, tmp_path)
    assert "breaking" not in str(failure.value)


def test_the_committed_asyncapi_document_is_the_generated_one() -> None:
    call_command("asyncapi", "check")
