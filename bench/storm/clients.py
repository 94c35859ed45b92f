"""One client process of the reconnect storm: open many sockets at the same instant.

    python bench/storm/clients.py URL TOKENS_JSON --first 0 --count 2500 --start-at EPOCH

Every socket starts at `--start-at` (so several client processes storm together), sends its
token in the `Authorization` header, and waits for `ready`. Sockets stay open until all of this
process's sockets are ready or failed, plus `--hold` seconds, then close. Prints one JSON line:
{"ready", "failed": {reason: count}, "latencies_ms": [...], "first_start", "last_ready"}.
`--bare` connects without a token and waits for nothing but the handshake (the floor: what the
bare uvicorn/websockets stack costs per socket, measured against a no-app server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus


async def one_socket(
    url: str, token: str | None, timeout: float, done: asyncio.Event, result: dict[str, Any]
) -> None:
    started = time.time()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with asyncio.timeout(timeout):
            socket = await websockets.connect(
                url, additional_headers=headers, open_timeout=None, max_queue=None,
                compression=None, ping_interval=None,
            )  # fmt: skip
            if token is not None:
                while True:
                    frame = json.loads(await socket.recv())
                    if frame.get("type") == "ready":
                        break
                    if frame.get("type") == "error":
                        raise RuntimeError(f"error frame {frame['error']['code']}")
    except TimeoutError:
        result["failed"][f"no ready within {timeout:g} s"] += 1
        return
    except InvalidStatus as error:
        result["failed"][f"handshake status {error.response.status_code}"] += 1
        return
    except ConnectionClosed as error:
        code = error.rcvd.code if error.rcvd else "none"
        result["failed"][f"closed {code}"] += 1
        return
    except (OSError, RuntimeError, websockets.InvalidHandshake) as error:
        result["failed"][f"{type(error).__name__}: {error}"[:120]] += 1
        return
    result["latencies_ms"].append((time.time() - started) * 1000)
    result["last_ready"] = max(result["last_ready"], time.time())
    try:
        await done.wait()
    finally:
        await socket.close()


async def storm(args: argparse.Namespace) -> dict[str, Any]:
    tokens: list[str | None]
    if args.bare:
        tokens = [None] * args.count
    else:
        entries = json.loads(Path(args.tokens).read_text())[args.first : args.first + args.count]
        tokens = [entry["access"] for entry in entries]
    result: dict[str, Any] = {"failed": Counter(), "latencies_ms": [], "last_ready": 0.0}
    done = asyncio.Event()
    await asyncio.sleep(max(0.0, args.start_at - time.time()))
    result["first_start"] = time.time()
    tasks = [
        asyncio.create_task(one_socket(args.url, token, args.timeout, done, result))
        for token in tokens
    ]
    finished = lambda: len(result["latencies_ms"]) + sum(result["failed"].values())  # noqa: E731
    while finished() < len(tasks):
        await asyncio.sleep(0.01)
    await asyncio.sleep(args.hold)
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "ready": len(result["latencies_ms"]),
        "failed": dict(result["failed"]),
        "latencies_ms": result["latencies_ms"],
        "first_start": result["first_start"],
        "last_ready": result["last_ready"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("tokens", help="users_seed --tokens-out file (ignored with --bare)")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="per socket, to ready")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds open after the storm")
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop  # the client should not be the bottleneck

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(storm(args))), flush=True)


if __name__ == "__main__":
    main()
