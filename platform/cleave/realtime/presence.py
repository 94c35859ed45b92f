"""Presence (who is online, with a grace period) and ephemeral signals (typing).

Eventually consistent and meant for conversations, not huge rooms. Each socket has an entry in
its user's presence set (`cleave:rt:presence:{user}` in Redis, a dict in embedded mode) whose
expiry this process refreshes every `REFRESH_SECONDS` for all its sockets at once; a closing
socket's entry is kept `CLEAVE_REALTIME_PRESENCE_GRACE_SECONDS` (15 s) more, so a phone changing
networks does not flicker offline. Signals are published on the fan-out channel with seq 0:
delivered live, never stored, never resumed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from django.conf import settings

from cleave.realtime.batching import MicroBatcher
from cleave.realtime.connections import PerLoop
from cleave.realtime.frames import PresenceSignal, TypingSignal
from cleave.realtime.streams import FANOUT_CHANNEL

REFRESH_SECONDS = 20.0
TTL_SECONDS = 60.0
# Presence writes of sockets that connect or close together share one Redis pipeline.
_Op = tuple[str, int, str, float]  # ("connect" | "set" | "online", user_id, socket_id, expires)


def grace_seconds() -> float:
    return float(settings.CLEAVE_REALTIME_PRESENCE_GRACE_SECONDS)


def _key(user_id: int) -> str:
    return f"cleave:rt:presence:{user_id}"


class Presence:
    def __init__(self) -> None:
        self._clients = PerLoop(size=settings.CLEAVE_REALTIME_REDIS_POOL_SIZE)
        self._memory: dict[int, dict[str, float]] = {}
        self._local: dict[str, int] = {}  # socket id → user id, for the refresher
        self._refresher: asyncio.Task[None] | None = None
        self._ops: MicroBatcher[_Op, bool] = MicroBatcher(
            self._run_ops,
            max_batch=settings.CLEAVE_REALTIME_ADMIT_BATCH,
            concurrency=settings.CLEAVE_REALTIME_ADMIT_CONCURRENCY,
            name="realtime-presence",
        )

    def _client(self) -> Any:
        return self._clients.get()

    async def connected(self, user_id: int) -> tuple[str, bool]:
        """Record a socket; returns its id and whether the user was offline before."""
        socket_id = uuid.uuid4().hex
        expires = time.time() + TTL_SECONDS
        if self._client() is None:
            was_online = await self.online(user_id)
            self._set_in_memory(user_id, socket_id, expires)
        else:
            was_online = await self._ops.submit(("connect", user_id, socket_id, expires))
        self._local[socket_id] = user_id
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())
        return socket_id, not was_online

    async def disconnected(self, user_id: int, socket_id: str) -> None:
        self._local.pop(socket_id, None)
        await self._set(user_id, socket_id, time.time() + grace_seconds())

    async def _set(self, user_id: int, socket_id: str, expires: float) -> None:
        """One socket's entry, kept until `expires` (batched with others in real mode)."""
        if self._client() is None:
            self._set_in_memory(user_id, socket_id, expires)
        else:
            await self._ops.submit(("set", user_id, socket_id, expires))

    async def online(self, user_id: int) -> bool:
        if self._client() is None:
            return bool(await self.online_among([user_id]))
        return await self._ops.submit(("online", user_id, "", 0.0))

    async def online_among(self, user_ids: list[int]) -> list[int]:
        now = time.time()
        client = self._client()
        if client is None:
            return [u for u in user_ids if any(t > now for t in self._memory.get(u, {}).values())]
        async with client.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(_key(user_id), now, "+inf")
            counts = await pipe.execute()
        return [u for u, count in zip(user_ids, counts, strict=True) if count]

    async def _run_ops(self, ops: list[_Op]) -> list[bool | BaseException]:
        """One pipeline for a batch; in order, so a user's second socket sees the first."""
        now = time.time()
        async with self._client().pipeline(transaction=False) as pipe:
            for kind, user_id, socket_id, expires in ops:
                key = _key(user_id)
                if kind in {"connect", "online"}:
                    pipe.zcount(key, now, "+inf")
                if kind in {"connect", "set"}:
                    pipe.zadd(key, {socket_id: expires})
                    pipe.zremrangebyscore(key, "-inf", now)
                    pipe.expire(key, int(TTL_SECONDS * 2))
            replies = iter(await pipe.execute())
        results: list[bool | BaseException] = []
        for kind, *_ in ops:
            online = bool(next(replies)) if kind in {"connect", "online"} else False
            if kind in {"connect", "set"}:
                for _ in range(3):
                    next(replies)
            results.append(online)
        return results

    def _set_in_memory(self, user_id: int, socket_id: str, expires: float) -> None:
        entries = self._memory.setdefault(user_id, {})
        entries[socket_id] = expires
        now = time.time()
        for stale in [s for s, t in entries.items() if t <= now]:
            del entries[stale]

    async def _refresh_forever(self) -> None:
        while self._local:
            await asyncio.sleep(REFRESH_SECONDS)
            expires = time.time() + TTL_SECONDS
            local = list(self._local.items())
            await asyncio.gather(*(self._set(user, socket, expires) for socket, user in local))


presence = Presence()


async def _publish_batch(messages: list[str]) -> list[bool | BaseException]:
    async with presence._client().pipeline(transaction=False) as pipe:
        for message in messages:
            pipe.publish(FANOUT_CHANNEL, message)
        await pipe.execute()
    return [True] * len(messages)


# Signals of sockets that connect together (presence) leave in one pipeline.
_signals: MicroBatcher[str, bool] = MicroBatcher(
    _publish_batch,
    max_batch=settings.CLEAVE_REALTIME_ADMIT_BATCH,
    concurrency=settings.CLEAVE_REALTIME_ADMIT_CONCURRENCY,
    name="realtime-signals",
)


async def signal(frame: TypingSignal | PresenceSignal) -> None:
    """Deliver an ephemeral frame to every socket on its stream, in every process; not stored."""
    from cleave.realtime.hub import hub

    stream, text = frame.stream, frame.render()
    if presence._client() is None:  # same module family
        hub.submit("event", stream, 0, text)
    else:
        await _signals.submit(f"{stream}\n0\n{text}")


def online_now(user_ids: list[int]) -> list[int]:
    """The same answer as `presence.online_among`, for synchronous code (subscribers, tasks)."""
    now = time.time()
    if not settings.CONFIG.redis_url:
        memory = presence._memory  # the one process of embedded mode
        return [u for u in user_ids if any(t > now for t in memory.get(u, {}).values())]
    from cleave.realtime.hub import store
    from cleave.realtime.streams import RedisStreamStore

    streams = store()
    if not isinstance(streams, RedisStreamStore):
        raise RuntimeError("real mode without a Redis stream store")
    with streams.redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.zcount(_key(user_id), now, "+inf")
        counts = pipe.execute()
    return [u for u, count in zip(user_ids, counts, strict=True) if count]
