"""What contexts plug into the gateway: stream families and client frame types.

    register_streams("conv", initial=conversation_streams, readable=member_streams,
                     replay=resolve_history, members=member_ids,
                     initial_many=conversation_streams_of_many)
    register_frame_handler("message.send", handle_message_send)

`initial_many` (optional) answers `initial` for many principals at once (one query): sockets
that connect together are admitted in batches (a reconnect storm). The callables are
synchronous (they may query their context's database); the gateway runs them off the event
loop. A frame handler returns the `ack` payload or raises a CleaveError, which the client gets
as an error frame with that code.

Retained history is append-only (Redis Streams entries cannot be rewritten), so a family whose
frames can go stale (an edited or deleted message, a member who joined later) registers
`replay`: it is handed the frames a resume would send and returns what the reader may see of
them *now*. It runs after the frames were read from the store, so a membership it checks covers
every frame it lets through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cleave.auth.principal import Principal

FrameHandler = Callable[[Principal, dict[str, Any]], dict[str, Any]]
# (seq, frame) pairs of one stream, as the store keeps them.
Entries = list[tuple[int, str]]
# principal, {stream: entries} → {stream: the frames to send now, or None: may not read it}
ReplayHook = Callable[[Principal, dict[str, Entries]], dict[str, list[str] | None]]

JOINED = "stream.joined"
LEFT = "stream.left"


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


stream_families: dict[str, StreamFamily] = {}
frame_handlers: dict[str, FrameHandler] = {}


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


def register_frame_handler(frame_type: str, handler: FrameHandler) -> None:
    if frame_type in {"auth", "ping", "resume"}:
        raise ValueError(f"{frame_type!r} is the gateway's own frame type")
    frame_handlers[frame_type] = handler


def initial_streams(principal: Principal) -> list[str]:
    """The streams a socket of `principal` joins on connecting: a batch of one."""
    return initial_streams_many([principal])[principal.user_id]


def initial_streams_many(principals: list[Principal]) -> dict[int, list[str]]:
    """`initial_streams` of each principal's user, one query per family where it can."""
    users = {principal.user_id: principal for principal in principals}
    streams: dict[int, list[str]] = {user_id: [] for user_id in users}
    for family in stream_families.values():
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
        family = stream_families.get(stream.split(":", 1)[0])
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
    family = stream_families.get(stream.split(":", 1)[0])
    return family is not None and family.members is not None


def stream_members(stream: str) -> list[int]:
    """User ids on a stream (for presence): the user of `user:<id>`, or what the family says."""
    prefix, _, rest = stream.partition(":")
    if prefix == "user":
        return [int(rest)] if rest.isdigit() else []
    family = stream_families.get(prefix)
    return family.members(stream) if family is not None and family.members else []


def subscribe(user_id: int, stream: str) -> None:
    """Tell the user's sockets to join `stream` (e.g. added to a conversation). After commit."""
    from cleave.realtime.hub import push

    push(user_stream(user_id), JOINED, {"stream": stream})


def unsubscribe(user_id: int, stream: str) -> None:
    """Tell the user's sockets to leave `stream`. After commit."""
    from cleave.realtime.hub import push

    push(user_stream(user_id), LEFT, {"stream": stream})
