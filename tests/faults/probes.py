"""What fault tests observe from outside: HTTP answers with their timing, readiness, metrics,
and the rows an event's subscriber wrote (read straight from the test's own PostgreSQL)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from tests.faults.stores import Postgres

# A request taking longer than this has hung: the longest bound Cleave sets on a request's wait
# is the database pool's (10 s to get a connection, settings._tuned), plus slack.
HTTP_TIMEOUT = 15.0


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    body: Any
    seconds: float
    error: str = ""

    @property
    def code(self) -> str | None:
        """The error envelope's code, if the body is one."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    timeout: float = HTTP_TIMEOUT,
) -> Answer:
    """One HTTP request; never raises, always returns how it ended and how long it took."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
        return Answer(0, None, time.monotonic() - started, f"{type(error).__name__}: {error}")
    elapsed = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")[:500]
    return Answer(status, parsed, elapsed)


def readiness(base: str) -> tuple[int, list[str], float]:
    """`/readyz`: the status, the parts it names as failing, and how long it took to answer."""
    answer = call(base, "GET", "/readyz")
    failing = answer.body.get("failing", []) if isinstance(answer.body, dict) else []
    return answer.status, sorted(failing), answer.seconds


def gauge(base: str, name: str, labels: str = "") -> float | None:
    """One sample of `name{labels}` from `/metrics`, or None when absent or unreachable."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    pattern = rf"^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''}\s+(\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def signed_in(base: str, n: int) -> dict[str, Any]:
    """A fresh account through the public API; its tokens and user."""
    device = {"device_id": f"phone-{n}", "platform": "ios", "app_version": "1.0"}
    body = {
        "email": f"faults{n}-{time.monotonic_ns()}@example.com",
        "password": "correct horse battery staple",
        "display_name": f"Faults {n}",
        "device": device,
    }
    answer = call(base, "POST", "/api/v1/auth/register", body)
    assert answer.status == 201, answer
    return answer.body["tokens"]


@dataclass
class InboxCounts:
    """notifications' inbox items made from the MessageSent events of `publisher messages`."""

    rows: int
    distinct: int
    inversions: int  # consecutive items of one conversation applied out of publish order
    per_conversation: dict[int, list[int]] = field(repr=False, default_factory=dict)


def inbox_counts(pg: Postgres, *, first_conversation: int = 0) -> InboxCounts:
    rows = pg.query(
        "SELECT (data->>'conversation_id')::int, (data->>'seq')::int "
        "FROM notifications_inboxitem WHERE (data->>'conversation_id')::int >= %s ORDER BY id",
        [first_conversation],
    )
    per_conversation: dict[int, list[int]] = {}
    for conversation, seq in rows:
        per_conversation.setdefault(conversation, []).append(seq)
    inversions = sum(
        1
        for seqs in per_conversation.values()
        for before, after in zip(seqs, seqs[1:], strict=False)
        if after < before
    )
    return InboxCounts(len(rows), len(set(rows)), inversions, per_conversation)


def outbox_pending(pg: Postgres) -> int:
    return int(pg.scalar("SELECT count(*) FROM cleave_outboxevent WHERE dispatched_at IS NULL"))


def failed_deliveries(pg: Postgres) -> dict[str, int]:
    return dict(pg.query("SELECT status, count(*) FROM cleave_faileddelivery GROUP BY status"))


def report(title: str, **figures: object) -> None:
    """Print what a test measured (pytest -s shows it; -rA keeps it in the summary)."""
    line = ", ".join(f"{key}={value}" for key, value in figures.items())
    print(f"\n[faults] {title}: {line}")  # noqa: T201 - the measured figures are the point
