"""The baseline: the same frames through plain Channels `group_send` (one channel-layer message
per socket), on the same Redis. Every socket joins the group "bench" and forwards what it gets."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

import django

django.setup()

from bench.realtime.channel_layer import use_redis_channel_layer  # noqa: E402

use_redis_channel_layer()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class GroupConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        await self.channel_layer.group_add("bench", self.channel_name)
        await self.send(text_data='{"type": "ready"}')

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard("bench", self.channel_name)

    async def bench_message(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/v1", GroupConsumer.as_asgi())])})
