"""The floor of the storm: a raw ASGI WebSocket app with no Django, no Channels, no logic.

It accepts every socket and sends `{"type": "ready"}` at once, so the storm client measures
what uvicorn and websockets alone cost per handshake on this machine, in the same run.
"""

from __future__ import annotations

from typing import Any


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":  # /healthz, so the bench can wait for it as for realtime
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": '{"type": "ready"}'})
        elif message["type"] == "websocket.disconnect":
            return
