"""State that outlives a test unless cleared: the cache."""

from __future__ import annotations


def clear_cache() -> None:
    """Empty the default cache between tests: all of LocMem, or only the cache's keys on Redis
    (it shares the server with the Celery broker; its keys carry the cache's KEY_PREFIX)."""
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        backend.clear()
        return
    if not isinstance(backend, RedisCache):
        raise RuntimeError(f"no way to clear a {type(backend).__name__} cache between tests")
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    if not prefix:
        raise RuntimeError("refusing to clear an unprefixed Redis cache: it holds the broker too")
    client = backend._cache.get_client(None, write=True)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
