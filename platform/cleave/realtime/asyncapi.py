"""The AsyncAPI 3 document of `/ws/v1`, generated from the typed frames and what contexts
registered (frame types, event payloads, stream families), committed as contracts/asyncapi.json
(`manage.py asyncapi check|snapshot`; validated in CI by @asyncapi/parser, tools/asyncapi).

The document describes the server: a client frame is a message the server `receive`s (with the
frames it replies), a server frame one it `send`s. Each event name is a message of its own whose
`data` is that event's payload model. Close codes, error codes and streams are listed in
`x-close-codes`, `x-error-codes` and `x-streams`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cleave.errors import DEFAULT_MESSAGES, CleaveError
from cleave.realtime import registry
from cleave.realtime.frames import (
    CLOSE_CODE_MEANINGS,
    GATEWAY_CLIENT_FRAMES,
    GATEWAY_ERROR_CODES,
    ClientFrame,
    ErrorFrame,
    EventFrame,
    PongFrame,
    PresenceAck,
    PresenceSignal,
    ReadyFrame,
    ResumeAck,
    ResyncRequiredFrame,
    ServerFrame,
    TypingSignal,
)

__all__ = ["build"]

VERSION = "v1"
CHANNEL = "socket"
_SCHEMAS = "#/components/schemas/{model}"
# What the server answers each gateway frame with (an error frame can answer any of them).
_GATEWAY_REPLIES: dict[str, tuple[type[ServerFrame], ...]] = {
    "auth": (ReadyFrame,),
    "ping": (PongFrame,),
    "resume": (ResumeAck, EventFrame, ResyncRequiredFrame),
    "typing": (),
    "presence": (PresenceAck,),
}
# What the gateway itself may answer each of its frames with, besides invalid_frame.
_GATEWAY_FRAME_ERRORS: dict[str, tuple[str, ...]] = {
    "auth": ("already_authenticated", "token_invalid", "token_expired", "session_revoked")
    + ("revocation_unknown",),
    "resume": ("too_many_streams",),
    "typing": ("stream_not_joined",),
    "presence": ("stream_not_joined",),
}
# Server frames sent unasked.
_UNASKED: tuple[type[ServerFrame], ...] = (ResyncRequiredFrame, TypingSignal, PresenceSignal)


def build() -> dict[str, Any]:
    """The document for the frame types and events registered in this process."""
    client = {**GATEWAY_CLIENT_FRAMES, **{k: t.frame for k, t in registry.frame_types.items()}}
    acks = {kind: (declared.ack,) for kind, declared in registry.frame_types.items()}
    replies: dict[str, tuple[type[BaseModel], ...]] = {**_GATEWAY_REPLIES, **acks}
    answers: set[type[BaseModel]] = {*_UNASKED, ErrorFrame}
    answers.update(m for r in replies.values() for m in r)
    server = sorted(answers, key=_name)
    events = sorted(registry.event_types.values(), key=lambda e: e.name)
    schemas = _schemas([*client.values()], [*server, *(e.data for e in events)])
    # The generic event frame is not sent as such: each event name gets its own schema.
    event_base = schemas.pop(_name(EventFrame))
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for kind, model in sorted(client.items()):
        messages[_name(model)] = _message(model, "client")
        answers_to: tuple[type[BaseModel], ...] = (*replies.get(kind, ()), ErrorFrame)
        reply = [
            reply_ref
            for answer in answers_to
            for reply_ref in (
                [_ref_name(_event_message(e.name)) for e in events]
                if answer is EventFrame
                else [_ref_message(answer)]
            )
        ]
        operations[f"receive_{_snake(kind)}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "summary": f"The client sends `{kind}`.",
            "messages": [_ref_message(model)],
            "reply": {"channel": {"$ref": f"#/channels/{CHANNEL}"}, "messages": reply},
            "x-error-codes": _frame_errors(kind, model),
        }
    for sent in server:
        if sent is EventFrame:
            continue  # each event is a message of its own, below
        messages[_name(sent)] = _message(sent, "server")
        operations[f"send_{_snake(_name(sent))}"] = _send(_name(sent))
    for event in events:
        name = _event_message(event.name)
        schemas[name] = _event_schema(event_base, event)
        messages[name] = {
            "name": name,
            "title": f"event {event.name}",
            "summary": f"`{event.name}` on `{event.stream}` streams. {_doc(event.data)}".strip(),
            "contentType": "application/json",
            "payload": {"$ref": _SCHEMAS.format(model=name)},
            "x-direction": "server",
        }
        operations[f"send_{_snake(name)}"] = _send(name)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Cleave realtime API",
            "version": VERSION,
            "description": _DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "app": {
                "host": "{host}",
                "protocol": "wss",
                "pathname": "/ws/v1",
                "description": "The URL is `websocket_url` of `GET /api/v1/meta`.",
                "variables": {"host": {"default": "localhost:8000"}},
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/ws/v1",
                "title": "A device's socket",
                "description": "One socket per device; every frame is a JSON text frame.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": dict(sorted(operations.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
        "x-close-codes": {str(int(code)): text for code, text in CLOSE_CODE_MEANINGS.items()},
        "x-error-codes": _all_errors(),
        "x-streams": _streams(events),
    }


_DESCRIPTION = (
    "The device's WebSocket (docs/api.md, 'WebSocket'). Authenticate in the handshake "
    "(`Authorization: Bearer …`) or with an `auth` frame; frames carry a `type` and, when an "
    "answer is wanted, an `id` the answer carries back. Events are numbered per stream (`seq` "
    "within an `epoch`) and can be resumed. Close codes: `x-close-codes`; error codes: "
    "`x-error-codes`; streams and their events: `x-streams`."
)


def _schemas(inputs: list[type[BaseModel]], outputs: list[type[BaseModel]]) -> dict[str, Any]:
    """Every model's JSON schema (and the models they use) by name: what clients send as it
    validates, what the server sends as it serialises."""
    keyed = [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs]
    _, found = models_json_schema(keyed, ref_template=_SCHEMAS)  # type: ignore[arg-type]
    return dict(found.get("$defs", {}))


def _event_schema(base: dict[str, Any], event: registry.EventType) -> dict[str, Any]:
    properties = dict(base["properties"])
    properties["event"] = {"const": event.name, "type": "string"}
    properties["data"] = {"$ref": _SCHEMAS.format(model=_name(event.data))}
    return {**base, "title": _event_message(event.name), "properties": properties}


def _message(model: type[BaseModel], direction: str) -> dict[str, Any]:
    return {
        "name": _name(model),
        "title": _name(model),
        "summary": _doc(model),
        "contentType": "application/json",
        "payload": {"$ref": _SCHEMAS.format(model=_name(model))},
        "x-direction": direction,
    }


def _send(name: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{CHANNEL}"},
        "messages": [_ref_name(name)],
    }


def _ref_message(model: type[BaseModel]) -> dict[str, str]:
    return _ref_name(_name(model))


def _ref_name(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{name}"}


def _frame_errors(kind: str, model: type[ClientFrame]) -> list[str]:
    """The error codes a client frame of `kind` can be answered with."""
    declared = registry.frame_types.get(kind)
    own = [str(error.code) for error in declared.errors] if declared else []
    signed_in = () if kind in ("auth", "ping") else ("unauthorized",)
    gateway = _GATEWAY_FRAME_ERRORS.get(kind, ())
    return sorted({model.invalid_code, "rate_limited", *signed_in, *gateway, *own})


def _all_errors() -> dict[str, str]:
    errors = dict(GATEWAY_ERROR_CODES)
    for declared in registry.frame_types.values():
        for error in declared.errors:
            errors.setdefault(str(error.code), _meaning(error))
    return dict(sorted(errors.items()))


def _meaning(error: type[CleaveError]) -> str:
    return error.message_template or DEFAULT_MESSAGES.get(error.code, "")


def _streams(events: list[registry.EventType]) -> dict[str, Any]:
    families = {"user", *registry.stream_families}
    return {
        family: {"events": [event.name for event in events if event.stream == family]}
        for family in sorted(families)
    }


def _name(model: type[BaseModel]) -> str:
    return model.__name__


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _snake(text: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", text).replace(".", "_").lower()


def _event_message(event: str) -> str:
    """ "message.sent" → "MessageSentEvent"."""
    return "".join(part.capitalize() for part in re.split(r"[._]", event)) + "Event"
