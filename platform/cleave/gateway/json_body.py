"""Reading a JSON request body strictly, the same way for every API stack.

- Only JSON media types (`application/json`, `application/*+json`, UTF-8): a form or
  `text/plain` body is what a cross-site page can send without a preflight, so it is refused
  with 415 `unsupported_media_type` before it is read.
- No duplicate keys: `{"role": "user", "role": "admin"}` means different things to different
  parsers (Python keeps the last, others the first); refused as `malformed_json`.
- `malformed_json` details say where ("line 1 column 7"), never the interpreter's own words
  (codec names, recursion limits, Python reprs).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.http import HttpRequest

from cleave.errors import CleaveError, ErrorCode, MalformedBody


class UnsupportedMediaType(CleaveError):
    code: ClassVar[str] = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 415
    message_template = "Send the body as application/json (got {content_type})."


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def is_json_media_type(content_type: str, params: dict[str, str]) -> bool:
    media = content_type.strip().lower()
    kind, _, subtype = media.partition("/")
    json_type = media == "application/json" or (kind == "application" and subtype.endswith("+json"))
    charset = params.get("charset", "utf-8").strip().lower()
    return json_type and charset in {"utf-8", "utf8"}


def require_json(request: HttpRequest) -> None:
    """Refuse a non-empty body that does not say it is JSON (415)."""
    if request.body and not is_json_media_type(
        request.content_type or "", dict(request.content_params or {})
    ):
        shown = (request.content_type or "none")[:100]
        raise UnsupportedMediaType(details={"content_type": shown})


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def load_json(body: bytes) -> Any:
    """Parse `body`; raise MalformedBody with a short, client-safe reason."""
    try:
        return json.loads(body, object_pairs_hook=_unique)
    except _DuplicateKey as exc:
        raise MalformedBody(details={"reason": "duplicate key", "key": exc.key[:100]}) from None
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise MalformedBody(details={"reason": reason}) from None
    except UnicodeDecodeError:
        raise MalformedBody(details={"reason": "the body is not UTF-8 text"}) from None
    except RecursionError:
        raise MalformedBody(details={"reason": "the body nests too deeply"}) from None
