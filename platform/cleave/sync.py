"""Delta sync for lists an app keeps offline (conversations, the notifications inbox).

    GET …/sync               → {"changed": [], "deleted": [], "sync_token": "s1.…"}  (start)
    GET …/sync?since=<token> → what changed and what was deleted since, and the next token

A token is the moment up to which the app is known to be up to date, minus `SAFETY`: a
transaction that stamped a row just before a sync read may commit just after it, so the next
sync asks again from a little earlier (an app upserts by id, so a repeat is harmless). Deletions
are kept as tombstones for `TOMBSTONE_DAYS`; an older token (or more changes than one answer
holds) is 410 `sync_expired`: the app refetches the whole list and starts again.

A context serving a sync list registers its tombstones' purge (`register_tombstone_purge`);
Celery beat runs them all hourly (`cleave.sync.purge_tombstones`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from celery import shared_task
from django.utils import timezone
from ninja import Schema

from cleave.errors import CleaveError

TOMBSTONE_DAYS = 30
SAFETY = timedelta(seconds=10)
MAX_CHANGES = 500  # one answer's worth; beyond it refetching is cheaper than a huge delta
_TOKEN = re.compile(r"^s1\.(\d{1,20})$")

T = TypeVar("T")


class SyncExpired(CleaveError):
    code = "sync_expired"
    status = 410
    message_template = "This sync token is too old or invalid; refetch the list and sync again."


class SyncOut(Schema, Generic[T]):
    changed: list[T]
    deleted: list[int]
    sync_token: str


def token_for(moment: datetime) -> str:
    return f"s1.{int(moment.timestamp() * 1_000_000)}"


def since_of(token: str) -> datetime:
    """When the app was last up to date; 410 when the token is not ours or older than the
    tombstones are kept."""
    match = _TOKEN.match(token)
    if match is None:
        raise SyncExpired(details={"reason": "invalid"})
    moment = datetime.fromtimestamp(int(match.group(1)) / 1_000_000, tz=UTC)
    if moment < timezone.now() - timedelta(days=TOMBSTONE_DAYS):
        raise SyncExpired(details={"reason": "older_than_tombstones"})
    return moment


def next_token() -> str:
    """The token to hand out with an answer read now."""
    return token_for(timezone.now() - SAFETY)


def check_size(count: int) -> None:
    if count > MAX_CHANGES:
        raise SyncExpired(details={"reason": "too_many_changes", "limit": MAX_CHANGES})


def tombstone_cutoff() -> datetime:
    return timezone.now() - timedelta(days=TOMBSTONE_DAYS)


_purges: dict[str, Callable[[datetime], int]] = {}


def register_tombstone_purge(name: str, purge: Callable[[datetime], int]) -> None:
    """A context's purge of tombstones older than the cutoff it is given (from ready())."""
    _purges[name] = purge


@shared_task(name="cleave.sync.purge_tombstones")
def purge_tombstones() -> dict[str, int]:
    cutoff = tombstone_cutoff()
    return {name: purge(cutoff) for name, purge in sorted(_purges.items())}
