"""This process's sockets by stream, and the fan-out that feeds them.

A frame is serialised once (when it is appended to its stream) and written to every local socket
of the stream by one dispatcher task, in seq order; it never travels as one channel-layer
message per socket. Real mode: each realtime process holds one Redis subscription
(`cleave:rt:fanout`) and receives each stream event once. Embedded mode: the in-memory store
hands frames to the dispatcher directly (from whatever thread appended them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import defaultdict
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from django.conf import settings
from opentelemetry.trace import SpanKind

from cleave.observability import metrics
from cleave.observability.tracing import remote_context, span_from
from cleave.realtime import registry
from cleave.realtime.streams import (
    FANOUT_CHANNEL,
    MemoryStreamStore,
    RedisStreamStore,
    StreamStore,
)

logger = logging.getLogger(__name__)

CONTROL_CHANNEL = "cleave:rt:control"


class Socket(Protocol):
    session_id: str

    async def deliver(self, stream: str, seq: int, frame: str) -> None: ...

    async def close_revoked(self) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.sockets: dict[str, set[Socket]] = defaultdict(set)
        # The reverse index: a closing socket leaves its streams without scanning every stream
        # (a scan per close was quadratic when thousands of sockets closed together).
        self._streams: dict[Socket, set[str]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, str, int, str]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = threading.Lock()
        # bench/realtime: how long handing one frame to every local socket took (server side).
        path = getattr(settings, "CLEAVE_REALTIME_STATS_PATH", None)
        self._stats = open(path, "a") if path else None  # noqa: SIM115 - lives with the process

    # -- sockets -------------------------------------------------------------------------------
    def attach(self, stream: str, socket: Socket) -> None:
        self._ensure_running()
        self.sockets[stream].add(socket)
        self._streams[socket].add(stream)

    def detach(self, socket: Socket) -> None:
        for stream in self._streams.pop(socket, ()):
            self._discard(stream, socket)

    def streams_of(self, socket: Socket) -> list[str]:
        return sorted(self._streams.get(socket, ()))

    def detach_from(self, stream: str, socket: Socket) -> None:
        streams = self._streams.get(socket)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[socket]
        self._discard(stream, socket)

    def _discard(self, stream: str, socket: Socket) -> None:
        members = self.sockets.get(stream)
        if members is not None:
            members.discard(socket)
            if not members:
                del self.sockets[stream]

    def local_count(self) -> int:
        return len(self._streams)

    # -- incoming frames -----------------------------------------------------------------------
    def submit(self, kind: str, stream: str, seq: int, frame: str) -> None:
        """Queue a frame (kind "event") or a control message for the dispatcher; any thread."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            return  # no socket ever connected to this process: nobody to deliver to
        item = (kind, stream, seq, frame)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            queue.put_nowait(item)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._tasks:
            return
        with self._lock:
            self._loop = loop
            self._queue = asyncio.Queue()
            self._tasks = [loop.create_task(self._dispatch_forever(), name="cleave-rt-dispatch")]
            if isinstance(store(), RedisStreamStore):
                self._tasks.append(
                    loop.create_task(self._listen_forever(), name="cleave-rt-listen")
                )

    async def _dispatch_forever(self) -> None:
        queue = self._queue
        if queue is None:
            return
        while True:
            kind, stream, seq, frame = await queue.get()
            try:
                if kind == "event":
                    started = time.perf_counter()
                    sockets = list(self.sockets.get(stream, ()))
                    with _fanout_span(stream, frame, len(sockets)):
                        for socket in sockets:
                            await socket.deliver(stream, seq, frame)
                    metrics.fanout_duration.labels(_family(stream)).observe(
                        time.perf_counter() - started
                    )
                    # Counted once per fan-out, not per socket: the hot loop stays lean.
                    kind = "event" if seq else _signal_type(frame)
                    metrics.frames.labels("out", kind).inc(len(sockets))
                    if self._stats is not None:
                        elapsed_ms = (time.perf_counter() - started) * 1000
                        self._stats.write(f"{len(sockets)} {elapsed_ms:.3f}\n")
                        self._stats.flush()
                elif kind == "revoke":
                    for socket in {s for members in self.sockets.values() for s in members}:
                        if socket.session_id == stream:
                            await socket.close_revoked()
            except Exception:
                logger.exception("realtime dispatch failed for %s", stream)

    async def _listen_forever(self) -> None:
        """One Redis subscription per process; reconnects on its own after an outage."""
        from cleave.realtime.connections import async_client

        # No socket_timeout: a subscription blocks on reads by design (redis-py's default
        # timeout would break it every few seconds, channels_redis issue 422). One connection
        # is all a subscription holds; the second covers a reconnect while the old one closes.
        url = settings.CONFIG.redis_url
        if not url:
            return  # embedded mode: one process, nothing to subscribe to
        client = async_client(url, size=2, socket_timeout=None, health_check_interval=30)
        while True:
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(FANOUT_CHANNEL, CONTROL_CHANNEL)
                    async for message in pubsub.listen():
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime subscription lost; reconnecting")
                await asyncio.sleep(1)

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data: bytes = message["data"]
        if message["channel"] == CONTROL_CHANNEL.encode():
            self.submit("revoke", data.decode(), 0, "")
            return
        stream, seq, frame = data.decode().split("\n", 2)
        self.submit("event", stream, int(seq), frame)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


hub = Hub()
_store: StreamStore | None = None
_store_lock = threading.Lock()


def store() -> StreamStore:
    """This process's stream store: Redis in real mode, memory in embedded mode."""
    global _store  # one per process, built on first use
    if _store is None:
        with _store_lock:
            if _store is None:
                history = settings.CLEAVE_REALTIME_HISTORY
                seconds = settings.CLEAVE_REALTIME_HISTORY_SECONDS
                if settings.CONFIG.redis_url:
                    _store = RedisStreamStore(
                        settings.CONFIG.redis_url, history=history, history_seconds=seconds
                    )
                else:
                    memory = MemoryStreamStore(history=history, history_seconds=seconds)
                    memory.on_append.append(
                        lambda stream, seq, frame: hub.submit("event", stream, seq, frame)
                    )
                    _store = memory
    return _store


def _family(stream: str) -> str:
    family = stream.split(":", 1)[0]
    known = family == "user" or family in registry.stream_families
    return family if known or family in registry.remote_families else "other"


def _signal_type(frame: str) -> str:
    # Signals (typing, presence) are small: read the type without parsing the whole frame.
    for kind in ("typing", "presence"):
        if f'"type": "{kind}"' in frame[:40] or f'"type":"{kind}"' in frame[:40]:
            return kind
    return "other"


def _fanout_span(stream: str, frame: str, sockets: int) -> AbstractContextManager[object]:
    """A span continuing the trace that pushed the frame (its ids ride in the frame)."""
    if '"trace_id"' not in frame:  # not traced: no JSON parse on the hot path
        return nullcontext()
    ids = json.loads(frame)
    parent = remote_context(str(ids.get("trace_id")), str(ids.get("span_id")))
    return span_from(
        f"fanout {_family(stream)}",
        parent,
        kind=SpanKind.PRODUCER,
        attributes={"cleave.stream.family": _family(stream), "cleave.sockets": sockets},
    )


def push(stream: str, event: str, data: dict[str, Any]) -> None:
    """Append an event to `stream` and deliver it to every socket on it, in any process.

    Call it after commit (`transaction.on_commit`): a frame is a fact the client may act on.
    If the stream store cannot be reached, the commit stands (the caller's request succeeds)
    and the frame is lost: the stream gets a new epoch as soon as the store answers again, so
    sockets and resumes get `resync_required` rather than a silent gap. `data` must fit the
    payload model registered for `event` (a pydantic ValidationError otherwise: a bug, never
    a frame the AsyncAPI document does not describe).
    """
    registry.checked_event_data(event, data)
    try:
        store().append(stream, event, data)
    except Exception:
        logger.warning("push to %s failed; it will get a new epoch", stream, exc_info=True)
        _lost_frames.add(stream)


def stream_forget(stream: str) -> None:
    """Drop what `stream` retains for resume (its frames, seq and epoch), in every process: a
    deleted account's frames must not outlive it in the history. Call it after commit. A
    socket that resumes from before gets the stream's history as gone (resync), not its frames.
    """
    store().forget(stream)


class _LostFrames:
    """Streams that missed a frame, given a new epoch once the store is back (a thread)."""

    def __init__(self) -> None:
        self._streams: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, stream: str) -> None:
        with self._lock:
            self._streams.add(stream)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._repair, name="cleave-rt-epochs", daemon=True
                )
                self._thread.start()

    def _repair(self) -> None:
        while True:
            time.sleep(1.0)
            with self._lock:
                pending = sorted(self._streams)
            streams = store()
            for stream in pending:
                try:
                    if isinstance(streams, RedisStreamStore):
                        streams.new_epoch(stream)
                except Exception:
                    break  # still unreachable: try again in a second
                with self._lock:
                    self._streams.discard(stream)
            with self._lock:
                if not self._streams:
                    self._thread = None
                    return


_lost_frames = _LostFrames()


def close_session(session_id: str) -> None:
    """Close every socket of a revoked session, in every realtime process."""
    streams = store()
    if isinstance(streams, RedisStreamStore):
        streams.redis.publish(CONTROL_CHANNEL, session_id)
    else:
        hub.submit("revoke", session_id, 0, "")
