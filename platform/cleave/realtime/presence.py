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
import json
import time
import uuid
from typing import Any

from django.conf import settings

from cleave.realtime.streams import FANOUT_CHANNEL

REFRESH_SECONDS = 20.0
TTL_SECONDS = 60.0


def grace_seconds() -> float:
    return float(settings.CLEAVE_REALTIME_PRESENCE_GRACE_SECONDS)


class Presence:
    def __init__(self) -> None:
        self._redis: Any = None
        self._memory: dict[int, dict[str, float]] = {}
        self._local: dict[str, int] = {}  # socket id → user id, for the refresher
        self._refresher: asyncio.Task[None] | None = None

    def _client(self) -> Any:
        if self._redis is None and settings.CONFIG.redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(
                settings.CONFIG.redis_url, socket_connect_timeout=2, socket_timeout=5
            )
        return self._redis

    async def connected(self, user_id: int) -> tuple[str, bool]:
        """Record a socket; returns its id and whether the user was offline before."""
        socket_id = uuid.uuid4().hex
        was_online = await self.online(user_id)
        await self._set(user_id, socket_id, time.time() + TTL_SECONDS)
        self._local[socket_id] = user_id
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())
        return socket_id, not was_online

    async def disconnected(self, user_id: int, socket_id: str) -> None:
        self._local.pop(socket_id, None)
        await self._set(user_id, socket_id, time.time() + grace_seconds())

    async def online(self, user_id: int) -> bool:
        return bool(await self.online_among([user_id]))

    async def online_among(self, user_ids: list[int]) -> list[int]:
        now = time.time()
        client = self._client()
        if client is None:
            return [u for u in user_ids if any(t > now for t in self._memory.get(u, {}).values())]
        async with client.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(f"cleave:rt:presence:{user_id}", now, "+inf")
            counts = await pipe.execute()
        return [u for u, count in zip(user_ids, counts, strict=True) if count]

    async def _set(self, user_id: int, socket_id: str, expires: float) -> None:
        client = self._client()
        if client is None:
            entries = self._memory.setdefault(user_id, {})
            entries[socket_id] = expires
            now = time.time()
            for stale in [s for s, t in entries.items() if t <= now]:
                del entries[stale]
            return
        key = f"cleave:rt:presence:{user_id}"
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {socket_id: expires})
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.expire(key, int(TTL_SECONDS * 2))
            await pipe.execute()

    async def _refresh_forever(self) -> None:
        while self._local:
            await asyncio.sleep(REFRESH_SECONDS)
            expires = time.time() + TTL_SECONDS
            for socket_id, user_id in list(self._local.items()):
                await self._set(user_id, socket_id, expires)


presence = Presence()


async def signal(stream: str, frame: dict[str, Any]) -> None:
    """Deliver an ephemeral frame to every socket on `stream`, in every process; not stored."""
    from cleave.realtime.hub import hub

    text = json.dumps({**frame, "stream": stream}, separators=(",", ":"))
    client = presence._client()  # noqa: SLF001 - same module family, one shared connection
    if client is None:
        hub.submit("event", stream, 0, text)
    else:
        await client.publish(FANOUT_CHANNEL, f"{stream}\n0\n{text}")


def online_now(user_ids: list[int]) -> list[int]:
    """The same answer as `presence.online_among`, for synchronous code (subscribers, tasks)."""
    now = time.time()
    if not settings.CONFIG.redis_url:
        memory = presence._memory  # noqa: SLF001 - the one process of embedded mode
        return [u for u in user_ids if any(t > now for t in memory.get(u, {}).values())]
    from cleave.realtime.hub import store
    from cleave.realtime.streams import RedisStreamStore

    streams = store()
    if not isinstance(streams, RedisStreamStore):
        raise RuntimeError("real mode without a Redis stream store")
    with streams.redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.zcount(f"cleave:rt:presence:{user_id}", now, "+inf")
        counts = pipe.execute()
    return [u for u, count in zip(user_ids, counts, strict=True) if count]
