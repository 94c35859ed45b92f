"""The `/ws/v1` endpoint: authenticate, keep the device's streams flowing, resume after gaps.

Close codes: `cleave.realtime.frames.CloseCode` (also in docs/api.md and the AsyncAPI
document). Frames in and out are the typed models of `cleave.realtime.frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from opentelemetry.trace import Link, SpanKind

from cleave.auth.principal import Principal, acting_as
from cleave.auth.tokens import bearer_token
from cleave.errors import CleaveError
from cleave.observability import metrics
from cleave.observability.tracing import connection_span, tracer
from cleave.realtime import admission, registry, remote
from cleave.realtime.frames import (
    AuthFrame,
    ClientFrame,
    CloseCode,
    FrameError,
    PingFrame,
    PongFrame,
    PresenceAck,
    PresenceFrame,
    PresenceSignal,
    ReadyFrame,
    ResumeFrame,
    ResyncRequiredFrame,
    TypingFrame,
    TypingSignal,
    error_frame,
    frame_id_of,
    parse_frame,
    validated,
)
from cleave.realtime.hub import hub
from cleave.realtime.presence import grace_seconds, presence, signal
from cleave.realtime.registry import user_stream
from cleave.realtime.resume import Resuming, membership_change
from cleave.realtime.streams import epoch_of

CLOSE_UNAUTHORIZED = CloseCode.UNAUTHORIZED
CLOSE_AUTH_TIMEOUT = CloseCode.AUTH_TIMEOUT
CLOSE_RATE_LIMITED = CloseCode.RATE_LIMITED
CLOSE_UPGRADE_REQUIRED = CloseCode.UPGRADE_REQUIRED
# RFC 6455's "try again later": an app that reads 4401 as "signed out" must not sign its user
# out because a revocation check could not be answered (503 `revocation_unknown`).
CLOSE_TRY_AGAIN = CloseCode.TRY_AGAIN_LATER


async def _upgrade_required(scope: dict[str, Any]) -> bool:
    """Below the app-version policy's minimum (cleave.app_versions); only a socket whose
    handshake names its version pays the (at most once a second) policy read."""
    from cleave.app_versions.policy import handshake_client, status_of

    client = handshake_client(scope.get("headers", []))
    if client is None:
        return False
    status, _ = await sync_to_async(status_of, thread_sensitive=False)(client)
    return status == "update_required"


class GatewayConsumer(Resuming, AsyncWebsocketConsumer):
    # No channel-layer inbox per socket: frames arrive through the hub (one subscription per
    # process), which measured ~10x faster than group_send and halves a socket's memory.
    # No channel layer is configured at all (settings.py).
    channel_layer_alias = "cleave-gateway-sockets-use-the-hub"
    principal: Principal | None = None
    session_id = ""
    presence_id = ""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels closes stale database connections of its one sync thread before every
        message: a serial thread hop per connect and per frame (the longest queue of a
        reconnect storm). This consumer never uses that thread; its database work runs in
        executor threads that hand their connections back themselves (admission)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.cursors: dict[str, int] = {}
        self.epochs: dict[str, str] = {}  # the epoch of the last frame sent on each stream
        # Streams being resumed: their live frames wait in `held`, in arrival order across
        # streams (a `stream.left` on the user's stream must still precede what follows it).
        self.resuming: set[str] = set()
        self.held: list[tuple[str, int, str]] = []
        self.window = (0, 0)  # (second, frames in it)
        self.auth_deadline: asyncio.Task[None] | None = None
        # Until "ready" is sent, frames from the hub wait here: "ready" is always the first.
        self.before_ready: list[tuple[str, int, str]] | None = []
        self.connection_span = connection_span(self.scope)
        metrics.sockets_open.inc()
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if {"token", "access_token", "authorization"} & set(query):
            await self._refuse("token_in_url", "Send the token in a header or an auth frame.")
            return
        if await _upgrade_required(self.scope):
            await self._refuse(
                "upgrade_required",
                "This version of the app is no longer supported; please update.",
                close=CLOSE_UPGRADE_REQUIRED,
            )
            return
        header = dict(self.scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        token = bearer_token(header)
        if token:
            await self._authenticate(token, frame_id=None)
        else:
            self.auth_deadline = asyncio.create_task(self._expire_unauthenticated())

    async def disconnect(self, code: int) -> None:
        metrics.sockets_open.dec()
        self.connection_span.set_attribute("cleave.ws.close_code", code)
        self.connection_span.end()
        if self.auth_deadline is not None:
            self.auth_deadline.cancel()
        streams = hub.streams_of(self)
        hub.detach(self)
        if self.principal is not None and self.presence_id:
            user_id = self.principal.user_id
            await presence.disconnected(user_id, self.presence_id)
            # Offline only if no other socket of the user shows up within the grace period.
            asyncio.get_running_loop().create_task(_announce_offline_later(user_id, streams))

    # -- authentication ------------------------------------------------------------------------
    async def _expire_unauthenticated(self) -> None:
        await asyncio.sleep(settings.CLEAVE_REALTIME_AUTH_SECONDS)
        if self.principal is None:
            await self.send(text_data=error_frame(FrameError("auth_timeout", "No auth frame.")))
            await self.close(code=CLOSE_AUTH_TIMEOUT)

    async def _authenticate(self, token: str, *, frame_id: Any) -> None:
        # Checked with the other sockets connecting in the same moment (one thread hop).
        try:
            principal = await admission.authenticate(token)
        except CleaveError as error:
            close = CLOSE_TRY_AGAIN if error.status == 503 else CLOSE_UNAUTHORIZED
            await self._refuse(error.code, error.message, frame_id, close=close)
            return
        if self.auth_deadline is not None:
            self.auth_deadline.cancel()
        self.principal, self.session_id = principal, principal.session_id
        # The user's own stream first: a `stream.left` pushed while the initial streams are
        # being read is then held (before_ready) and followed, never missed.
        own = user_stream(principal.user_id)
        hub.attach(own, self)
        streams = [own]
        # Read with the other sockets connecting in the same moment (one query for all).
        streams += await admission.initial_streams(principal)
        for stream in streams:
            hub.attach(stream, self)
        self.presence_id, came_online = await presence.connected(principal.user_id)
        if came_online:
            await _announce(principal.user_id, streams, online=True)
        ready = ReadyFrame(id=frame_id, user_id=principal.user_id, streams=streams)
        await self.send(text_data=ready.render())
        await self._release_held()

    async def _release_held(self) -> None:
        """Frames the hub handed over while this socket was getting ready follow "ready"."""
        held, self.before_ready = self.before_ready, None
        for item in held or ():
            await self.deliver(*item)

    async def _refuse(
        self, code: str, message: str, frame_id: Any = None, *, close: int = CLOSE_UNAUTHORIZED
    ) -> None:
        await self.send(text_data=error_frame(FrameError(code, message, frame_id)))
        await self.close(code=close)

    async def close_revoked(self) -> None:
        await self._refuse("session_revoked", "This session was signed out.")

    # -- frames from the client ----------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if await self._over_rate():
            metrics.frames.labels("in", "rate_limited").inc()
            return
        try:
            frame = parse_frame(text_data, bytes_data)
        except FrameError as error:
            metrics.frames.labels("in", "invalid").inc()
            await self.send(text_data=error_frame(error))
            return
        kind = metrics.frame_type(frame["type"])
        metrics.frames.labels("in", kind).inc()
        # Each frame is a trace of its own (a message.send reaches contracts, the outbox and
        # other sockets), linked to the socket's connection span.
        with tracer.start_as_current_span(
            f"ws frame {kind}",
            kind=SpanKind.SERVER,
            links=[Link(self.connection_span.get_span_context())],
            attributes={"cleave.ws.frame": kind},
        ):
            try:
                await self.handle(frame)
            except FrameError as error:
                await self.send(text_data=error_frame(error))

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        if text_data is not None:
            match = _FRAME_TYPE.match(text_data)
            metrics.frames.labels("out", metrics.frame_type(match and match.group(1))).inc()
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def _over_rate(self, cost: int = 1) -> bool:
        """Charge `cost` frames' worth of work to this second's budget, before doing it."""
        limit = settings.CLEAVE_REALTIME_FRAMES_PER_SECOND
        second, count = self.window
        now = int(time.monotonic())
        count = count + cost if now == second else cost
        self.window = (now, count)
        if count > 3 * limit:
            await self.close(code=CLOSE_RATE_LIMITED)
            return True
        if count > limit:
            error = FrameError("rate_limited", f"At most {limit} frames a second.")
            await self.send(text_data=error_frame(error))
            return True
        return False

    async def handle(self, frame: dict[str, Any]) -> None:
        """Each frame is checked against its type's model before anything acts on it (a
        frame before auth is refused as such first, whatever its fields)."""
        kind, frame_id = frame["type"], frame_id_of(frame)
        if kind == "ping":
            await self.send(text_data=PongFrame(id=validated(PingFrame, frame).id).render())
        elif kind == "auth":
            if self.principal is not None:
                raise FrameError("already_authenticated", "This socket is signed in.", frame_id)
            auth = validated(AuthFrame, frame)
            await self._authenticate(auth.token, frame_id=auth.id)
        elif self.principal is None:
            raise FrameError("unauthorized", "Send an auth frame first.", frame_id)
        elif kind == "resume":
            await self._resume(validated(ResumeFrame, frame))
        elif kind == "typing":
            await self._typing(validated(TypingFrame, frame))
        elif kind == "presence":
            await self._presence(validated(PresenceFrame, frame))
        elif kind in registry.frame_types:
            declared = registry.frame_types[kind]
            await self._delegate(declared, validated(declared.frame, frame))
        elif kind in registry.remote_frames:
            await self._delegate_remote(frame)
        else:
            raise FrameError("unknown_type", f"Unknown frame type {kind!r}.", frame_id)

    def _joined(self, stream: Any, frame_id: Any) -> str:
        """A stream with members (a conversation) that this socket is on: typing and presence
        never go to broadcast streams (`flags`) or to streams the user has left."""
        if not isinstance(stream, str) or not self._on(stream) or not registry.has_members(stream):
            raise FrameError(
                "stream_not_joined", "Name a conversation stream this socket is on.", frame_id
            )
        return stream

    def _on(self, stream: str) -> bool:
        """The one membership gate every frame passes, live or replayed: the user's own stream,
        or a stream this socket is attached to (joined at connect or by `stream.joined`, left
        by `stream.left`)."""
        own = self.principal is not None and stream == user_stream(self.principal.user_id)
        return own or self in hub.sockets.get(stream, ())

    async def _typing(self, frame: TypingFrame) -> None:
        """`{"type": "typing", "stream": "conv:42"}`: others on the stream see it; not stored."""
        stream = self._joined(frame.stream, frame.id)
        assert self.principal is not None  # noqa: S101 - handle() checked it
        await signal(TypingSignal(user_id=self.principal.user_id, stream=stream))

    async def _presence(self, frame: PresenceFrame) -> None:
        """`{"type": "presence", "id", "stream": "conv:42"}` → who of its members is online."""
        stream = self._joined(frame.stream, frame.id)
        members = await sync_to_async(registry.stream_members, thread_sensitive=False)(stream)
        online = await presence.online_among(members)
        await self.send(text_data=PresenceAck(id=frame.id, online=online).render())

    async def _delegate(self, declared: registry.FrameType, frame: ClientFrame) -> None:
        """A context's frame type: its handler runs off the loop; the answer is its ack."""
        if self.principal is None:  # frames are read only after authentication; never here
            raise FrameError("unauthorized", "Authenticate first.", frame.id)
        try:
            ack = await sync_to_async(_handle_as, thread_sensitive=False)(
                declared.handler, self.principal, frame
            )
        except CleaveError as error:
            raise FrameError(error.code, error.message, frame.id) from None
        if not isinstance(ack, declared.ack):
            raise TypeError(f"{frame.type} answered {type(ack).__name__}, not {declared.ack}")
        await self.send(text_data=ack.model_copy(update={"id": frame.id}).render())

    async def _delegate_remote(self, frame: dict[str, Any]) -> None:
        """A frame type of a context hosted elsewhere: its service validates and handles it
        (cleave.realtime.remote); its ack, or its error, comes back as the client's answer."""
        if self.principal is None:  # frames are read only after authentication; never here
            raise FrameError("unauthorized", "Authenticate first.", frame_id_of(frame))
        answer = await sync_to_async(remote.handle_frame, thread_sensitive=False)(
            self.principal, frame
        )
        await self.send(text_data=answer)

    # -- streams -------------------------------------------------------------------------------
    async def deliver(self, stream: str, seq: int, frame: str) -> None:
        """Called by the hub for each live event: skip what was sent, hold during a resume.
        Signals (seq 0: typing, presence) are never stored, so they pass straight through."""
        if self.before_ready is not None:
            self.before_ready.append((stream, seq, frame))
            return
        if not self._on(stream):
            return  # held while the socket left the stream (removed from a conversation)
        if seq == 0:
            with contextlib.suppress(Exception):
                await self.base_send({"type": "websocket.send", "text": frame})
            return
        if stream in self.resuming:
            self.held.append((stream, seq, frame))
            return
        epoch = epoch_of(frame)
        known = self.epochs.get(stream)
        if known is not None and epoch != known:
            # The stream's history was lost (its store restarted empty): seqs start again, and
            # whatever this socket missed in between cannot be replayed. Say so, never skip.
            self.cursors[stream] = 0
            resync = ResyncRequiredFrame(
                stream=stream, epoch=epoch, seq=seq - 1, reason="epoch_changed"
            )
            await self.send(text_data=resync.render())
            metrics.resumes.labels("resync_required").inc()
        self.epochs[stream] = epoch
        if seq <= self.cursors.get(stream, 0):
            return
        self.cursors[stream] = seq
        if self.principal is not None and stream == user_stream(self.principal.user_id):
            self._follow(frame)
        with contextlib.suppress(Exception):  # a socket closing meanwhile is not an error
            # Straight to the ASGI server: the frame is already serialised, once, for everyone.
            await self.base_send({"type": "websocket.send", "text": frame})

    def _follow(self, frame: str) -> None:
        """Join or leave streams as the user's own stream says (added to a conversation…)."""
        change = membership_change(frame)
        if change is not None:
            self._apply(*change)

    def _apply(self, stream: str, joined: bool) -> None:
        if joined:
            hub.attach(stream, self)
        else:
            hub.detach_from(stream, self)


async def _announce(user_id: int, streams: list[str], *, online: bool) -> None:
    """Presence goes to streams with members (conversations), not to broadcast streams."""
    for stream in streams:
        if registry.has_members(stream):
            await signal(PresenceSignal(user_id=user_id, online=online, stream=stream))


async def _announce_offline_later(user_id: int, streams: list[str]) -> None:
    await asyncio.sleep(grace_seconds() + 0.5)
    if not await presence.online(user_id):
        await _announce(user_id, streams, online=False)


def _handle_as(handler: registry.FrameHandler, principal: Principal, frame: Any) -> Any:
    # The handler's contract calls carry the socket's user, as an HTTP request's would.
    with acting_as(principal):
        return handler(principal, frame)


_FRAME_TYPE = re.compile(r'\{"type": ?"([a-z_.]{1,32})"')
