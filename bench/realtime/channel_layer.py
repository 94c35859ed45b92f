"""The baseline's channel layer: channels_redis on the bench's Redis.

Cleave itself configures no channel layer (its sockets get frames through the hub), so
channels-redis is a dev dependency that only this comparison uses.
"""

from __future__ import annotations

from django.conf import settings


def use_redis_channel_layer() -> None:
    """Point Channels at REDIS_URL; call before the first `get_channel_layer()`."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times out socket reads after 5 s by default, the same 5 s that
            # channels_redis blocks in BZPOPMIN: an idle consumer then dies with TimeoutError
            # (channels_redis issue 422). Give reads room beyond the blocking pop.
            "CONFIG": {
                "hosts": [
                    {
                        "address": settings.CONFIG.redis_url,
                        "socket_timeout": 15,
                        "socket_connect_timeout": 2,
                    }
                ],
                "prefix": "cleave",
            },
        }
    }
