"""The frames of `/ws/v1`, typed: what a client may send, what the server sends back.

Every frame is a JSON object whose first key is its `type`. A client frame is parsed into its
model before anything acts on it (a frame that does not fit is answered with an error frame and
the socket stays open); a server frame is built from its model, so nothing leaves that the
AsyncAPI document (contracts/asyncapi.json, `manage.py asyncapi`) does not describe. The
gateway's own frames are here; a context adds its frame types with
`cleave.realtime.register_frame_handler` and its event payloads with `register_event`, their
models beside its contracts (`contracts/<context>/frames.py`).

Pydantic and the standard library only, so `contracts/` may build on it.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_FRAME_BYTES = 64 * 1024
# The client's correlation id, echoed in the answer: a string or an integer (any other JSON
# value is refused in a frame, and not echoed in the error that says so).
FrameId = str | int | None


class CloseCode(IntEnum):
    """Why the server closed the socket (docs/api.md). 1xxx are RFC 6455's own."""

    GOING_AWAY = 1001
    TRY_AGAIN_LATER = 1013
    UNAUTHORIZED = 4401
    AUTH_TIMEOUT = 4408
    UPGRADE_REQUIRED = 4426
    RATE_LIMITED = 4429


CLOSE_CODE_MEANINGS: dict[CloseCode, str] = {
    CloseCode.GOING_AWAY: "The server is shutting down: reconnect and resume.",
    CloseCode.TRY_AGAIN_LATER: "The session could not be checked (`revocation_unknown`): "
    "reconnect with back-off, keep the tokens; not signed out.",
    CloseCode.UNAUTHORIZED: "A bad, expired or revoked token, a token in the URL, or the "
    "session signed out while connected.",
    CloseCode.AUTH_TIMEOUT: "No `auth` frame within the allowed seconds of connecting.",
    CloseCode.RATE_LIMITED: "More than three times the frame limit within a second.",
    CloseCode.UPGRADE_REQUIRED: "The handshake's `X-Client-Version` is below its platform's "
    "minimum (`upgrade_required`): show the upgrade screen; reconnecting will not help.",
}


# The gateway's error codes (an error frame's `error.code`) and when each is sent; a context's
# frame types add theirs when they register.
GATEWAY_ERROR_CODES: dict[str, str] = {
    "malformed_json": "The frame is not valid JSON.",
    "invalid_frame": "The frame does not fit its type's schema (a kernel frame type).",
    "unknown_type": "No frame has this type.",
    "frame_too_large": f"Frames are limited to {MAX_FRAME_BYTES} bytes.",
    "binary_not_supported": "Frames are JSON text, not binary.",
    "unauthorized": "A frame other than auth or ping before the socket is signed in.",
    "already_authenticated": "An auth frame on a socket already signed in.",
    "rate_limited": "Over the socket's frames per second (a resume costs more per ten streams).",
    "too_many_streams": "A resume naming more streams than allowed.",
    "stream_not_joined": "Typing or presence on a stream that is not a conversation joined here.",
    "auth_timeout": "No auth frame in time; the socket closes with 4408.",
    "token_in_url": "A token in the URL; the socket closes with 4401.",
    "token_invalid": "The access token is not valid; the socket closes with 4401.",
    "token_expired": "The access token has expired; the socket closes with 4401.",
    "session_revoked": "The session was signed out; the socket closes with 4401.",
    "revocation_unknown": "The session could not be checked; the socket closes with 1013.",
    "upgrade_required": "The app's version is below its platform's minimum; the socket closes "
    "with 4426.",
    "contract_unavailable": "A context's frame could not reach the service that handles it "
    "(the socket stays open): send it again later.",
}


class FrameError(Exception):
    """A client frame the gateway cannot use; answered with an error frame, never a crash."""

    def __init__(self, code: str, message: str, frame_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


class Frame(BaseModel):
    """Any frame: a JSON object whose `type` comes first."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# -- from the client ---------------------------------------------------------------------------
class ClientFrame(Frame):
    """A frame the client sends. `id` is the client's, echoed in the answer."""

    # The error code of a frame whose fields do not fit: a context's frames answer as its REST
    # endpoint would (`validation_error`).
    invalid_code: ClassVar[str] = "invalid_frame"

    type: str
    id: FrameId = Field(None, description="The answer carries it back.")


class AuthFrame(ClientFrame):
    """Sign the socket in, for clients that cannot send an Authorization header."""

    type: Literal["auth"]
    token: str = Field(min_length=1, description="The access token.")


class PingFrame(ClientFrame):
    """Is the socket alive? Answered with `pong`, signed in or not."""

    type: Literal["ping"]


class ResumePosition(Frame):
    seq: int = Field(ge=0, description="The last seq seen on the stream.")
    epoch: str | None = Field(None, description="The epoch that seq belongs to.")


class ResumeFrame(ClientFrame):
    """Send what was missed on these streams since the given positions."""

    type: Literal["resume"]
    streams: dict[str, ResumePosition | Annotated[int, Field(ge=0)]] = Field(
        min_length=1, description="Stream → the last seq seen, or {seq, epoch}."
    )


class TypingFrame(ClientFrame):
    """The user is typing in a conversation: a signal to its other members."""

    type: Literal["typing"]
    stream: str


class PresenceFrame(ClientFrame):
    """Who of this conversation's members is online now?"""

    type: Literal["presence"]
    stream: str


GATEWAY_CLIENT_FRAMES: dict[str, type[ClientFrame]] = {
    "auth": AuthFrame,
    "ping": PingFrame,
    "resume": ResumeFrame,
    "typing": TypingFrame,
    "presence": PresenceFrame,
}


# -- from the server ---------------------------------------------------------------------------
class ServerFrame(Frame):
    """A frame the server sends; `render()` is its wire form (fields never given are left out,
    so an optional field absent here is absent on the wire, not null)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    type: str

    def __init__(self, **data: Any) -> None:
        data.setdefault("type", type(self).model_fields["type"].default)
        super().__init__(**data)

    def render(self) -> str:
        return self.model_dump_json(exclude_unset=True)


class ReadyFrame(ServerFrame):
    """The socket is signed in; the streams it is on."""

    type: Literal["ready"] = "ready"
    id: FrameId = None
    user_id: int
    streams: list[str]


class PongFrame(ServerFrame):
    type: Literal["pong"] = "pong"
    id: FrameId = None


class AckFrame(ServerFrame):
    """The answer to a client frame that asked for one; its fields depend on the frame."""

    type: Literal["ack"] = "ack"
    id: FrameId = None


class PresenceAck(AckFrame):
    online: list[int] = Field(description="The members online now.")


class ResumeOutcome(Frame):
    recovered: bool
    seq: int | None = None
    epoch: str | None = None
    reason: Literal["epoch_changed", "history_gone", "too_many", "forbidden"] | None = None


class ResumeAck(AckFrame):
    streams: dict[str, ResumeOutcome]


class ErrorBody(Frame):
    code: str
    message: str


class ErrorFrame(ServerFrame):
    """A frame the server could not use, or a request it refused; the socket stays open unless
    a close follows."""

    type: Literal["error"] = "error"
    id: FrameId = None
    error: ErrorBody


class EventFrame(ServerFrame):
    """Something happened on a stream: numbered by `seq` within its `epoch`, resumable."""

    type: Literal["event"] = "event"
    stream: str
    seq: int
    epoch: str
    event: str
    data: dict[str, Any]
    trace_id: str | None = Field(None, description="The trace that caused it, when traced.")
    span_id: str | None = None


class ResyncRequiredFrame(ServerFrame):
    """A gap that cannot be replayed: refetch the stream's state, then go on from `seq`."""

    type: Literal["resync_required"] = "resync_required"
    stream: str
    epoch: str | None
    seq: int
    reason: Literal["epoch_changed", "history_gone", "too_many"]


class TypingSignal(ServerFrame):
    """Someone is typing on a stream (never stored, never resumed)."""

    type: Literal["typing"] = "typing"
    user_id: int
    stream: str


class PresenceSignal(ServerFrame):
    """A member came online or went offline (never stored, never resumed)."""

    type: Literal["presence"] = "presence"
    user_id: int
    online: bool
    stream: str


GATEWAY_SERVER_FRAMES: tuple[type[ServerFrame], ...] = (
    ReadyFrame,
    PongFrame,
    PresenceAck,
    ResumeAck,
    ErrorFrame,
    EventFrame,
    ResyncRequiredFrame,
    TypingSignal,
    PresenceSignal,
)


# -- parsing -----------------------------------------------------------------------------------
def parse_frame(text: str | None, raw: bytes | None) -> dict[str, Any]:
    """The frame as a JSON object with a string `type`; its model is checked by `validated`."""
    if text is None:
        raise FrameError("binary_not_supported", "Frames are JSON text, not binary.")
    if len(text.encode("utf-8")) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        frame = json.loads(text)
    except ValueError:
        raise FrameError("malformed_json", "The frame is not valid JSON.") from None
    except RecursionError:  # valid JSON, nested deeper than the parser goes
        raise FrameError("invalid_frame", "The frame is nested too deeply.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError(
            "invalid_frame",
            'A frame is a JSON object with a string "type".',
            frame_id_of(frame) if isinstance(frame, dict) else None,
        )
    return frame


def frame_id_of(frame: dict[str, Any]) -> FrameId:
    """The frame's `id` if it is one the answer may carry back (a string or an integer)."""
    value = frame.get("id")
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


F = TypeVar("F", bound=ClientFrame)


def validated(model: type[F], frame: dict[str, Any]) -> F:
    """`frame` as its model, or FrameError naming the first field that does not fit."""
    try:
        return model.model_validate(frame, strict=True)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "frame"
        message = f"{frame['type']}: {where}: {first['msg']}"
        raise FrameError(model.invalid_code, message, frame_id_of(frame)) from None


def error_frame(error: FrameError) -> str:
    return ErrorFrame(
        id=error.frame_id, error=ErrorBody(code=error.code, message=error.message)
    ).render()
