"""What contexts plug into the gateway: stream families and client frame types.

    register_streams("conv", initial=conversation_streams, readable=member_streams,
                     replay=resolve_history, members=member_ids,
                     initial_many=conversation_streams_of_many)
    register_frame_handler(MessageSendFrame, handle_message_send, ack=MessageSendAck,
                           errors=(ConversationNotFound, ...))
    register_event("message.sent", MessageData, stream="conv")

`initial_many` (optional) answers `initial` for many principals at once (one query): sockets
that connect together are admitted in batches (a reconnect storm). The callables are
synchronous (they may query their context's database); the gateway runs them off the event
loop. A frame handler gets its frame already validated as its model and returns its ack model,
or raises a CleaveError, which the client gets as an error frame with that code (`errors` lists
the ones it may raise, for the AsyncAPI document). Every event pushed on a stream has its
payload model registered with `register_event`, which `push` validates the data against.

Retained history is append-only (Redis Streams entries cannot be rewritten), so a family whose
frames can go stale (an edited or deleted message, a member who joined later) registers
`replay`: it is handed the frames a resume would send and returns what the reader may see of
them *now*. It runs after the frames were read from the store, so a membership it checks covers
every frame it lets through.

A process that does not host a context still serves the families and frame types its
declaration names: `cleave.realtime.remote` registers them here as remote (`remote_families`,
`remote_frames`), and their questions go over HTTP to the service hosting the context, where
these same registrations answer them (`cleave.realtime.hosted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict

from cleave.auth.principal import Principal
from cleave.errors import CleaveError
from cleave.realtime.frames import GATEWAY_CLIENT_FRAMES, AckFrame, ClientFrame

FrameHandler = Callable[[Principal, Any], AckFrame]
# (seq, frame) pairs of one stream, as the store keeps them.
Entries = list[tuple[int, str]]
# principal, {stream: entries} → {stream: the frames to send now, or None: may not read it}
ReplayHook = Callable[[Principal, dict[str, Entries]], dict[str, list[str] | None]]

JOINED = "stream.joined"
LEFT = "stream.left"


class StreamMembership(BaseModel):
    """`stream.joined` / `stream.left` on a user's own stream: follow it at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream: str


@dataclass(frozen=True)
class StreamFamily:
    prefix: str
    initial: Callable[[Principal], list[str]]  # the streams a socket joins when it connects
    # Of these streams (all of this family), the ones this principal may read: one query.
    readable: Callable[[Principal, list[str]], set[str]]
    members: Callable[[str], list[int]] | None = None  # user ids on the stream, for presence
    replay: ReplayHook | None = None  # history as the reader may see it now (module docstring)
    # `initial` for many principals in one go: {user_id: streams}; absent users have none.
    initial_many: Callable[[list[Principal]], dict[int, list[str]]] | None = None


@dataclass(frozen=True)
class FrameType:
    """A context's client frame: its model, handler, ack model and the errors it may answer."""

    frame: type[ClientFrame]
    handler: FrameHandler
    ack: type[AckFrame]
    errors: tuple[type[CleaveError], ...]


@dataclass(frozen=True)
class EventType:
    """An event pushed on streams of one family (`stream`: "conv", "user", "flags")."""

    name: str
    data: type[BaseModel]
    stream: str


stream_families: dict[str, StreamFamily] = {}
frame_types: dict[str, FrameType] = {}
event_types: dict[str, EventType] = {}
# Families and frame types of contexts this process does not host, answered over HTTP by the
# service hosting each (cleave.realtime.remote); kept apart from the hosted ones, which the
# declaration checks and the AsyncAPI document read.
remote_families: dict[str, StreamFamily] = {}
remote_frames: dict[str, str] = {}  # frame type → the label of the context that handles it


def family_of(stream: str) -> StreamFamily | None:
    """The family of `stream` ("conv" for "conv:42"), hosted here or answered remotely."""
    prefix = stream.split(":", 1)[0]
    return stream_families.get(prefix) or remote_families.get(prefix)


def register_streams(
    prefix: str,
    *,
    initial: Callable[[Principal], list[str]],
    readable: Callable[[Principal, list[str]], set[str]],
    members: Callable[[str], list[int]] | None = None,
    replay: ReplayHook | None = None,
    initial_many: Callable[[list[Principal]], dict[int, list[str]]] | None = None,
) -> None:
    stream_families[prefix] = StreamFamily(
        prefix, initial, readable, members, replay, initial_many=initial_many
    )


def register_frame_handler(
    frame: type[ClientFrame],
    handler: FrameHandler,
    *,
    ack: type[AckFrame],
    errors: tuple[type[CleaveError], ...] = (),
) -> None:
    """Route client frames of `frame`'s type (its `type` Literal) to `handler`."""
    frame_type = frame_type_of(frame)
    if frame_type in GATEWAY_CLIENT_FRAMES:
        raise ValueError(f"{frame_type!r} is the gateway's own frame type")
    frame_types[frame_type] = FrameType(frame, handler, ack, errors)


def register_event(name: str, data: type[BaseModel], *, stream: str) -> None:
    """Declare the payload of the events called `name`, pushed on `stream` family's streams."""
    event_types[name] = EventType(name, data, stream)


def frame_type_of(frame: type[BaseModel]) -> str:
    """The value of a frame model's `type` Literal."""
    (value,) = get_args(frame.model_fields["type"].annotation)
    return str(value)


def checked_event_data(event: str, data: dict[str, Any]) -> None:
    """Raise unless `data` fits the model registered for `event` (ValueError if none is)."""
    declared = event_types.get(event)
    if declared is None:
        raise ValueError(f"event {event!r} has no payload model: register_event() it")
    declared.data.model_validate(data, strict=True)


def initial_streams(principal: Principal) -> list[str]:
    """The streams a socket of `principal` joins on connecting: a batch of one."""
    return initial_streams_many([principal])[principal.user_id]


def initial_streams_many(principals: list[Principal]) -> dict[int, list[str]]:
    """`initial_streams` of each principal's user, one query per family where it can."""
    users = {principal.user_id: principal for principal in principals}
    streams: dict[int, list[str]] = {user_id: [] for user_id in users}
    # A remote context's families are one object (one request for all of its prefixes).
    for family in dict.fromkeys([*stream_families.values(), *remote_families.values()]):
        if family.initial_many is not None:
            found = family.initial_many(list(users.values()))
            for user_id in users:
                streams[user_id] += found.get(user_id, [])
        else:
            for user_id, principal in users.items():
                streams[user_id] += family.initial(principal)
    return streams


def user_stream(user_id: int) -> str:
    """The one stream every socket of a user is on (`stream.joined`, notifications…)."""
    return f"user:{user_id}"


def _by_family(streams: list[str]) -> dict[StreamFamily, list[str]]:
    grouped: dict[StreamFamily, list[str]] = {}
    for stream in streams:
        family = family_of(stream)
        if family is not None:
            grouped.setdefault(family, []).append(stream)
    return grouped


def readable(principal: Principal, streams: list[str]) -> set[str]:
    """Which of `streams` this principal may read: one question per family, not per stream."""
    own = user_stream(principal.user_id)
    allowed = {own} if own in streams else set()
    for family, of_family in _by_family([s for s in streams if s != own]).items():
        allowed |= family.readable(principal, of_family) & set(of_family)
    return allowed


def replay(principal: Principal, history: dict[str, Entries]) -> dict[str, list[str] | None]:
    """History as this principal may see it now; None for a stream it may no longer read.
    Call it after reading `history` from the store (see the module docstring)."""
    own = user_stream(principal.user_id)
    seen: dict[str, list[str] | None] = {}
    if own in history:
        seen[own] = [frame for _, frame in history[own]]
    for family, of_family in _by_family([s for s in history if s != own]).items():
        asked = {stream: history[stream] for stream in of_family}
        if family.replay is not None:
            resolved = family.replay(principal, asked)
            seen.update({stream: resolved.get(stream) for stream in of_family})
        else:
            allowed = family.readable(principal, of_family)
            seen.update(
                {
                    stream: [frame for _, frame in entries] if stream in allowed else None
                    for stream, entries in asked.items()
                }
            )
    return seen


def has_members(stream: str) -> bool:
    family = family_of(stream)
    return family is not None and family.members is not None


def stream_members(stream: str) -> list[int]:
    """User ids on a stream (for presence): the user of `user:<id>`, or what the family says."""
    prefix, _, rest = stream.partition(":")
    if prefix == "user":
        return [int(rest)] if rest.isdigit() else []
    family = family_of(stream)
    return family.members(stream) if family is not None and family.members else []


register_event(JOINED, StreamMembership, stream="user")
register_event(LEFT, StreamMembership, stream="user")


def subscribe(user_id: int, stream: str) -> None:
    """Tell the user's sockets to join `stream` (e.g. added to a conversation). After commit."""
    from cleave.realtime.hub import push

    push(user_stream(user_id), JOINED, {"stream": stream})


def unsubscribe(user_id: int, stream: str) -> None:
    """Tell the user's sockets to leave `stream`. After commit."""
    from cleave.realtime.hub import push

    push(user_stream(user_id), LEFT, {"stream": stream})
