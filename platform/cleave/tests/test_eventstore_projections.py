"""Projections: exactly once per projection, parking on a poison event, retry and skip
(audited), rebuild, the operator command and the lag metrics."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, connections

from cleave.eventstore import NewEvent, append
from cleave.eventstore.models import ProjectionAudit, ProjectionCheckpoint
from cleave.eventstore.operations import NotParked, projection_retry, projection_skip
from cleave.eventstore.rebuild import projection_rebuild
from cleave.eventstore.subscriptions import catchup, catchup_projection, projection_lag
from cleave.observability.collectors import ProjectionLagCollector
from cleave.testing.processes import wait_for
from cleave.testing.workers import celery_worker
from cleave.tests.eventstore_fixtures import ledger, placed
from cleave.tests.example.orders.models import CustomerLedger
from cleave.tests.example.orders.projections import CustomerLedgerProjection

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["ledger"]  # the fixture, imported for pytest


def ledger_rows() -> dict[str, tuple[int, int]]:
    return {row.customer: (row.orders, row.total) for row in CustomerLedger.objects.all()}


def checkpoint(name: str = "orders.customer_ledger") -> ProjectionCheckpoint:
    return ProjectionCheckpoint.objects.get(name=name)


def test_catchup_applies_each_event_once_in_batches(ledger: CustomerLedgerProjection) -> None:
    for n in range(1, 8):  # 7 events, batches of 3
        append(f"orders.order-{n}", [placed(f"c{n % 2}", n)], expected_version=0)
    append("orders.cart-1", [NewEvent("orders.CartOpened", {})], expected_version=0)

    catchup_projection(ledger)
    catchup_projection(ledger)  # nothing new: nothing applied twice
    catchup()

    assert ledger_rows() == {"c0": (3, 2 + 4 + 6), "c1": (4, 1 + 3 + 5 + 7)}
    lag = projection_lag(ledger)
    assert (lag.events, lag.seconds, lag.parked_position) == (0, 0.0, None)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
def test_concurrent_catchups_of_one_projection_apply_each_event_once(
    ledger: CustomerLedgerProjection,
) -> None:
    for n in range(1, 7):
        append(f"orders.order-{n}", [placed("c", 1)], expected_version=None)
    CustomerLedger.objects.all().delete()  # whatever embedded mode applied after commit
    ProjectionCheckpoint.objects.filter(name=ledger.name).delete()
    ledger.gate = threading.Event()  # the first catch-up holds its first batch open
    ledger.reached_gate.clear()

    results: list[Any] = []

    def run() -> None:
        try:
            results.append(catchup_projection(ledger))
        finally:
            connections.close_all()

    first = threading.Thread(target=run)
    first.start()
    assert ledger.reached_gate.wait(timeout=10)
    assert catchup_projection(ledger) == 0  # the other holds the checkpoint: it leaves
    ledger.gate.set()
    first.join(timeout=20)
    assert results == [6]
    assert ledger_rows() == {"c": (6, 6)}


def test_a_poison_event_parks_the_projection_after_the_events_before_it(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed("a", 1), placed("a", 2)], expected_version=0)
    append("orders.order-2", [placed("b", 5, poison=True)], expected_version=0)
    append("orders.order-3", [placed("a", 3)], expected_version=0)

    catchup_projection(ledger)

    assert ledger_rows() == {"a": (2, 3)}  # the event after the poison one waits too
    row = checkpoint()
    assert row.parked_position is not None
    assert "cannot apply order at position" in row.parked_error
    assert "ValueError" in row.parked_error
    lag = projection_lag(ledger)
    assert lag.parked_position == row.parked_position
    assert lag.events == 2
    catchup_projection(ledger)  # parked: stays parked, applies nothing
    assert ledger_rows() == {"a": (2, 3)}


def test_a_database_error_parks_nothing_and_the_next_round_applies_the_batch(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed("a", 1)], expected_version=0)
    append("orders.order-2", [placed("b", 2, database_down=True)], expected_version=0)
    ProjectionCheckpoint.objects.filter(name=ledger.name).update(position=0)
    CustomerLedger.objects.all().delete()

    with pytest.raises(OperationalError):
        catchup_projection(ledger)
    assert catchup() == 0  # logged; the round goes on with the other projections

    assert checkpoint().parked_position is None
    assert checkpoint().position == 0
    ledger.healed = True  # the database is back
    assert catchup() == 2
    assert ledger_rows() == {"a": (1, 1), "b": (1, 2)}


def test_retry_applies_the_parked_event_once_fixed_and_is_audited(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed("a", 1)], expected_version=0)
    append("orders.order-2", [placed("b", 5, poison=True), placed("a", 3)], expected_version=0)
    catchup_projection(ledger)
    parked_at = checkpoint().parked_position

    projection_retry(ledger, actor="staff:ops")  # still broken: parks again
    assert checkpoint().parked_position == parked_at
    ledger.healed = True
    projection_retry(ledger, actor="staff:ops")

    assert ledger_rows() == {"a": (2, 4), "b": (1, 5)}
    assert checkpoint().parked_position is None
    audit = list(ProjectionAudit.objects.order_by("id").values_list("action", "actor", "position"))
    assert audit == [("retry", "staff:ops", parked_at)] * 2
    with pytest.raises(NotParked):
        projection_retry(ledger, actor="staff:ops")


def test_skip_moves_past_the_parked_event_without_applying_it(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed("a", 1)], expected_version=0)
    append("orders.order-2", [placed("b", 5, poison=True), placed("a", 3)], expected_version=0)
    catchup_projection(ledger)
    parked_at = checkpoint().parked_position

    projection_skip(ledger, actor="staff:ops")

    assert ledger_rows() == {"a": (2, 4)}
    skipped = ProjectionAudit.objects.get()
    assert (skipped.action, skipped.position, skipped.actor) == ("skip", parked_at, "staff:ops")
    assert "cannot apply order" in skipped.error


def test_rebuild_replays_the_log_into_emptied_read_models(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed("a", 1), placed("b", 2)], expected_version=0)
    catchup_projection(ledger)
    CustomerLedger.objects.filter(customer="a").update(total=999)  # drifted (a bug, say)

    applied = projection_rebuild(ledger, actor="cli:test")

    assert applied == 2
    assert ledger_rows() == {"a": (1, 1), "b": (1, 2)}
    assert ProjectionAudit.objects.get().action == "rebuild"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the in-memory SQLite test database locks tables across connections (a file "
    "database in WAL mode, as embedded mode runs, reads its snapshot like PostgreSQL)",
)
def test_reads_keep_answering_from_the_old_rows_while_a_rebuild_runs(
    ledger: CustomerLedgerProjection,
) -> None:
    for n in range(1, 8):
        append(f"orders.order-{n}", [placed("a", n)], expected_version=0)
    catchup_projection(ledger)
    CustomerLedger.objects.filter(customer="a").update(total=0)  # the old, wrong answer
    ledger.gate = threading.Event()
    ledger.reached_gate.clear()
    done: list[int] = []

    def rebuild() -> None:
        try:
            done.append(projection_rebuild(ledger, actor="cli:test"))
        finally:
            connections.close_all()

    thread = threading.Thread(target=rebuild)
    thread.start()
    assert ledger.reached_gate.wait(timeout=10)  # mid-rebuild: rows deleted, first batch in

    assert ledger_rows() == {"a": (7, 0)}  # a reader still sees the old rows, no error

    ledger.gate.set()
    thread.join(timeout=20)
    assert done == [7]
    assert ledger_rows() == {"a": (7, 28)}  # switched at the commit


def test_projections_command_shows_status_and_runs_catchup_and_rebuild(
    ledger: CustomerLedgerProjection,
) -> None:
    ledger.healed = True
    append("orders.order-1", [placed("a", 1), placed("a", 2)], expected_version=0)
    ProjectionCheckpoint.objects.filter(name=ledger.name).update(position=0)
    out, err = StringIO(), StringIO()

    call_command("projections", "catchup", stdout=out, stderr=err)
    call_command("projections", "rebuild", ledger.name, stdout=out, stderr=err)
    call_command("projections", "status", stdout=out, stderr=err)

    text = out.getvalue()
    assert "orders.customer_ledger [default]: position" in text
    assert "lag 0 event(s)" in text
    assert "rebuilt, 2 event(s) applied" in text
    assert "rebuild orders.customer_ledger" in err.getvalue()  # the progress line
    assert ledger_rows() == {"a": (2, 3)}


def test_a_parked_projection_shows_in_status_and_in_the_metrics(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed("a", 1, poison=True)], expected_version=0)
    catchup_projection(ledger)
    out = StringIO()
    call_command("projections", "status", stdout=out)
    assert "PARKED at" in out.getvalue()

    families = {family.name: family for family in ProjectionLagCollector().collect()}
    samples = {
        name: [s.value for s in families[name].samples if s.labels["projection"] == ledger.name]
        for name in families
    }
    assert samples["cleave_projection_parked"] == [1]
    assert samples["cleave_projection_lag_events"] == [1]
    assert samples["cleave_projection_lag_seconds"][0] >= 0


def test_appending_catches_projections_up_after_commit_in_embedded_mode(
    ledger: CustomerLedgerProjection,
) -> None:
    if not settings.CLEAVE_EVENTS_INPROCESS:
        pytest.skip("real mode hands catch-up to a Celery task (the worker test below)")
    append("orders.order-1", [placed("a", 4)], expected_version=0)
    assert ledger_rows() == {"a": (1, 4)}


@pytest.fixture(scope="module")
def worker(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    from cleave.celery import app

    app.control.purge()  # messages left by an earlier, interrupted run
    test_database = settings.DATABASES["default"]["NAME"]
    url = settings.CONFIG.database
    database_url = f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{test_database}"
    env = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "cleave.tests.settings"}
    with celery_worker(queues=["celery"], env=env):
        yield


@pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis and a worker")
def test_appending_catches_projections_up_through_a_worker_in_real_mode(worker: None) -> None:
    append("orders.order-1", [placed("a", 4)], expected_version=0)
    append("orders.order-2", [placed("a", 5)], expected_version=0)
    wait_for(lambda: ledger_rows() == {"a": (2, 9)}, timeout=20)
    wait_for(lambda: projection_lag(CustomerLedgerProjection()).events == 0, timeout=20)
