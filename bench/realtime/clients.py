"""One client process of bench/realtime: open N sockets, record when each frame arrives.

Prints one JSON line when done: {"connected": n, "received": {seq: [latest arrival, count]}}.
Run by bench/realtime/run.py; clients are spread over several processes because one Python
process reading 1,000 sockets is itself slower than the server writing them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import websockets


async def one_socket(
    url: str,
    token: str,
    ready: asyncio.Event,
    arrivals: dict[int, list[float]],
    stop: asyncio.Event,
    connected: list[int],
    auth_frame: bool,
) -> None:
    headers = {} if auth_frame else {"Authorization": f"Bearer {token}"}
    async with websockets.connect(
        url, additional_headers=headers, max_queue=None, open_timeout=60
    ) as ws:
        if auth_frame:
            await ws.send(json.dumps({"type": "auth", "token": token}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") in {"ready", "welcome"}:
                break
        connected.append(1)
        ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            now = time.time()
            frame = json.loads(raw)
            if frame.get("type") != "event" and "bench_seq" not in frame:
                continue
            seq = frame.get("data", frame).get("bench_seq")
            if seq is None:  # another event on the user's stream (a session, a profile change)
                continue
            entry = arrivals.setdefault(seq, [0.0, 0])
            entry[0] = max(entry[0], now)
            entry[1] += 1


async def main(url: str, token: str, count: int, seconds: float, auth_frame: bool) -> None:
    arrivals: dict[int, list[float]] = {}
    stop, ready = asyncio.Event(), asyncio.Event()
    connected: list[int] = []
    tasks = []
    for _ in range(count):
        tasks.append(
            asyncio.create_task(
                one_socket(url, token, ready, arrivals, stop, connected, auth_frame)
            )
        )
        await asyncio.sleep(0.001)  # do not stampede the accept queue
    deadline = time.time() + 120
    while len(connected) < count and time.time() < deadline:
        await asyncio.sleep(0.1)
    print(json.dumps({"phase": "connected", "connected": len(connected)}), flush=True)
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(
        json.dumps({"phase": "done", "connected": len(connected), "received": arrivals}), flush=True
    )


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1")
    )
