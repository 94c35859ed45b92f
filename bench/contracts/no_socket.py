"""A request handed straight to `cleave.wsgi.application` in this process: no socket, no server.

Timing the same request this way and over HTTP splits its cost into Django's own work (routing,
middleware, ninja, the view) and what loopback HTTP adds (client, kernel, granian).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str


class NoSocketClient:
    """Calls the WSGI application the `web` process serves, as granian would call it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        from cleave.wsgi import application

        self._application = application
        self._host = host

    def request(
        self, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": self._host,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": self._host,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json" if body else "",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status: list[str] = []

        def start_response(line: str, _headers: list[Any], _exc: Any = None) -> None:
            status.append(line)

        result = self._application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # fires request_finished: the connection goes back to the pool
        return Answer(int(status[0].split()[0]), content.decode(errors="replace"))
