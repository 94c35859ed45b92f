"""Cleave's realtime gateway: one WebSocket per device, streams with seq/epoch, loss-free resume.

from cleave.realtime import push, user_stream
transaction.on_commit(lambda: push(user_stream(user_id), "user.updated", {...}))

The names below load on first use (PEP 562): `cleave.realtime.frames`, which `contracts/`
builds on, must import without Django, and the hub reads settings when it loads.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "close_session",
    "push",
    "register_event",
    "register_frame_handler",
    "register_streams",
    "stream_forget",
    "subscribe",
    "unsubscribe",
    "user_stream",
]

_HOMES = {
    "close_session": "cleave.realtime.hub",
    "push": "cleave.realtime.hub",
    "register_event": "cleave.realtime.registry",
    "register_frame_handler": "cleave.realtime.registry",
    "register_streams": "cleave.realtime.registry",
    "stream_forget": "cleave.realtime.hub",
    "subscribe": "cleave.realtime.registry",
    "unsubscribe": "cleave.realtime.registry",
    "user_stream": "cleave.realtime.registry",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'cleave.realtime' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
