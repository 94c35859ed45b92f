"""What contexts plug into the gateway: stream families and client frame types.

    register_streams("conv", initial=conversation_streams, may_read=is_member)
    register_frame_handler("message.send", handle_message_send)

Both callables are synchronous (they may query their context's database); the gateway runs
them off the event loop. A frame handler returns the `ack` payload or raises a CleaveError,
which the client gets as an error frame with that code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cleave.auth.principal import Principal

FrameHandler = Callable[[Principal, dict[str, Any]], dict[str, Any]]

JOINED = "stream.joined"
LEFT = "stream.left"


@dataclass(frozen=True)
class StreamFamily:
    prefix: str
    initial: Callable[[Principal], list[str]]  # the streams a socket joins when it connects
    may_read: Callable[[Principal, str], bool]  # may this principal resume this stream?
    members: Callable[[str], list[int]] | None = None  # user ids on the stream, for presence


stream_families: dict[str, StreamFamily] = {}
frame_handlers: dict[str, FrameHandler] = {}


def register_streams(
    prefix: str,
    *,
    initial: Callable[[Principal], list[str]],
    may_read: Callable[[Principal, str], bool],
    members: Callable[[str], list[int]] | None = None,
) -> None:
    stream_families[prefix] = StreamFamily(prefix, initial, may_read, members)


def register_frame_handler(frame_type: str, handler: FrameHandler) -> None:
    if frame_type in {"auth", "ping", "resume"}:
        raise ValueError(f"{frame_type!r} is the gateway's own frame type")
    frame_handlers[frame_type] = handler


def initial_streams(principal: Principal) -> list[str]:
    return [stream for family in stream_families.values() for stream in family.initial(principal)]


def may_read(principal: Principal, stream: str) -> bool:
    if stream == f"user:{principal.user_id}":
        return True
    family = stream_families.get(stream.split(":", 1)[0])
    return family is not None and family.may_read(principal, stream)


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

    push(f"user:{user_id}", JOINED, {"stream": stream})


def unsubscribe(user_id: int, stream: str) -> None:
    """Tell the user's sockets to leave `stream`. After commit."""
    from cleave.realtime.hub import push

    push(f"user:{user_id}", LEFT, {"stream": stream})
