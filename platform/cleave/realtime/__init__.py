"""Cleave's realtime gateway: one WebSocket per device, streams with seq/epoch, loss-free resume.

from cleave.realtime import push, user_stream
transaction.on_commit(lambda: push(user_stream(user_id), "user.updated", {...}))
"""

from cleave.realtime.hub import close_session, push
from cleave.realtime.registry import (
    register_frame_handler,
    register_streams,
    subscribe,
    unsubscribe,
    user_stream,
)

__all__ = [
    "close_session",
    "push",
    "register_frame_handler",
    "register_streams",
    "subscribe",
    "unsubscribe",
    "user_stream",
]
