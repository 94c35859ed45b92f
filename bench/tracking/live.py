"""Live sharing: upload → the recipient's socket, N sharing pairs each uploading every
`period` seconds (open loop: an upload starts when it is due, whether or not the last answered).

Real servers as the Procfile runs them: one `web` process (granian) and one `realtime` process
(uvicorn), real Redis between them. The sharers upload one fresh point over REST
(`POST /api/v1/tracking/batches`); their recipients hold a socket each, joined to the sharer's
`location:<id>` stream at connect by the share. A sample is the time from just before the
upload is sent to the `location.updated` frame at the recipient, matched by a sequence number
carried in the point's longitude. Clients run in this process (asyncio).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.tracking.common import percentile

BASE_LON = 2.0
STEP = 1e-4  # longitude step that carries an upload's sequence number


@dataclass(frozen=True)
class Pair:
    sharer_id: int
    sharer_token: str
    recipient_token: str


def make_pairs(count: int) -> list[Pair]:
    """`count` sharer/recipient accounts (no password: tokens straight from a session), the
    sharer's consent and a share to the recipient for an hour."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from apps.identity.models import User
    from apps.identity.services.sessions import DeviceInfo, session_open
    from apps.tracking.services.consent import consent_set
    from apps.tracking.services.shares import share_create

    tag = f"{time.time_ns():x}"
    users = User.objects.bulk_create(
        User(
            email=f"live-{tag}-{i}@example.com",
            display_name=f"live {i}",
            password=make_password(None),
        )  # fmt: skip
        for i in range(2 * count)
    )
    tokens = []
    for user in users:
        with transaction.atomic():
            tokens.append(session_open(user=user, device=DeviceInfo("bench", "ios", "1.0")).access)
    pairs = []
    for i in range(count):
        sharer, recipient = users[2 * i], users[2 * i + 1]
        consent_set(user_id=sharer.pk, granted=True, changed_by=sharer.pk, source="bench")
        share_create(sharer_id=sharer.pk, recipient_id=recipient.pk, minutes=60)
        pairs.append(Pair(sharer.pk, tokens[2 * i], tokens[2 * i + 1]))
    return pairs


def servers(stack: ExitStack) -> tuple[str, str]:
    """Start web and realtime (the Procfile's commands); their base URL and socket URL."""
    from cleave.testing.processes import free_port
    from cleave.testing.servers import (
        realtime_server_command,
        running_server,
        web_server_command,
    )

    web_port, realtime_port = free_port(), free_port()
    web = stack.enter_context(
        running_server(web_server_command(web_port, workers=2, threads=8), port=web_port)
    )
    realtime = stack.enter_context(
        running_server(realtime_server_command(realtime_port), port=realtime_port)
    )
    return web, realtime.replace("http://", "ws://") + "/ws/v1"


async def drive(
    web: str,
    socket_url: str,
    pairs: list[Pair],
    *,
    seconds: float,
    period: float,
    warmup: float = 0.0,
) -> dict[str, Any]:
    """Uploads for `seconds`; samples of uploads sent in the first `warmup` seconds (each
    sharer's first uploads: its caches, its stream's first event) are reported apart as
    `cold_*`, the rest as the steady state."""
    import websockets

    from bench.rawhttp import Client

    sent: dict[tuple[int, int], float] = {}
    latencies: list[float] = []
    cold: list[float] = []
    warm_from = [float("inf")]  # set when the uploads start
    posts: list[float] = []
    failures: list[int] = []
    tasks: set[asyncio.Task[None]] = set()

    async def recipient(pair: Pair, ready: asyncio.Event, connected: asyncio.Semaphore) -> None:
        headers = {"Authorization": f"Bearer {pair.recipient_token}"}
        async with connected:
            conn = await websockets.connect(socket_url, additional_headers=headers, max_size=None)
        async with conn:
            async for raw in conn:
                frame = json.loads(raw)
                if frame.get("type") == "ready":
                    if f"location:{pair.sharer_id}" not in frame.get("streams", []):
                        raise RuntimeError(f"not joined to location:{pair.sharer_id}: {frame}")
                    ready.set()
                elif frame.get("event") == "location.updated":
                    data = frame["data"]
                    at = sent.pop((data["user_id"], round((data["lon"] - BASE_LON) / STEP)), None)
                    if at is not None:
                        took = time.perf_counter() - at
                        (cold if at < warm_from[0] else latencies).append(took)

    async def upload(client: Client, pair: Pair, seq: int) -> None:
        t = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        body = {
            "batch_id": f"live-{pair.sharer_id}-{seq}",
            "device_time": datetime.now(UTC).isoformat(),
            "points": [
                {"t": t, "lat": 48.85, "lon": round(BASE_LON + seq * STEP, 6), "accuracy": 5}
            ],  # fmt: skip
        }
        began = time.perf_counter()
        sent[(pair.sharer_id, seq)] = began
        answer = await client.post_json(
            "/api/v1/tracking/batches",
            body,
            headers={"Authorization": f"Bearer {pair.sharer_token}"},
            idempotent=True,  # the batch id: a repeat answers the first's result
        )
        posts.append(time.perf_counter() - began)
        if answer.status != 200:
            sent.pop((pair.sharer_id, seq), None)
            failures.append(answer.status)

    readies = [asyncio.Event() for _ in pairs]
    connected = asyncio.Semaphore(50)
    sockets = [
        asyncio.create_task(recipient(pair, ready, connected))
        for pair, ready in zip(pairs, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=120)
    # The lean client (bench/rawhttp.py): httpx cost about a millisecond of this process's CPU
    # an upload, and this process shares the server's two cores.
    client = Client(web, max_connections=200)
    try:
        began = time.perf_counter()
        warm_from[0] = began + warmup
        due = [(began + period * i / len(pairs), i, 0) for i in range(len(pairs))]
        heapq.heapify(due)
        while due and due[0][0] < began + seconds:
            at, i, seq = heapq.heappop(due)
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            task = asyncio.create_task(upload(client, pairs[i], seq))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            heapq.heappush(due, (at + period, i, seq + 1))
        if tasks:
            await asyncio.wait(tasks, timeout=30)
    finally:
        await client.close()
    await asyncio.sleep(2.0)  # frames still on their way
    for socket in sockets:
        socket.cancel()
    await asyncio.gather(*sockets, return_exceptions=True)
    return {
        "pairs": len(pairs),
        "period_s": period,
        "uploads": len(posts),
        "upload_failures": len(failures),
        "frames": len(latencies) + len(cold),
        "warmup_s": warmup,
        "cold_p50_ms": round(percentile(cold, 0.5) * 1000, 1),
        "cold_p99_ms": round(percentile(cold, 0.99) * 1000, 1),
        "lost": len(sent),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "upload_p50_ms": round(percentile(posts, 0.5) * 1000, 1),
        "upload_p99_ms": round(percentile(posts, 0.99) * 1000, 1),
    }
