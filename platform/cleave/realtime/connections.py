"""The realtime process's Redis clients, each on a sized pool that waits instead of raising.

redis-py's default pool holds 100 connections and raises `MaxConnectionsError` the moment all
are taken: a reconnect storm took them all and 1,900 of 2,000 sockets failed (issue 16,
finding 13). Every pool here is a `BlockingConnectionPool` of a size named in settings: past
it, a caller waits up to `CLEAVE_REDIS_POOL_TIMEOUT` seconds for a connection, then gets a
`ConnectionError` (a real outage, not a burst).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings


def sync_client(url: str) -> Any:
    """A synchronous client for threads (stream store, presence reads from tasks)."""
    import redis

    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=settings.CLEAVE_REDIS_POOL_SIZE,
        timeout=settings.CLEAVE_REDIS_POOL_TIMEOUT,
        socket_connect_timeout=2,
        socket_timeout=2,
    )
    return redis.Redis(connection_pool=pool)


def async_client(url: str, *, size: int, socket_timeout: float | None = 5, **options: Any) -> Any:
    """An asyncio client for this event loop (asyncio pools cannot move between loops)."""
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=size,
        timeout=settings.CLEAVE_REDIS_POOL_TIMEOUT,
        socket_connect_timeout=2,
        socket_timeout=socket_timeout,
        **options,
    )
    return aioredis.Redis(connection_pool=pool)


class PerLoop:
    """One asyncio client per event loop, built on first use in that loop."""

    def __init__(self, *, size: int) -> None:
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None

    def get(self) -> Any:
        if not settings.CONFIG.redis_url:
            return None
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._loop = loop
            self._client = async_client(settings.CONFIG.redis_url, size=self._size)
        return self._client
