"""Reading and changing the app-version policy.

The policy's rows live where flags live (the flags home, `CLEAVE_FLAGS_HOME`); a change is
published after commit as a snapshot in the shared cache (Redis in real and split mode), which
every process rereads at most once a second — no query per request, and a change is enforced
everywhere within a second. A process that finds no snapshot (a flushed cache) reloads it from
the tables at the home, and elsewhere serves with no policy until the home has: it fails open,
never refusing an app for a policy it cannot read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from cleave.app_versions.models import AppVersionPolicy, AppVersionPolicyChange
from cleave.flags.bucketing import SemVer
from cleave.gateway.client_version import ClientVersion

SNAPSHOT_KEY = "cleave:app-versions"
RECHECK_SECONDS = 1.0
EDITABLE = ("minimum_version", "recommended_version", "store_url")

Status = Literal["ok", "update_recommended", "update_required"]


@dataclass(frozen=True)
class Policy:
    platform: str
    minimum_version: str = ""
    recommended_version: str = ""
    store_url: str = ""


def _below(version: str, bound: str) -> bool:
    mine, limit = SemVer.parse(version), SemVer.parse(bound)
    return bool(mine and limit and mine.precedence() < limit.precedence())


def status_of(client: ClientVersion | None) -> tuple[Status, Policy | None]:
    """What the policy says of `client`; an unknown client is always "ok"."""
    if client is None:
        return "ok", None
    policy = policies().get(client.platform)
    if policy is None:
        return "ok", None
    if policy.minimum_version and _below(client.version, policy.minimum_version):
        return "update_required", policy
    if policy.recommended_version and _below(client.version, policy.recommended_version):
        return "update_recommended", policy
    return "ok", policy


class _Memo:
    def __init__(self) -> None:
        self._policies: dict[str, Policy] = {}
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict[str, Policy]:
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            with self._lock:
                self._policies = _read_snapshot()
                self._checked = now
        return self._policies

    def forget(self) -> None:
        with self._lock:
            self._checked = 0.0


_memo = _Memo()


def policies() -> dict[str, Policy]:
    """Every platform's policy, by platform (at most a second old)."""
    return _memo.get()


def forget_policies() -> None:
    _memo.forget()


def _read_snapshot() -> dict[str, Policy]:
    snapshot = cache.get(SNAPSHOT_KEY)
    if snapshot is None:
        if not settings.CLEAVE_FLAGS_HOME:
            return {}
        # Called under the memo's lock: write the cache, but do not `forget` (it takes the lock).
        snapshot = _snapshot_write()
    return {platform: Policy(**fields) for platform, fields in snapshot.items()}


def publish() -> dict[str, Any]:
    """Write the tables' policy to the shared cache (at the home, after commit)."""
    snapshot = _snapshot_write()
    _memo.forget()
    return snapshot


def _snapshot_write() -> dict[str, Any]:
    snapshot = {
        row.platform: asdict(_policy_of(row)) for row in AppVersionPolicy.objects.order_by("id")
    }
    cache.set(SNAPSHOT_KEY, snapshot, timeout=None)
    return snapshot


def _policy_of(row: AppVersionPolicy) -> Policy:
    return Policy(
        platform=row.platform,
        minimum_version=row.minimum_version,
        recommended_version=row.recommended_version,
        store_url=row.store_url,
    )


def _as_dict(row: AppVersionPolicy | None) -> dict[str, Any] | None:
    return asdict(_policy_of(row)) if row is not None else None


def policy_save(*, platform: str, changes: dict[str, Any], actor: str) -> Policy:
    """Create or change a platform's policy, audited; enforced everywhere once committed."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"{sorted(unknown)} cannot be changed here")
    with transaction.atomic():
        row = AppVersionPolicy.objects.select_for_update().filter(platform=platform).first()
        before = _as_dict(row)
        created = row is None
        row = row or AppVersionPolicy(platform=platform)
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = timezone.now()
        if created:
            row.save()
        else:
            row.save(update_fields=[*changes, "updated_at"])
        AppVersionPolicyChange.objects.create(
            platform=platform, actor=actor, before=before, after=_as_dict(row)
        )
        transaction.on_commit(publish)
    return _policy_of(row)


def policy_delete(*, platform: str, actor: str) -> bool:
    """Remove a platform's policy (every version served again), audited. False if none."""
    with transaction.atomic():
        row = AppVersionPolicy.objects.select_for_update().filter(platform=platform).first()
        if row is None:
            return False
        AppVersionPolicyChange.objects.create(
            platform=platform, actor=actor, before=_as_dict(row), after=None
        )
        row.delete()
        transaction.on_commit(publish)
    return True


def handshake_client(headers: list[tuple[bytes, bytes]]) -> ClientVersion | None:
    """The `X-Client-Version` of a socket's handshake (ASGI headers), if it parses."""
    from cleave.gateway.client_version import parse

    for name, value in headers:
        if name == b"x-client-version":
            return parse(value.decode("latin-1"))
    return None
