"""`manage.py flush` (the test suite's between transactional tests) survives losing a deadlock
to another process on the database, as a test's Celery worker finishing a task can cause."""

from __future__ import annotations

import re
import threading

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import connection, connections, transaction

from cleave.testing.processes import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row and table locks: PostgreSQL"),
]


def _flush_waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_a_flush_that_loses_a_deadlock_tries_again_and_empties_the_database() -> None:
    (truncate,) = sql_flush(no_style(), connection, reset_sequences=True, allow_cascade=False)
    tables = re.findall(r'"(\w+)"', truncate.split("RESTART")[0])
    first, last = tables[0], tables[-1]
    flushed: list[BaseException | None] = []
    flush_pid: list[int] = []

    def flush() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                flush_pid.append(cursor.fetchone()[0])
            call_command("flush", interactive=False, verbosity=0)
            flushed.append(None)
        except BaseException as error:  # reported by the assertion below
            flushed.append(error)
        finally:
            connections.close_all()

    with transaction.atomic(), connection.cursor() as cursor:
        # Another process holds the flush's last table and then asks for its first one, which
        # the flush already holds: a deadlock. The flush waited first, so PostgreSQL's detector
        # (deadlock_timeout after a wait begins) aborts the flush, not us.
        cursor.execute(f'LOCK TABLE "{last}" IN ACCESS SHARE MODE')
        thread = threading.Thread(target=flush)
        thread.start()
        wait_for(lambda: bool(flush_pid) and _flush_waits_for_a_lock(flush_pid[0]), timeout=10)
        cursor.execute(f'LOCK TABLE "{first}" IN ACCESS SHARE MODE')  # granted once it aborted
    thread.join(timeout=30)
    assert flushed == [None]  # it tried again after our transaction ended, and succeeded
