"""The simulator's wire: an answer, the faults it was told to show, Stripe's error shapes, and
its form-encoded parameters (`metadata[reference]=…`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


@dataclass
class Faults:
    """What the operator told the provider to do wrong. Counters are consumed one per request;
    `down_until` is a clock time. The transports honour the transport faults, the simulator
    the business ones (`decline`)."""

    decline: bool = False
    timeouts: int = 0  # perform the request, then lose the answer (the client times out)
    slow_seconds: float = 0.0  # answer every request this late (under the client's timeout)
    answer_twice: int = 0  # perform the request, then receive it a second time (a replay)
    down_until: float = 0.0  # refuse every request until then

    def take(self, name: str) -> bool:
        count = getattr(self, name)
        if count > 0:
            setattr(self, name, count - 1)
            return True
        return False


class Refusal(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.answer = Answer(status, {"error": error})


def invalid(message: str, *, code: str = "parameter_invalid", param: str | None = None) -> Refusal:
    error: dict[str, Any] = {"type": "invalid_request_error", "code": code, "message": message}
    if param:
        error["param"] = param
    return Refusal(400, error)


def form_params(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as error:
        raise invalid(f"Invalid form body: {error}") from error
    return dict(pairs)


def integer(params: dict[str, str], name: str, *, required: bool = False) -> int | None:
    if name not in params:
        if required:
            raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return None
    try:
        return int(params[name])
    except ValueError as error:
        raise invalid(f"Invalid integer: {params[name]}", param=name) from error
