""" "ready" is the first frame a socket gets, even when the hub has frames for it already."""

from __future__ import annotations

import asyncio
from typing import Any

from cleave.realtime.consumers import GatewayConsumer


def test_frames_handed_over_before_ready_wait_for_it() -> None:
    socket = GatewayConsumer.__new__(GatewayConsumer)
    socket.before_ready, socket.resuming, socket.cursors, socket.principal = [], {}, {}, None
    sent: list[Any] = []

    async def base_send(message: dict[str, Any]) -> None:
        sent.append(message["text"])

    socket.base_send = base_send  # type: ignore[method-assign]

    async def scenario() -> None:
        await socket.deliver("conv:1", 0, '{"type":"presence"}')  # a signal, mid-handshake
        await socket.deliver("conv:1", 3, '{"type":"event","seq":3}')
        assert sent == []
        sent.append('{"type":"ready"}')  # what _authenticate sends before releasing them
        await socket._release_held()
        await socket.deliver("conv:1", 4, '{"type":"event","seq":4}')  # then live, in order

    asyncio.run(scenario())
    assert sent == [
        '{"type":"ready"}',
        '{"type":"presence"}',
        '{"type":"event","seq":3}',
        '{"type":"event","seq":4}',
    ]
