""" "ready" is the first frame a socket gets, even when the hub has frames for it already."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cleave.realtime.consumers import GatewayConsumer
from cleave.realtime.hub import hub


@pytest.fixture
def socket() -> Any:
    """A consumer on `conv:1` (the gate lets frames through only on streams it is on), ready,
    writing what it sends to `socket.sent`."""
    socket = GatewayConsumer.__new__(GatewayConsumer)
    socket.before_ready, socket.resuming, socket.cursors, socket.principal = None, set(), {}, None
    socket.epochs, socket.sent = {}, []

    async def base_send(message: dict[str, Any]) -> None:
        socket.sent.append(message["text"])

    socket.base_send = base_send
    # What hub.attach does, without the event loop it starts its dispatcher on.
    hub.sockets["conv:1"].add(socket)
    hub._streams[socket].add("conv:1")
    yield socket
    hub.detach(socket)


def test_frames_handed_over_before_ready_wait_for_it(socket: Any) -> None:
    socket.before_ready = []
    sent = socket.sent

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


def test_a_new_epoch_on_a_live_stream_is_a_resync_never_a_silent_skip(socket: Any) -> None:
    sent = socket.sent

    def frame(seq: int, epoch: str) -> str:
        return f'{{"type":"event","stream":"conv:1","seq":{seq},"epoch":"{epoch}"}}'

    async def scenario() -> None:
        for seq in (1, 2, 3):
            await socket.deliver("conv:1", seq, frame(seq, "aaaa"))
        # The stream store restarted empty: seqs begin again under a new epoch.
        await socket.deliver("conv:1", 1, frame(1, "bbbb"))
        await socket.deliver("conv:1", 2, frame(2, "bbbb"))

    asyncio.run(scenario())
    kinds = [json.loads(text)["type"] for text in sent]
    assert kinds == ["event", "event", "event", "resync_required", "event", "event"]
    assert json.loads(sent[3])["epoch"] == "bbbb"


def test_frames_of_a_stream_the_socket_left_are_not_written(socket: Any) -> None:
    sent = socket.sent

    async def scenario() -> None:
        await socket.deliver("conv:1", 1, '{"type":"event","seq":1,"epoch":"a"}')
        hub.detach_from("conv:1", socket)  # what a followed stream.left does
        await socket.deliver("conv:1", 2, '{"type":"event","seq":2,"epoch":"a"}')
        await socket.deliver("conv:1", 0, '{"type":"typing"}')

    asyncio.run(scenario())
    assert sent == ['{"type":"event","seq":1,"epoch":"a"}']
