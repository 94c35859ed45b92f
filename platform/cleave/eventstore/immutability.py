"""The log is append-only in the database itself: UPDATE, DELETE and TRUNCATE are refused.

PostgreSQL: a row trigger refuses UPDATE and DELETE, a statement trigger refuses TRUNCATE
(raising `restrict_violation`, an IntegrityError in Django). SQLite: triggers RAISE(ABORT) on
UPDATE and DELETE (it has no TRUNCATE).

Maintenance goes around the rule, visibly: inside `event_maintenance(alias)` (retention,
Django's `flush` of a test database) the DELETE/TRUNCATE triggers let rows go. In PostgreSQL
that is the session setting `cleave.event_maintenance = on`, in SQLite a function this process
registers on each connection (`cleave_event_maintenance()`): any other client — the sqlite3
shell, a script — has no such function, so its DELETE fails too. UPDATE is never allowed.
Anyone who can run SQL as the table's owner can still drop the triggers: the rule guards
against mistakes and application bugs; production also grants the app role no TRUNCATE or
DDL beyond migrations (docs/event-store.md).

A future migration that makes Django rebuild `cleave_event` on SQLite (some ALTERs copy the
table) drops its triggers: such a migration must run `install_sql` again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

TABLE = "cleave_event"
MAINTENANCE_SETTING = "cleave.event_maintenance"
_maintenance: ContextVar[bool] = ContextVar("cleave_event_maintenance", default=False)

POSTGRESQL_INSTALL = f"""
CREATE OR REPLACE FUNCTION cleave_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND current_setting('{MAINTENANCE_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '{TABLE} is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE OR REPLACE FUNCTION cleave_event_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{MAINTENANCE_SETTING}', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{TABLE} is append-only: DELETE refused' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER cleave_event_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION cleave_event_refuse_change();
CREATE TRIGGER cleave_event_no_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION cleave_event_refuse_delete();
CREATE TRIGGER cleave_event_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION cleave_event_refuse_change();
"""
POSTGRESQL_REMOVE = f"""
DROP TRIGGER IF EXISTS cleave_event_no_update ON {TABLE};
DROP TRIGGER IF EXISTS cleave_event_no_delete ON {TABLE};
DROP TRIGGER IF EXISTS cleave_event_no_truncate ON {TABLE};
DROP FUNCTION IF EXISTS cleave_event_refuse_change();
DROP FUNCTION IF EXISTS cleave_event_refuse_delete();
"""
SQLITE_INSTALL = [
    f"""CREATE TRIGGER cleave_event_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER cleave_event_no_delete BEFORE DELETE ON {TABLE}
    WHEN cleave_event_maintenance() IS NOT 1
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS cleave_event_no_update",
    "DROP TRIGGER IF EXISTS cleave_event_no_delete",
]


def install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [POSTGRESQL_INSTALL]
    if vendor == "sqlite":
        return SQLITE_INSTALL
    raise NotImplementedError(f"no immutability triggers for {vendor}")


def remove_sql(vendor: str) -> list[str]:
    return [POSTGRESQL_REMOVE] if vendor == "postgresql" else SQLITE_REMOVE


def _sqlite_maintenance() -> int:
    return 1 if _maintenance.get() else 0


def register_sqlite_function(*, connection: BaseDatabaseWrapper, **_: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "cleave_event_maintenance", 0, _sqlite_maintenance, deterministic=False
        )


connection_created.connect(register_sqlite_function, dispatch_uid="cleave.eventstore.sqlite")


@contextmanager
def event_maintenance(alias: str) -> Iterator[None]:
    """Let DELETE/TRUNCATE through on `alias` for the block (retention, test flush only)."""
    connection = connections[alias]
    token = _maintenance.set(True)
    postgres = connection.vendor == "postgresql"
    try:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute(f"SET {MAINTENANCE_SETTING} = 'on'")
        yield
    finally:
        _maintenance.reset(token)
        if postgres and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"RESET {MAINTENANCE_SETTING}")
