"""Streams: per-stream monotonic `seq`, an `epoch`, and retained history for resume.

Every event pushed to a stream (`user:42`, `conv:7`) gets the next `seq`; the stream's `epoch`
names one unbroken history, and changes when that history is lost (Redis flushed, or the
process restarted in embedded mode), so a client never mistakes a reset for "nothing missed".
History is bounded by count (`CLEAVE_REALTIME_HISTORY`) and age (`…_HISTORY_SECONDS`).

Real mode keeps streams in Redis: one Lua script assigns the seq, appends to a capped Redis
Stream and publishes the frame for live fan-out, atomically, so live order is seq order.
Embedded mode keeps them in memory.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from cleave.observability.tracing import current_ids
from cleave.realtime.frames import EventFrame

FANOUT_CHANNEL = "cleave:rt:fanout"


@dataclass(frozen=True)
class Replay:
    """What a client missed on one stream since `seq`, or why it cannot be replayed."""

    entries: list[tuple[int, str]]  # (seq, frame) the client missed, oldest first
    recovered: bool
    epoch: str | None
    seq: int
    reason: str | None = None  # "epoch_changed", "history_gone", "too_many"


# stream → (the client's last seq, the epoch it was in, if it says)
Positions = dict[str, tuple[int, str | None]]


class StreamStore(Protocol):
    def append(self, stream: str, event: str, data: dict[str, Any]) -> str: ...

    def since(self, stream: str, seq: int, epoch: str | None, *, cap: int) -> Replay: ...

    def since_many(self, positions: Positions, *, cap: int) -> dict[str, Replay]: ...

    def forget(self, stream: str) -> None: ...


def _frame(stream: str, seq: int, epoch: str, event: str, data: dict[str, Any]) -> str:
    ids = current_ids()
    if ids is None:
        return EventFrame(stream=stream, seq=seq, epoch=epoch, event=event, data=data).render()
    # The trace that caused this event: a bug report can quote it, and the fan-out in the
    # realtime process continues it.
    trace_id, span_id = ids
    return EventFrame(
        stream=stream,
        seq=seq,
        epoch=epoch,
        event=event,
        data=data,
        trace_id=trace_id,
        span_id=span_id,
    ).render()


def epoch_of(frame: str) -> str:
    """The "epoch" of an event frame, read without parsing it (`_frame` writes it)."""
    start = frame.find('"epoch":"')
    if start < 0:
        return ""
    start += len('"epoch":"')
    return frame[start : frame.find('"', start)]


def _replay(
    entries: list[tuple[int, str]], seq: int, epoch: str | None,
    current_epoch: str | None, last_seq: int, first_kept: int | None, cap: int,
) -> Replay:  # fmt: skip
    """`entries` are (seq, frame) after the client's `seq`; `first_kept` is the oldest seq
    still retained (None when nothing is)."""
    if current_epoch is None:
        # Nothing is known of this stream: fine for a client that saw nothing, else a reset.
        ok = seq == 0
        return Replay([], ok, None, 0, None if ok else "history_gone")
    if epoch is not None and epoch != current_epoch:
        return Replay([], False, current_epoch, last_seq, "epoch_changed")
    if seq > last_seq:
        return Replay([], False, current_epoch, last_seq, "epoch_changed")
    if seq < last_seq and (first_kept is None or first_kept > seq + 1):
        return Replay([], False, current_epoch, last_seq, "history_gone")
    missed = [(s, frame) for s, frame in entries if s > seq]
    if len(missed) > cap:
        return Replay([], False, current_epoch, last_seq, "too_many")
    return Replay(missed, True, current_epoch, last_seq)


class MemoryStreamStore:
    """Embedded mode: streams in this process's memory (a restart is a new epoch)."""

    def __init__(self, *, history: int, history_seconds: float) -> None:
        self._history = history
        self._history_seconds = history_seconds
        self._streams: dict[str, tuple[str, int, deque[tuple[int, float, str]]]] = {}
        self._lock = threading.Lock()
        self.on_append: list[Any] = []  # callables(stream, seq, frame): the local fan-out

    def append(self, stream: str, event: str, data: dict[str, Any]) -> str:
        with self._lock:
            epoch, seq, log = self._streams.get(stream) or (
                secrets.token_hex(4),
                0,
                deque(maxlen=self._history),
            )
            seq += 1
            frame = _frame(stream, seq, epoch, event, data)
            log.append((seq, time.monotonic(), frame))
            self._streams[stream] = (epoch, seq, log)
        for deliver in self.on_append:
            deliver(stream, seq, frame)
        return frame

    def since(self, stream: str, seq: int, epoch: str | None, *, cap: int) -> Replay:
        with self._lock:
            known = self._streams.get(stream)
            if known is None:
                return _replay([], seq, epoch, None, 0, None, cap)
            current_epoch, last_seq, log = known
            horizon = time.monotonic() - self._history_seconds
            kept = [(s, frame) for s, at, frame in log if at >= horizon]
        first_kept = kept[0][0] if kept else None
        missed = [(s, frame) for s, frame in kept if s > seq]
        return _replay(missed, seq, epoch, current_epoch, last_seq, first_kept, cap)

    def since_many(self, positions: Positions, *, cap: int) -> dict[str, Replay]:
        return {
            stream: self.since(stream, seq, epoch, cap=cap)
            for stream, (seq, epoch) in positions.items()
        }

    def forget(self, stream: str) -> None:
        with self._lock:
            self._streams.pop(stream, None)


_APPEND = """
local seq = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if not epoch or seq == 1 then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
local frame = string.format(ARGV[2], seq, epoch)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], seq .. '-1', 'f', frame)
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[4]) end
redis.call('PUBLISH', ARGV[5], ARGV[6] .. '\\n' .. seq .. '\\n' .. frame)
return frame
"""


class RedisStreamStore:
    """Real mode: `rt:{stream}:seq`, `…:epoch` and a capped Redis Stream `…:log` per stream."""

    def __init__(self, url: str, *, history: int, history_seconds: float) -> None:
        from cleave.realtime.connections import sync_client

        # This process's one synchronous pool for realtime (also used by presence reads from
        # tasks and by closing revoked sessions): sized, and waiting rather than raising.
        self.redis = sync_client(url)
        self._append = self.redis.register_script(_APPEND)
        self._history = history
        self._ttl = int(history_seconds)

    @staticmethod
    def _keys(stream: str) -> list[str]:
        base = f"cleave:rt:{{{stream}}}"
        return [f"{base}:seq", f"{base}:epoch", f"{base}:log"]

    def append(self, stream: str, event: str, data: dict[str, Any]) -> str:
        # The frame is formatted inside the script, once the seq and epoch are known.
        template = _frame(stream, 0, "EPOCH", event, data).replace("%", "%%")
        template = template.replace('"seq":0', '"seq":%d', 1).replace(
            '"epoch":"EPOCH"', '"epoch":"%s"', 1
        )
        frame: bytes = self._append(
            keys=self._keys(stream),
            args=[secrets.token_hex(4), template, self._history, self._ttl, FANOUT_CHANNEL, stream],
        )
        return frame.decode()

    def new_epoch(self, stream: str) -> None:
        """Start a new history for `stream`: a frame it should hold was lost, so every socket
        and resume that knew the old epoch is told to resync instead of missing it silently."""
        _, epoch_key, _ = self._keys(stream)
        self.redis.set(epoch_key, secrets.token_hex(4), ex=self._ttl)

    def forget(self, stream: str) -> None:
        """Drop the stream's history, seq and epoch: a later append starts a new history."""
        self.redis.delete(*self._keys(stream))

    def since(self, stream: str, seq: int, epoch: str | None, *, cap: int) -> Replay:
        return self.since_many({stream: (seq, epoch)}, cap=cap)[stream]

    def since_many(self, positions: Positions, *, cap: int) -> dict[str, Replay]:
        """Every stream's replay in one round trip (a resume names up to a hundred)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for stream, (seq, _) in positions.items():
                seq_key, epoch_key, log_key = self._keys(stream)
                pipe.get(seq_key)
                pipe.get(epoch_key)
                pipe.xrange(log_key, min=f"{seq + 1}-0", max="+", count=cap + 1)
                pipe.xrange(log_key, count=1)
            answers = pipe.execute()
        replays: dict[str, Replay] = {}
        for index, (stream, (seq, epoch)) in enumerate(positions.items()):
            last, current, missed, first = answers[4 * index : 4 * index + 4]
            if current is None:
                replays[stream] = _replay([], seq, epoch, None, 0, None, cap)
                continue
            entries = [(_seq_of(entry_id), fields[b"f"].decode()) for entry_id, fields in missed]
            first_kept = _seq_of(first[0][0]) if first else None
            replays[stream] = _replay(
                entries, seq, epoch, current.decode(), int(last or 0), first_kept, cap
            )
        return replays


def _seq_of(entry_id: bytes) -> int:
    return int(entry_id.split(b"-")[0])
