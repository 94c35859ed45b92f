"""WebSocket frames: `{"type": …, "id": …, …}` in, ack/error/pong frames out."""

from __future__ import annotations

import json
from typing import Any

MAX_FRAME_BYTES = 64 * 1024


class FrameError(Exception):
    """A client frame the gateway cannot use; answered with an error frame, never a crash."""

    def __init__(self, code: str, message: str, frame_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def parse_frame(text: str | None, raw: bytes | None) -> dict[str, Any]:
    if text is None:
        raise FrameError("binary_not_supported", "Frames are JSON text, not binary.")
    if len(text.encode("utf-8")) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        frame = json.loads(text)
    except ValueError:
        raise FrameError("malformed_json", "The frame is not valid JSON.") from None
    except RecursionError:  # valid JSON, nested deeper than the parser goes
        raise FrameError("invalid_frame", "The frame is nested too deeply.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError(
            "invalid_frame",
            'A frame is a JSON object with a string "type".',
            frame.get("id") if isinstance(frame, dict) else None,
        )
    return frame


def error_frame(error: FrameError) -> str:
    return json.dumps(
        {
            "type": "error",
            "id": error.frame_id,
            "error": {"code": error.code, "message": error.message},
        }
    )
