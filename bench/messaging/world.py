"""The message-send benchmark's world: its own PostgreSQL database, keys, and seed data.

One sender in direct conversations with 100 partners (verified accounts, no passwords: no
Argon2 at seed time), and a session token for the sender. Idempotent: a second run reuses the
database, the accounts and the conversations (the direct pair's key makes them unique).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTNERS = 100
# Raised for the benchmark through messaging's setting, never in code: one sender's budget
# would otherwise stop the run after 20 messages (contexts' settings: apps/messaging/context.py).
SEND_RATE = "1000000/s"


@dataclass(frozen=True)
class World:
    env: dict[str, str]  # for the server processes (real mode, the bench database and keys)
    token: str  # the sender's access token
    sender_id: int
    conversation_ids: list[int]  # one direct conversation per partner


def real_mode_urls() -> tuple[str, str]:
    url, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not url.startswith("postgres") or not redis:
        sys.exit(
            "bench/messaging measures real mode: set DATABASE_URL (PostgreSQL) and REDIS_URL, "
            "e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cleave "
            "REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/messaging/run.py --quick"
        )
    return url, redis


def environment(database: str) -> dict[str, str]:
    """Create `database` if missing; the environment of every process of the benchmark."""
    import psycopg

    from cleave.testing.processes import real_mode_keys

    url, _ = real_mode_urls()
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
    return {
        **real_mode_keys(database.removeprefix("cleave_")),  # real mode refuses development keys
        "DATABASE_URL": f"{server}/{database}",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "CLEAVE_MESSAGING_SEND_RATE": SEND_RATE,
    }


def prepare(database: str) -> World:
    """Migrate and seed `database`, set this process up on it (Django), return the world."""
    env = environment(database)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=dict(os.environ),
        check=True,
    )
    import django

    django.setup()
    return _seed(env)


def _seed(env: dict[str, str]) -> World:
    from django.db import transaction
    from django.utils import timezone

    from apps.identity.models import User
    from apps.identity.services.sessions import DeviceInfo, session_open
    from apps.messaging.services.conversations import conversation_create

    def account(email: str, name: str) -> User:
        return User.objects.filter(email=email).first() or User.objects.create_user(
            email, None, display_name=name, email_verified_at=timezone.now()
        )

    sender = account("bench-sender@example.com", "Sender")
    conversation_ids = []
    for n in range(PARTNERS):
        partner = account(f"bench-partner-{n}@example.com", f"Partner {n}")
        conversation, _ = conversation_create(
            creator_id=sender.pk, kind="direct", member_ids=[partner.pk]
        )
        conversation_ids.append(conversation.pk)
    with transaction.atomic():
        issued = session_open(user=sender, device=DeviceInfo("bench-sender", "ios", "1.0"))
    return World(env, issued.access, sender.pk, conversation_ids)
