"""The embedded server's limits on request heads and WebSocket frames, as the gateway's.

In the split topology nginx reads every request first: a request line or header line over
8 KiB, or a head over 32 KiB in all (`large_client_header_buffers 4 8k`, nginx's default, which
cleave_deploy.nginx keeps), is refused there. `manage.py serve` has no gateway, and
uvicorn's httptools protocol keeps no such limit (it buffers a head of any size), so this
protocol applies nginx's numbers and answers 431 in the error envelope. WebSocket messages are
capped at `WS_MAX_BYTES`: the gateway consumer refuses frames over its 64 KiB itself, with a
readable error; far larger ones are not read into memory at all (close 1009).
"""

from __future__ import annotations

import json

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_LINE_BYTES = 8 * 1024
MAX_HEAD_BYTES = 32 * 1024
# Twice the gateway consumer's frame limit (cleave.realtime.frames.MAX_FRAME_BYTES): frames up to
# this size still get its `frame_too_large` error frame, anything larger closes with 1009.
WS_MAX_BYTES = 128 * 1024

_STATUS = {414: b"414 URI Too Long", 431: b"431 Request Header Fields Too Large"}


class _Refused(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with nginx's limits on the request line and headers."""

    _awaiting_head = True
    _head_bytes = 0
    _refusal: int | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes, self._refusal = 0, None

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_LINE_BYTES:
            self._refuse(414)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 4  # "name: value\r\n"
        self._head_bytes += line
        if line > MAX_LINE_BYTES or self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(431)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting_head = True
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, plus the limits: httptools raises HttpParserCallbackError (an
        # HttpParserError) out of a callback that refused.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._send_refusal(self._refusal)
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._awaiting_head:
            # A header line still arriving is buffered by the parser before any callback sees
            # it: bound what a head may take in memory, one line of slack beyond the total.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES + MAX_LINE_BYTES:
                self._send_refusal(431)

    def _refuse(self, status: int) -> None:
        self._refusal = status
        raise _Refused(status)

    def _send_refusal(self, status: int) -> None:
        code = "uri_too_long" if status == 414 else "headers_too_large"
        message = "The request line is too long." if status == 414 else "The headers are too large."
        body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
        self.transport.write(
            b"HTTP/1.1 " + _STATUS[status] + b"\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
