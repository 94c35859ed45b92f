"""`manage.py context_data`: a context's rows move to another database and are proven equal;
a tampered file, a non-empty target or a differing database fail loudly."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import override_settings

from cleave.events.models import (
    AggregateSequence,
    FailedDelivery,
    InboxEntry,
    InboxPosition,
    OutboxEvent,
)
from cleave.tests.example.shipping.models import Invoice, Shipment

pytestmark = pytest.mark.django_db(databases=["default", "target"])
TARGET = "target"
PLACED = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)  # microseconds must survive


@contextmanager
def _alias(alias: str, path: Path) -> Iterator[str]:
    """A SQLite database known to Django as `alias` for the duration of the block."""
    # configure_settings fills in every key Django expects (it insists on a default, too).
    configured = connections.configure_settings(
        {"default": {}, alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}}
    )[alias]
    connections.settings[alias] = configured
    if settings.DATABASES is not connections.settings:
        settings.DATABASES[alias] = configured
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        connections.settings.pop(alias, None)
        settings.DATABASES.pop(alias, None)


@pytest.fixture(scope="module", autouse=True)
def _target_database(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any
) -> Iterator[str]:
    """A fully migrated, empty SQLite database as alias `target`: a new service's database.

    Migrated without routers, so every table exists in it as in a service's own database
    (there, the context's alias *is* `default`). Module-scoped so that it exists before each
    test's transaction opens on it; that transaction's rollback empties it between tests.
    Added after the test databases exist (django_db_setup), so the runner never renames it."""
    path = tmp_path_factory.mktemp("target") / "target.sqlite3"
    with _alias(TARGET, path):
        with django_db_blocker.unblock(), override_settings(DATABASE_ROUTERS=[]):
            call_command("migrate", database=TARGET, verbosity=0, interactive=False)
        connections[TARGET].close()
        yield TARGET


@pytest.fixture
def target() -> str:
    return TARGET


def _inbox(subscriber: str) -> InboxEntry:
    return InboxEntry.objects.create(
        event_id=uuid.uuid4(), subscriber=subscriber, event_type="orders.order_placed"
    )


@pytest.fixture
def shipping_rows() -> None:
    for order_id in (1, 2, 3):
        Shipment.objects.create(order_id=order_id, total=10 * order_id, placed_at=PLACED)
    Invoice.objects.create(order_id=1, total=10, placed_at=PLACED)
    _inbox("shipping.on_order_placed")
    _inbox("shipping.on_orders_paid")
    _inbox("orders.on_something")  # another context's: stays behind
    FailedDelivery.objects.create(
        subscriber="shipping.on_order_placed",
        event_id=uuid.uuid4(),
        event_type="orders.order_placed",
        aggregate_id="order-9",
        envelope={"payload": {"order_id": 9}},
        status=FailedDelivery.Status.DEAD,
    )
    # Where shipping's aggregates' numbering reached, and where its subscribers' marks are.
    AggregateSequence.objects.create(
        event_type="shipping.shipment_sent", aggregate_id="1", last_seq=7
    )
    AggregateSequence.objects.create(event_type="orders.order_placed", aggregate_id="1", last_seq=3)
    InboxPosition.objects.create(
        subscriber="shipping.on_order_placed", aggregate_id="1", applied_seq=3
    )
    InboxPosition.objects.create(subscriber="orders.on_something", aggregate_id="1", applied_seq=1)


def _export(context: str, path: Path) -> Path:
    call_command("context_data", "export", context, "--output", str(path), stdout=_Quiet())
    return path


def _import(context: str, path: Path, *extra: str) -> None:
    call_command(
        "context_data",
        "import",
        context,
        "--input",
        str(path),
        "--database",
        TARGET,
        *extra,
        stdout=_Quiet(),
    )


def _verify(context: str, path: Path, alias: str = TARGET) -> None:
    call_command(
        "context_data",
        "verify",
        context,
        "--input",
        str(path),
        "--database",
        alias,
        stdout=_Quiet(),
    )


class _Quiet:
    def write(self, text: str) -> None:
        return

    def flush(self) -> None:
        return


@pytest.mark.usefixtures("shipping_rows")
def test_exported_rows_imported_elsewhere_are_identical_down_to_the_microsecond(
    tmp_path: Path, target: str
) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")

    _import("shipping", dump)

    source = list(Shipment.objects.order_by("pk").values())
    moved = list(Shipment.objects.using(target).order_by("pk").values())
    assert moved == source
    assert moved[0]["placed_at"] == PLACED
    assert Invoice.objects.using(target).count() == 1
    subscribers = set(InboxEntry.objects.using(target).values_list("subscriber", flat=True))
    assert subscribers == {"shipping.on_order_placed", "shipping.on_orders_paid"}
    assert FailedDelivery.objects.using(target).get().status == "dead"
    # The moved service numbers its aggregates on from where they were, and its subscribers
    # keep their marks (without them an event numbered 1 again would be parked as late).
    sequences = AggregateSequence.objects.using(target).values_list("event_type", "last_seq")
    assert list(sequences) == [("shipping.shipment_sent", 7)]
    positions = InboxPosition.objects.using(target).values_list("subscriber", "applied_seq")
    assert list(positions) == [("shipping.on_order_placed", 3)]
    _verify("shipping", dump)  # and the source still matches its own export
    _verify("shipping", dump, alias="default")


@pytest.mark.usefixtures("shipping_rows")
def test_the_file_carries_a_manifest_of_counts_and_checksums(tmp_path: Path) -> None:
    lines = _export("shipping", tmp_path / "shipping.jsonl").read_text().splitlines()
    header, manifest = json.loads(lines[0]), json.loads(lines[-1])["manifest"]
    assert header["context"] == "shipping"
    assert manifest["models"]["shipping.shipment"]["rows"] == 3
    assert manifest["models"]["cleave.inboxentry"]["rows"] == 2
    assert len(manifest["sha256"]) == 64


@pytest.mark.usefixtures("shipping_rows")
def test_export_and_import_show_rows_done_of_total_with_rate_and_eta(
    tmp_path: Path, target: str
) -> None:
    path = tmp_path / "shipping.jsonl"
    exported, imported = StringIO(), StringIO()
    call_command(
        "context_data", "export", "shipping", "--output", str(path),
        stdout=_Quiet(), stderr=exported,
    )  # fmt: skip
    call_command(
        "context_data", "import", "shipping", "--input", str(path), "--database", TARGET,
        stdout=_Quiet(), stderr=imported,
    )  # fmt: skip
    rows = sum(1 for _ in path.open()) - 2  # less the header and the manifest
    for shown, verb in ((exported, "export"), (imported, "import")):
        last = shown.getvalue().splitlines()[-1]  # off a terminal: plain lines, no \r
        assert last.startswith(f"{verb} shipping: {rows}/{rows} rows (100%), "), last
        assert " rows/s, ETA " in last


@pytest.mark.usefixtures("shipping_rows")
def test_exporting_twice_gives_the_same_file(tmp_path: Path) -> None:
    first = _export("shipping", tmp_path / "a.jsonl").read_bytes()
    assert _export("shipping", tmp_path / "b.jsonl").read_bytes() == first


@pytest.mark.usefixtures("shipping_rows")
def test_importing_twice_is_refused_unless_replacing(tmp_path: Path, target: str) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")
    _import("shipping", dump)

    with pytest.raises(CommandError, match="already holds shipping rows"):
        _import("shipping", dump)

    _import("shipping", dump, "--replace")
    assert Shipment.objects.using(target).count() == 3
    assert InboxEntry.objects.using(target).count() == 2


@pytest.mark.usefixtures("shipping_rows")
def test_a_tampered_row_fails_verify_and_import_writes_nothing(tmp_path: Path, target: str) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")
    _import("shipping", dump)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(dump.read_text().replace('"total":20', '"total":21', 1))
    assert tampered.read_text() != dump.read_text()

    with pytest.raises(CommandError, match="does not match its own manifest"):
        _verify("shipping", tampered)
    with pytest.raises(CommandError, match="does not match its own manifest"):
        _import("shipping", tampered, "--replace")
    assert Shipment.objects.using(target).filter(total=21).count() == 0


@pytest.mark.usefixtures("shipping_rows")
def test_verify_fails_when_the_database_drifted_from_the_file(tmp_path: Path, target: str) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")
    _import("shipping", dump)
    Shipment.objects.using(target).filter(order_id=2).update(total=99)

    with pytest.raises(CommandError, match=r"shipping\.shipment: expected 3 rows"):
        _verify("shipping", dump)


@pytest.mark.usefixtures("shipping_rows")
def test_a_cut_file_without_manifest_is_refused(tmp_path: Path, target: str) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(dump.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(CommandError, match="no manifest"):
        _import("shipping", cut)
    assert not Shipment.objects.using(target).exists()


def test_users_keep_groups_and_permissions_referred_to_by_natural_key(
    tmp_path: Path, target: str
) -> None:
    # Content type and permission ids differ between databases; names do not.
    permission = Permission.objects.get(codename="view_group")
    support = Group.objects.create(name="support")  # new; the migrations' role groups exist
    support.permissions.add(permission)
    user = get_user_model().objects.create_user(email="ada@example.com", password="x" * 12)
    user.groups.add(support)
    user.user_permissions.add(permission)
    dump = _export("identity", tmp_path / "identity.jsonl")

    _import("identity", dump)

    moved = get_user_model().objects.using(target).get(email="ada@example.com")
    moved_groups = Group.objects.using(target).filter(user=moved)
    assert [group.name for group in moved_groups] == ["support"]
    granted_to_group = Permission.objects.using(target).filter(group__name="support")
    assert [p.codename for p in granted_to_group] == ["view_group"]
    granted = Permission.objects.using(target).filter(user=moved)
    assert [p.codename for p in granted] == ["view_group"]
    assert "view_group" in dump.read_text()  # natural key, not an id


def test_export_refuses_while_events_wait_in_the_outbox(tmp_path: Path) -> None:
    OutboxEvent.objects.create(
        event_id=uuid.uuid4(),
        event_type="shipping.x",
        version=1,
        context="shipping",
        aggregate_id="1",
        envelope={},
    )
    with pytest.raises(CommandError, match="still in the outbox"):
        _export("shipping", tmp_path / "shipping.jsonl")
    call_command(
        "context_data",
        "export",
        "shipping",
        "--output",
        str(tmp_path / "s.jsonl"),
        "--allow-pending",
        stdout=_Quiet(),
    )


def test_an_unknown_context_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unknown context 'billing'"):
        _export("billing", tmp_path / "billing.jsonl")


def test_a_reference_the_target_cannot_resolve_fails_the_import_and_rolls_back(
    tmp_path: Path, target: str
) -> None:
    # A service database lacks the permissions of contexts it does not host.
    user = get_user_model().objects.create_user(email="ada@example.com", password="x" * 12)
    user.user_permissions.add(Permission.objects.get(codename="view_group"))
    dump = _export("identity", tmp_path / "identity.jsonl")
    Permission.objects.using(target).filter(codename="view_group").delete()

    with pytest.raises(CommandError, match="failed and was rolled back"):
        _import("identity", dump)
    assert not get_user_model().objects.using(target).exists()
