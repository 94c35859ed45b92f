"""The `/ws/v1` endpoint. For now: ping → pong, and a clear error frame for anything else."""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from cleave.realtime.frames import FrameError, error_frame, parse_frame

logger = logging.getLogger(__name__)


class GatewayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_frame(text_data, bytes_data)
            await self.handle(frame)
        except FrameError as error:
            await self.send(text_data=error_frame(error))

    async def handle(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "ping":
            await self.send(text_data=json.dumps({"type": "pong", "id": frame.get("id")}))
            return
        raise FrameError("unknown_type", f"Unknown frame type {frame['type']!r}.", frame.get("id"))
