"""`manage.py context_data` moves a context's event store with it: its streams' events (new ids,
the same order, payloads still open with the moved data keys), snapshots, and its projections'
checkpoints pointing at the same events; another context's rows stay behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError

from cleave.crypto.models import SubjectKey
from cleave.eventstore import NewEvent, append, save_snapshot
from cleave.eventstore.models import (
    ProjectionAudit,
    ProjectionCheckpoint,
    StoredEvent,
    StoredSnapshot,
)
from cleave.eventstore.store import _COLUMNS, decode_rows
from cleave_deploy.tests.test_context_data import (  # the target database and the commands
    TARGET,
    _export,
    _import,
    _target_database,  # noqa: F401 - an autouse fixture, here by import
    _verify,
)

pytestmark = pytest.mark.django_db(databases=["default", "target"])
target = TARGET


def _event(stream: str, version: int, subject: str | None = None, **data: object) -> int:
    append(stream, [NewEvent("shipping.ParcelMoved", dict(data), subject=subject)],
           expected_version=version - 1)  # fmt: skip
    return StoredEvent.objects.get(stream=stream, stream_version=version).id


@pytest.fixture
def shipping_log() -> dict[str, int]:
    """Shipping's streams interleaved with another context's, a snapshot, checkpoints."""
    ids = {
        "a1": _event("shipping.parcel-1", 1, "user:7", lat=48.8566),
        "other": _event("orders.order-1", 1, "user:7", total=3),
        "a2": _event("shipping.parcel-1", 2, "user:7", lat=48.8567),
        "b1": _event("shipping.parcel-2", 1, None, lat=1.5),
    }
    save_snapshot("shipping.parcel-1", 2, {"at": 2}, subject="user:7")
    ProjectionCheckpoint.objects.create(name="shipping.parcels", position=ids["a2"])
    ProjectionCheckpoint.objects.create(
        name="shipping.late", position=ids["a1"], parked_position=ids["a2"], parked_error="boom"
    )
    ProjectionCheckpoint.objects.create(name="orders.totals", position=ids["other"])
    ProjectionAudit.objects.create(
        projection="shipping.late", action="skip", position=ids["a1"], actor="staff"
    )
    return ids


def _log(alias: str, context: str) -> list[tuple[str, int, object]]:
    rows = StoredEvent.objects.using(alias).filter(stream__startswith=f"{context}.")
    events = decode_rows(rows.order_by("id").values_list(*_COLUMNS), alias=alias,
                         skip_forgotten=False)  # fmt: skip
    return [(e.stream, e.stream_version, e.data) for e in events]


def test_a_contexts_event_store_moves_and_its_checkpoints_point_at_the_same_events(
    tmp_path: Path, shipping_log: dict[str, int]
) -> None:
    # The target's log already holds another context's events: the moved ones get new ids.
    append("orders.order-9", [NewEvent("orders.Placed", {"n": 1})], expected_version=0)
    StoredEvent.objects.using(target).bulk_create(
        [StoredEvent(stream="orders.order-9", stream_version=v, type="orders.X", payload="{}")
         for v in range(1, 6)]
    )  # fmt: skip
    dump = _export("shipping", tmp_path / "shipping.jsonl")

    _import("shipping", dump)

    assert _log(target, "shipping") == _log("default", "shipping")  # decrypted, same order
    assert [row[0] for row in _log(target, "shipping")] == [
        "shipping.parcel-1", "shipping.parcel-1", "shipping.parcel-2"
    ]  # fmt: skip
    moved = dict(
        StoredEvent.objects.using(target)
        .filter(stream__startswith="shipping.")
        .values_list("stream_version", "id")
        .filter(stream="shipping.parcel-1")
    )
    assert moved[1] != shipping_log["a1"]  # renumbered after the target's own events
    checkpoints = ProjectionCheckpoint.objects.using(target)
    assert checkpoints.get(name="shipping.parcels").position == moved[2]
    late = checkpoints.get(name="shipping.late")
    assert (late.position, late.parked_position, late.parked_error) == (moved[1], moved[2], "boom")
    assert ProjectionAudit.objects.using(target).get().position == moved[1]
    assert not checkpoints.filter(name="orders.totals").exists()
    assert StoredSnapshot.objects.using(target).get().stream == "shipping.parcel-1"
    assert list(SubjectKey.objects.using(target).values_list("subject", flat=True)) == ["user:7"]
    assert not StoredEvent.objects.using(target).filter(stream="orders.order-1").exists()
    _verify("shipping", dump)
    _verify("shipping", dump, alias="default")


@pytest.mark.usefixtures("shipping_log")
def test_replacing_a_moved_log_goes_around_the_append_only_rule(tmp_path: Path) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")
    _import("shipping", dump)

    with pytest.raises(CommandError, match="already holds shipping rows"):
        _import("shipping", dump)
    _import("shipping", dump, "--replace")

    assert StoredEvent.objects.using(target).filter(stream__startswith="shipping.").count() == 3
    assert SubjectKey.objects.using(target).count() == 1  # merged, never deleted
    _verify("shipping", dump)


@pytest.mark.usefixtures("shipping_log")
def test_a_target_with_another_key_for_the_subject_refuses_the_import(tmp_path: Path) -> None:
    dump = _export("shipping", tmp_path / "shipping.jsonl")
    SubjectKey.objects.using(target).create(subject="user:7", data_key="A" * 43)

    with pytest.raises(CommandError, match="other data keys"):
        _import("shipping", dump)

    assert not StoredEvent.objects.using(target).exists()
