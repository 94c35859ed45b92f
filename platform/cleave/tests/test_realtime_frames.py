"""Frames on /ws/v1 are typed: a client frame is checked against its model before anything
acts on it, a server frame is rendered from its model, and an event's data must fit the
payload its context declared."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from cleave.realtime import push, register_frame_handler, registry
from cleave.realtime.frames import (
    AckFrame,
    EventFrame,
    FrameError,
    PingFrame,
    ReadyFrame,
    ResumeFrame,
    error_frame,
    parse_frame,
    validated,
)
from cleave.realtime.hub import store
from contracts.messaging.frames import MessageSendFrame


def _refused(model: Any, frame: dict[str, Any]) -> FrameError:
    with pytest.raises(FrameError) as refused:
        validated(model, frame)
    return refused.value


def test_a_resume_with_a_negative_seq_is_an_invalid_frame_naming_the_stream() -> None:
    error = _refused(ResumeFrame, {"type": "resume", "id": "r1", "streams": {"user:1": -1}})
    assert (error.code, error.frame_id) == ("invalid_frame", "r1")
    assert "streams.user:1" in error.message


@pytest.mark.parametrize("position", [True, "3", 1.5, {"seq": 1, "epoch": 7}, {}])
def test_a_resume_position_is_a_seq_or_seq_and_epoch_nothing_else(position: Any) -> None:
    frame = {"type": "resume", "streams": {"user:1": position}}
    assert _refused(ResumeFrame, frame).code == "invalid_frame"


def test_a_resume_takes_a_plain_seq_or_a_seq_with_its_epoch() -> None:
    frame = {"type": "resume", "streams": {"user:1": 4, "conv:2": {"seq": 9, "epoch": "ab"}}}
    resume = validated(ResumeFrame, frame)
    assert resume.streams["user:1"] == 4
    assert resume.streams["conv:2"].seq == 9  # type: ignore[union-attr]


def test_an_unknown_field_is_refused_like_an_unknown_body_field() -> None:
    error = _refused(PingFrame, {"type": "ping", "id": 1, "since": 3})
    assert (error.code, error.frame_id) == ("invalid_frame", 1)
    assert "since" in error.message


def test_a_context_frame_that_does_not_fit_answers_as_its_rest_endpoint_would() -> None:
    frame = {"type": "message.send", "id": 7, "conversation_id": True, "text": "hi"}
    error = _refused(MessageSendFrame, {**frame, "client_msg_id": "a"})
    assert error.code == "validation_error"
    assert _refused(MessageSendFrame, {**frame, "conversation_id": 1}).code == "validation_error"


@pytest.mark.parametrize(("sent", "echoed"), [("a", "a"), (5, 5), ([1], None), (True, None)])
def test_only_a_string_or_integer_id_is_echoed_in_an_error(sent: Any, echoed: Any) -> None:
    error = _refused(PingFrame, {"type": "ping", "id": sent, "extra": 1})
    assert json.loads(error_frame(error))["id"] == echoed


def test_a_deeply_nested_id_gets_an_error_frame_not_a_crash() -> None:
    text = '{"type": "ping", "id": ' + "[" * 400 + "]" * 400 + "}"
    error = _refused(PingFrame, parse_frame(text, None))
    assert json.loads(error_frame(error)) == {
        "type": "error",
        "id": None,
        "error": {"code": "invalid_frame", "message": error.message},
    }


def test_a_server_frame_starts_with_its_type_and_leaves_out_what_was_not_given() -> None:
    ready = ReadyFrame(id=None, user_id=4, streams=["user:4"]).render()
    assert ready == '{"type":"ready","id":null,"user_id":4,"streams":["user:4"]}'
    event = EventFrame(stream="user:4", seq=1, epoch="e", event="x", data={}).render()
    assert event.startswith('{"type":"event",')
    assert "trace_id" not in event


def test_an_event_without_a_declared_payload_is_not_pushed() -> None:
    with pytest.raises(ValueError, match="no payload model"):
        push("user:1", "user.teleported", {"to": "mars"})


def test_event_data_that_does_not_fit_its_payload_is_not_pushed() -> None:
    before = store().since("user:1", 0, None, cap=1000).seq
    with pytest.raises(ValidationError):
        push("user:1", registry.JOINED, {"stream": 42})
    with pytest.raises(ValidationError):
        push("user:1", registry.JOINED, {"stream": "conv:1", "extra": True})
    assert store().since("user:1", 0, None, cap=1000).seq == before


def test_a_context_cannot_take_over_a_gateway_frame_type() -> None:
    with pytest.raises(ValueError, match="gateway's own"):
        register_frame_handler(PingFrame, lambda principal, frame: AckFrame(), ack=AckFrame)
