"""Resume: what a socket missed on its streams, as its user may see it now.

`Resuming` is the resume half of the gateway's consumer (`consumers.py` holds the connection,
authentication and live frames): the clients' positions parsed and paid for, the history read
off the loop in one thread hop and resolved by the stream families, then written through the
socket's one membership gate, the user's own joins and leaves followed first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings

from cleave.auth.principal import Principal
from cleave.observability import metrics
from cleave.realtime import registry
from cleave.realtime.frames import (
    FrameError,
    ResumeAck,
    ResumeFrame,
    ResumeOutcome,
    ResumePosition,
    ResyncRequiredFrame,
)
from cleave.realtime.hub import store
from cleave.realtime.registry import user_stream
from cleave.realtime.streams import Positions, Replay

# A resume costs one frame plus one for every this many streams it names (finding 9 of the
# adversarial probe: one frame naming 3,000 streams held a thread for 2.2 s).
RESUME_STREAMS_PER_FRAME = 10


class Resuming:
    """The consumer's resume protocol; what it uses of the consumer is declared here."""

    principal: Principal | None
    cursors: dict[str, int]
    epochs: dict[str, str]
    resuming: set[str]
    held: list[tuple[str, int, str]]

    if TYPE_CHECKING:  # the consumer's own, declared for the type checker only

        async def send(
            self,
            text_data: str | None = None,
            bytes_data: bytes | None = None,
            close: bool = False,
        ) -> None: ...
        async def deliver(self, stream: str, seq: int, frame: str) -> None: ...
        async def _over_rate(self, cost: int = 1) -> bool: ...
        def _on(self, stream: str) -> bool: ...
        def _apply(self, stream: str, joined: bool) -> None: ...

    def _follow_replayed(self, entries: list[tuple[int, str]], after: int) -> None:
        """Joins and leaves in the user's own replayed history, past what this socket already
        followed live (`after`): only each stream's last change counts, applied at once, so a
        socket is never on a stream it has since left, not even between two replayed frames."""
        last: dict[str, bool] = {}
        for seq, frame in entries:
            change = membership_change(frame) if seq > after else None
            if change is not None:
                last[change[0]] = change[1]
        for stream, joined in last.items():
            self._apply(stream, joined)

    async def _resume(self, frame: ResumeFrame) -> None:
        """`{"type": "resume", "id", "streams": {stream: seq | {"seq", "epoch"}}}`.

        Bounded and paid for before any work: at most CLEAVE_REALTIME_RESUME_MAX_STREAMS
        streams, each tenth of them charged as one more frame to the socket's rate budget;
        membership is one query per stream family, the store one round trip."""
        frame_id, asked = frame.id, frame.streams
        most = settings.CLEAVE_REALTIME_RESUME_MAX_STREAMS
        if len(asked) > most:
            raise FrameError(
                "too_many_streams", f"A resume names at most {most} streams.", frame_id
            )
        positions: Positions = {
            stream: (p.seq, p.epoch) if isinstance(p, ResumePosition) else (p, None)
            for stream, p in asked.items()
        }
        if await self._over_rate(cost=(len(positions) - 1) // RESUME_STREAMS_PER_FRAME):
            metrics.frames.labels("in", "rate_limited").inc()
            return
        principal = self.principal
        if principal is None:  # handle() let no resume through before auth; kept for types
            raise FrameError("unauthorized", "Send an auth frame first.", frame_id)
        own = user_stream(principal.user_id)
        followed = self.cursors.get(own, 0)
        self.resuming = set(positions)  # live frames wait until the replay is written
        try:
            replays, visible = await sync_to_async(read_history, thread_sensitive=False)(
                principal, positions
            )
            # The user's own stream first: the joins and leaves it replays gate the others.
            order = sorted(positions, key=lambda stream: stream != own)
            answer = {
                stream: await self._replay(stream, positions[stream], replays, visible, followed)
                for stream in order
            }
        finally:
            self.resuming, held, self.held = set(), self.held, []
        for stream, live_seq, live in held:
            await self.deliver(stream, live_seq, live)
        outcomes = {stream: ResumeOutcome.model_validate(entry) for stream, entry in answer.items()}
        await self.send(text_data=ResumeAck(id=frame_id, streams=outcomes).render())

    async def _replay(
        self,
        stream: str,
        position: tuple[int, str | None],
        replays: dict[str, Replay],
        visible: dict[str, list[str] | None],
        followed: int,
    ) -> dict[str, Any]:
        """Write one stream's replay through the gate; the ack's entry for it."""
        replay, frames = replays.get(stream), visible.get(stream)
        if replay is None or frames is None:
            return {"recovered": False, "reason": "forbidden"}
        if self.principal is not None and stream == user_stream(self.principal.user_id):
            self._follow_replayed(replay.entries, followed)
        if not self._on(stream):  # left while the history was being read
            return {"recovered": False, "reason": "forbidden"}
        metrics.resumes.labels("recovered" if replay.recovered else "resync_required").inc()
        if replay.recovered:
            for missed in frames:
                await self.send(text_data=missed)
        else:
            gap = {"stream": stream, "epoch": replay.epoch, "seq": replay.seq}
            resync = ResyncRequiredFrame.model_validate({**gap, "reason": replay.reason})
            await self.send(text_data=resync.render())
        seq = position[0]
        self.cursors[stream] = max(replay.seq, seq if replay.recovered else replay.seq)
        if replay.epoch:
            self.epochs[stream] = replay.epoch
        return {
            "recovered": replay.recovered,
            "seq": self.cursors[stream],
            "epoch": replay.epoch,
            **({"reason": replay.reason} if replay.reason else {}),
        }


def read_history(
    principal: Principal, positions: Positions
) -> tuple[dict[str, Replay], dict[str, list[str] | None]]:
    """Off the loop, in one thread hop: which streams the principal may read (one query per
    family), their history (one round trip), then that history as the principal may see it now.
    Membership is asked again after the read, so it covers every frame let through."""
    allowed = registry.readable(principal, list(positions))
    wanted = {stream: position for stream, position in positions.items() if stream in allowed}
    if not wanted:
        return {}, {}
    replays = store().since_many(wanted, cap=settings.CLEAVE_REALTIME_RESUME_CAP)
    history = {stream: replay.entries for stream, replay in replays.items() if replay.recovered}
    visible: dict[str, list[str] | None] = dict(registry.replay(principal, history))
    unrecovered = [stream for stream, replay in replays.items() if not replay.recovered]
    if unrecovered:  # nothing to show but a resync, if the principal may still read them
        still = registry.readable(principal, unrecovered)
        visible.update({stream: [] if stream in still else None for stream in unrecovered})
    return replays, visible


def membership_change(frame: str) -> tuple[str, bool] | None:
    """(stream, joined?) of a `stream.joined` / `stream.left` frame on a user's own stream."""
    if registry.JOINED not in frame and registry.LEFT not in frame:
        return None
    event = json.loads(frame)
    stream = event.get("data", {}).get("stream")
    if not isinstance(stream, str) or event.get("event") not in (registry.JOINED, registry.LEFT):
        return None
    return stream, event.get("event") == registry.JOINED
