"""`manage.py serve`: the one-process server — HTTP and WebSockets on one port (embedded mode)."""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from cleave.events.periodic import start_in_thread
from cleave.server_limits import WS_MAX_BYTES, BoundedHttpToolsProtocol


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets from one process on one port (uvicorn + cleave.asgi)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        self.stdout.write(f"Cleave serving HTTP and WebSockets on http://{host}:{port}")
        if settings.CLEAVE_EVENTS_INPROCESS:
            # No Celery beat in embedded mode: sweep the outbox and retry failed deliveries here.
            start_in_thread()
        uvicorn.run(
            "cleave.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            log_config=None,  # keep Django's LOGGING (request ids, JSON in real mode)
            access_log=False,
            # Compression keeps two zlib contexts per socket: ~35 KiB of a socket's memory and
            # a third of the fan-out time (bench/realtime); mobile frames are small JSON.
            ws_per_message_deflate=False,
            # No gateway in front: the request-head limits of nginx, and no 16 MiB frames
            # (uvicorn's default) read into memory (cleave.server_limits).
            http=BoundedHttpToolsProtocol,
            ws_max_size=WS_MAX_BYTES,
            backlog=settings.CLEAVE_REALTIME_BACKLOG,  # a reconnect storm (settings say why)
        )
