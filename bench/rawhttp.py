"""A lean HTTP/1.1 client on asyncio streams, for driving load at the server's pace.

httpx costs about a millisecond of client CPU per request; on a 2-core machine whose other core
runs the server, the generator then measures itself (the closed-loop "capacity" came out near
270 req/s where the same server answers thousands). This client keeps connections alive,
writes a prebuilt request and reads the status line, the headers and a Content-Length body:
what Cleave's API answers, nothing more (no chunked bodies, no redirects, no TLS). Used by
bench/recommendations (GETs) and bench/tracking's live sharing (POSTs of JSON).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class ProtocolError(Exception):
    """The server answered something this client does not read (or closed the connection)."""


class _ClosedBeforeAnswer(ProtocolError):
    """A kept-alive connection the server had closed meanwhile (its idle timeout)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, request: bytes) -> tuple[Answer, bool]:
        """The answer, and whether the connection may be reused."""
        try:
            self.writer.write(request)
            status_line = await self.reader.readline()
        except ConnectionError as exc:
            raise _ClosedBeforeAnswer(str(exc)) from exc
        if not status_line:
            raise _ClosedBeforeAnswer("connection closed before an answer")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:60]!r}")
        length, keep = None, True
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked bodies are not read by this client")
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        body = await self.reader.readexactly(length) if length else b""
        return Answer(int(parts[1]), body), keep

    def close(self) -> None:
        self.writer.close()


class Client:
    """GETs over at most `max_connections` kept-alive connections to one origin; a request that
    finds none idle opens one (up to the bound), else waits for one."""

    def __init__(self, base_url: str, *, max_connections: int = 256) -> None:
        origin = urlsplit(base_url)
        self.host, self.port = origin.hostname or "127.0.0.1", origin.port or 80
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._opened = 0
        self._freed = asyncio.Condition()

    async def get(self, path: str) -> Answer:
        return await self._send(self._request("GET", path), idempotent=True)

    async def post_json(
        self,
        path: str,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> Answer:
        """POST `body` as JSON. `idempotent`: the body carries its own key (a batch id), so it
        may be sent again on a fresh connection if a kept-alive one was found closed."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        request = self._request("POST", path, payload, headers)
        return await self._send(request, idempotent=idempotent)

    def _request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines.append("Accept: application/json")
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def _send(self, request: bytes, *, idempotent: bool) -> Answer:
        connection, reused = await self._take()
        try:
            answer, keep = await connection.send(request)
        except _ClosedBeforeAnswer:
            connection.close()
            await self._dropped()
            if not reused or not idempotent:
                raise
            # The server closed it while it sat idle here; a GET (or a request carrying its own
            # key) is safe to send again, once, on a new connection (what browsers do).
            connection, _ = await self._take(fresh=True)
            try:
                answer, keep = await connection.send(request)
            except BaseException:
                connection.close()
                await self._dropped()
                raise
        except BaseException:
            connection.close()
            await self._dropped()
            raise
        if keep:
            await self._give_back(connection)
        else:
            connection.close()
            await self._dropped()
        return answer

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def _take(self, *, fresh: bool = False) -> tuple[_Connection, bool]:
        """A connection, and whether it was kept alive from an earlier request."""
        async with self._freed:
            while (fresh or not self._idle) and self._opened >= self.max_connections:
                await self._freed.wait()
            if self._idle and not fresh:
                return self._idle.pop(), True
            self._opened += 1
        try:
            return _Connection(*await asyncio.open_connection(self.host, self.port)), False
        except BaseException:
            await self._dropped()
            raise

    async def _give_back(self, connection: _Connection) -> None:
        async with self._freed:
            self._idle.append(connection)
            self._freed.notify()

    async def _dropped(self) -> None:
        async with self._freed:
            self._opened -= 1
            self._freed.notify()
