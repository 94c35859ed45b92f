"""Logging: readable lines in embedded mode, JSON lines in real mode; each line carries the
request id and the trace and span ids ("-" where there are none)."""

from __future__ import annotations

from typing import Any

_TEXT = (
    "%(asctime)s %(levelname)-7s [%(request_id)s %(trace_id)s/%(span_id)s] %(name)s: %(message)s"
)
_JSON = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s %(span_id)s"


def build_logging(*, fmt: str, level: str) -> dict[str, Any]:
    """The LOGGING dict for `fmt` ("text" or "json") at `level`."""
    formatter: dict[str, Any]
    if fmt == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": _JSON,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": _TEXT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "cleave.gateway.request_id.RequestIdLogFilter"},
            "trace": {"()": "cleave.observability.tracing.TraceLogFilter"},
            "redact": {"()": "cleave.gateway.redaction.RedactSecretsFilter"},
        },
        "formatters": {"cleave": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "cleave",
                "filters": ["request_id", "trace", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django logs every 4xx as a warning; our envelope already says what went wrong.
            "django.request": {"level": "ERROR"},
            # One line per request whatever LOG_LEVEL says: support searches them.
            "cleave.access": {"level": "INFO"},
            "django.server": {"level": "WARNING"},
            # One line per contract call over HTTP is noise; cleave.remote logs what goes wrong.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
