"""Who holds an idempotency key right now, and the answers stored under the keys.

The answer is stored in the same transaction, on the same database, as the request's own
writes: both commit together or neither does, so a crash between "committed" and "answer
stored" cannot happen, and a retry after any crash either replays or safely runs again.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connections
from django.http import HttpResponse
from django.utils import timezone

from cleave.idempotency.models import IdempotentRequest

LIFETIME = timedelta(hours=24)
# What a replay repeats besides status and body: what describes the body or the created thing.
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Last-Modified", "Deprecation", "Sunset")

_guard = threading.Lock()
_in_flight: set[tuple[str, str, str]] = set()


def lock_id(scope: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for (scope, key): a collision only costs a spurious 409."""
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def held(alias: str, scope: str, key: str) -> Iterator[bool]:
    """True if this request now holds the key until its transaction ends, False if another
    request holds it. Must run inside `transaction.atomic(using=alias)`.

    PostgreSQL: a transaction-scoped advisory lock, so a worker that dies lets go with its
    rolled-back transaction. Other databases (embedded mode's SQLite, one process): a set in
    this process.
    """
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id(scope, key)])
            row = cursor.fetchone()
        yield bool(row and row[0])
        return
    ident = (alias, scope, key)
    with _guard:
        taken = ident in _in_flight
        _in_flight.add(ident)
    if taken:
        yield False
        return
    try:
        yield True
    finally:
        with _guard:
            _in_flight.discard(ident)


def stored_answer(*, alias: str, scope: str, key: str) -> IdempotentRequest | None:
    """The unexpired answer stored under the key; an expired one is forgotten here."""
    found = IdempotentRequest.objects.using(alias).filter(scope=scope, key=key).first()
    if found is not None and found.expires_at <= timezone.now():
        found.delete()
        return None
    return found


def answer_store(
    *, alias: str, scope: str, key: str, fingerprint: str, response: HttpResponse
) -> None:
    """Store `response` under the key, in the request's transaction (the caller's)."""
    now = timezone.now()
    IdempotentRequest.objects.using(alias).create(
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        status=response.status_code,
        headers={name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
        body=response.content,
        created_at=now,
        expires_at=now + LIFETIME,
    )


def replay(stored: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(stored.body), status=stored.status)
    for name, value in stored.headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def expired_purge(*, alias: str) -> int:
    """Delete the answers whose 24 hours are over; how many went."""
    deleted, _ = (
        IdempotentRequest.objects.using(alias).filter(expires_at__lte=timezone.now()).delete()
    )
    return deleted
