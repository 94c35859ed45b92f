"""Many ready-to-use accounts at once, for tests and benchmarks (never a production path).

Each account is created as `user_register` creates one (same events: `UserRegistered`,
`DeviceRegistered`) and gets a session on one device, so its access token is as real as a
login's. The difference is cost: the password, when given, is hashed once and shared by every
account of the batch (Argon2id is ~30 ms a hash by design; 5,000 of them would take minutes),
and the rows are written in batches, each in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from apps.identity.models import User
from apps.identity.services.sessions import DeviceInfo, session_open
from cleave.databases import database_for
from cleave.events import publish_many
from contracts.identity import UserRegistered

DB = database_for("identity")
BATCH = 200


@dataclass(frozen=True)
class SeededUser:
    user_id: int
    email: str
    session_id: str
    access: str


def users_seed(
    *, count: int, prefix: str, password: str | None = None, verified: bool = False
) -> list[SeededUser]:
    """`count` accounts `<prefix>-<n>@example.com` (existing ones are reused), each with a new
    session on device `<prefix>-seed`; returns their access tokens."""
    encoded = make_password(password)  # once for the batch; None gives an unusable password
    emails = [f"{prefix}-{n}@example.com" for n in range(count)]
    device = DeviceInfo(device_id=f"{prefix}-seed", platform="web", app_version="seed")
    verified_at = timezone.now() if verified else None
    seeded: list[SeededUser] = []
    for start in range(0, count, BATCH):
        with transaction.atomic(using=DB):
            users = _users_for(emails[start : start + BATCH], encoded, verified_at)
            for user in users:
                issued = session_open(user=user, device=device)
                session_id = str(issued.session.pk)
                seeded.append(SeededUser(user.pk, user.email, session_id, issued.access))
    return seeded


def _users_for(emails: list[str], encoded: str, verified_at: datetime | None) -> list[User]:
    """The accounts of `emails`, creating the missing ones; the caller holds a transaction."""
    existing = {user.email: user for user in User.objects.using(DB).filter(email__in=emails)}
    fresh = [
        User(
            email=email,
            password=encoded,
            display_name=email.split("@", 1)[0],
            email_verified_at=verified_at,
        )
        for email in emails
        if email not in existing
    ]
    created = User.objects.using(DB).bulk_create(fresh)  # PostgreSQL and SQLite return the pks
    publish_many(
        [
            UserRegistered(aggregate_id=str(u.pk), user_id=u.pk, display_name=u.display_name)
            for u in created
        ]
    )
    by_email = {**existing, **{user.email: user for user in created}}
    return [by_email[email] for email in emails]
