"""Serve a WSGI application from an ASGI server with exactly one thread hand-off per request.

Why not Django's ASGI handler or a2wsgi: on these 2-core machines a hand-off from asyncio to a
thread costs 100–150 µs, and Django's ASGI path makes several per request (≈ 600 req/s for a
hello-world against ≈ 4,600 on a WSGI server). Here the body is read on the event loop, the
whole WSGI call (including iterating the response) runs in one pool thread, and the buffered
response is sent back from the loop. Responses are buffered, which suits a JSON API; streaming
responses are not streamed (the embedded server only — real mode serves HTTP over WSGI).
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_TOO_LARGE = b'{"error": {"code": "payload_too_large", "message": "The request body is too large.", "details": null}}'  # noqa: E501 - one literal


class WsgiBridge:
    """An ASGI HTTP application that runs `wsgi_app` in a thread pool, one hand-off a request."""

    def __init__(self, wsgi_app: WsgiApp, *, threads: int = 8, max_body_bytes: int) -> None:
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"WsgiBridge serves HTTP only, not {scope['type']!r}")
        body = await self._read_body(receive)
        if body is None:
            await _send_response(send, 413, [(b"content-type", b"application/json")], [_TOO_LARGE])
            return
        environ = build_environ(scope, body)
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(
            self.executor, self._call_wsgi, environ
        )
        await _send_response(send, status, headers, chunks)

    async def _read_body(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    def _call_wsgi(
        self, environ: dict[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        started: dict[str, Any] = {}
        written: list[bytes] = []  # the legacy write() callable's output, rarely used

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
            return written.append

        result = self.wsgi_app(environ, start_response)
        try:
            chunks = written + [chunk for chunk in result if chunk]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], chunks


async def _send_response(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"".join(chunks)})


def build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope (as a2wsgi and asgiref build it)."""
    script_name = scope.get("root_path", "").encode("utf8").decode("latin1")
    path = scope["path"].encode("utf8").decode("latin1")
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        value = raw_value.decode("latin1")
        if name == "CONTENT_LENGTH":
            environ["CONTENT_LENGTH"] = value
            continue
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ.setdefault("CONTENT_LENGTH", str(len(body)))
    return environ
