"""Issue 16, finding 13: 2,000 sockets opening at once on the Procfile's `realtime` process.

Before the fix, redis-py's asyncio pool (100 connections, raising when all are taken) failed
1,900 of 2,000 sockets with `MaxConnectionsError` in presence. Now every socket gets `ready`
and the server logs no exception. Real mode only: the realtime process runs against the test
database and a Redis server of its own; the clients run in a separate process
(bench/storm/clients.py), as phones would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from cleave.testing.processes import ROOT, free_port
from cleave.testing.servers import realtime_server_command, running_server

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.CONFIG.embedded,
        reason="real mode only: the Procfile's realtime process against PostgreSQL and Redis",
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

SOCKETS = 2000
GROUP = 20  # members per conversation: each socket joins one, and is announced on it


def _conversations_for(user_ids: list[int]) -> None:
    """Groups of GROUP seeded users, so initial streams and presence have real work to do."""
    from apps.messaging.models import Conversation, Member

    groups = [user_ids[n : n + GROUP] for n in range(0, len(user_ids), GROUP)]
    conversations = Conversation.objects.bulk_create(
        Conversation(kind=Conversation.Kind.GROUP, title="storm", created_by=group[0])
        for group in groups
    )
    Member.objects.bulk_create(
        Member(conversation=conversation, user_id=user_id)
        for conversation, group in zip(conversations, groups, strict=True)
        for user_id in group
    )


def test_two_thousand_sockets_opening_at_once_all_get_ready(tmp_path: Path) -> None:
    from tests.faults.stores import redis_server

    tokens = tmp_path / "tokens.json"
    call_command("users_seed", count=SOCKETS, prefix="storm", verified=True, tokens_out=tokens)
    _conversations_for([entry["user_id"] for entry in json.loads(tokens.read_text())])
    database = settings.CONFIG.database
    test_database = settings.DATABASES["default"]["NAME"]
    port = free_port()
    with redis_server() as redis:
        env = {
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
            f"{database['PORT']}/{test_database}",
            "REDIS_URL": redis.url(),
            # The tokens were signed here with a key stored under this process's keys.
            "CLEAVE_ENCRYPTION_KEYS": settings.CLEAVE_ENCRYPTION_KEYS,
            "CLEAVE_HASH_KEY": settings.CLEAVE_HASH_KEY,
        }
        with running_server(realtime_server_command(port), port=port, env=env):
            storm = subprocess.run(
                [sys.executable, str(ROOT / "bench" / "storm" / "clients.py"),
                 f"ws://127.0.0.1:{port}/ws/v1", str(tokens), "--count", str(SOCKETS),
                 "--timeout", "30", "--hold", "1"],  # each socket: ready within 30 s
                capture_output=True, text=True, timeout=90, check=True,
            )  # fmt: skip
    log = (ROOT / "var" / f"server-{port}.log").read_text(errors="replace")
    result = json.loads(storm.stdout)
    errors = Counter(re.findall(r"^([\w.]+(?:Error|Exception)): ", log, flags=re.MULTILINE))
    summary = f"ready: {result['ready']}, failed: {result['failed']}, server: {dict(errors)}"
    assert result["ready"] == SOCKETS, summary
    assert errors == Counter(), summary
    assert "Traceback" not in log, log[-3000:]
