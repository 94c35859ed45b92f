"""Uploads from phones: a batch of points and actions, recorded once per batch_id.

Consent is checked under the user's consent row lock (a revocation waits for an upload in
flight and stops the next). Every upload of the user holds that lock, and the statement taking
it also reads whether the batch_id was recorded: a retry answers the first upload's result
instead of appending again. The ledger row is written last, with the result, in one INSERT; an
identical upload that waited for the lock while the first committed (the lock's statement read
before that commit) meets the ledger's unique key instead, rolls back whole, and then answers
the first's result too. Items are judged one by one (domain.validation); the valid points go
to the device's trips (services.devices) as one `PointsRecorded` per trip. Whether a live
share is on, for the frame pushed after commit, is read in the lock's statement as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.tracking.config import tracking_setting
from apps.tracking.domain.validation import Action, Limits, Point, check_batch
from apps.tracking.error_codes import BatchConflict, ConsentRequired
from apps.tracking.models import Batch
from apps.tracking.selectors import DB, batch_get, upload_gate_lock
from apps.tracking.services.devices import device_record, device_record_actions, to_ms
from apps.tracking.services.shares import live_location_push


def limits() -> Limits:
    return Limits(
        max_skew=timedelta(seconds=tracking_setting("CLEAVE_TRACKING_MAX_SKEW_SECONDS")),
        future_tolerance=timedelta(
            seconds=tracking_setting("CLEAVE_TRACKING_FUTURE_TOLERANCE_SECONDS")
        ),
        max_age=timedelta(seconds=tracking_setting("CLEAVE_TRACKING_MAX_AGE_SECONDS")),
    )


def body_hash(*, points: Sequence[Any], actions: Sequence[Any]) -> str:
    """What makes a batch the same batch: its items. Not `device_time`: a retry is stamped
    when it is sent again."""
    canonical = json.dumps([list(points), list(actions)], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def point_row(point: Point) -> list[Any]:
    return [
        to_ms(point.t),
        point.lat,
        point.lon,
        point.accuracy,
        point.speed,
        point.heading,
        point.activity,
    ]


def action_row(action: Action) -> list[Any]:
    return [to_ms(action.t), action.kind, dict(action.data)]


def batch_ingest(
    *,
    user_id: int,
    session_id: str,
    batch_id: str,
    device_time: datetime,
    points: Sequence[Any],
    actions: Sequence[Any],
) -> dict[str, Any]:
    """Record a batch once; the result (`replayed` true for a batch_id already recorded)."""
    upload = Upload(
        user_id=user_id,
        session_id=session_id,
        batch_id=batch_id,
        device_time=device_time,
        received_at=timezone.now(),
        digest=body_hash(points=points, actions=actions),
    )
    try:
        return _record(upload, points=points, actions=actions)
    except IntegrityError:
        # The ledger's unique key, after waiting for an identical upload (the module's note).
        first = batch_get(user_id=user_id, batch_id=batch_id)
        if first is None:
            raise
        return _replayed(first, digest=upload.digest)


@dataclass(frozen=True)
class Upload:
    user_id: int
    session_id: str
    batch_id: str
    device_time: datetime
    received_at: datetime
    digest: str


def _record(upload: Upload, *, points: Sequence[Any], actions: Sequence[Any]) -> dict[str, Any]:
    user_id, session_id, batch_id = upload.user_id, upload.session_id, upload.batch_id
    with transaction.atomic(using=DB):
        gate = upload_gate_lock(user_id=user_id, batch_id=batch_id)
        if not gate.granted:
            raise ConsentRequired()
        if gate.recorded:
            first = batch_get(user_id=user_id, batch_id=batch_id)
            if first is not None:  # None only if an account deletion removed it meanwhile
                return _replayed(first, digest=upload.digest)
        checked = check_batch(
            points=points,
            actions=actions,
            device_time=upload.device_time,
            received_at=upload.received_at,
            limits=limits(),
        )
        rows = [point_row(point) for point in checked.points]
        trip_ids = device_record(
            user_id=user_id, session_id=session_id, batch_id=batch_id, rows=rows
        )
        device_record_actions(
            user_id=user_id,
            session_id=session_id,
            batch_id=batch_id,
            actions=[action_row(action) for action in checked.actions],
        )
        result = {
            "batch_id": batch_id,
            "accepted": {"points": len(checked.points), "actions": len(checked.actions)},
            "rejected": len({(error.item, error.index) for error in checked.errors}),
            "errors": [error.as_dict() for error in checked.errors],
            "skew_seconds": checked.skew.total_seconds(),
            "trip_ids": trip_ids,
        }
        Batch.objects.using(DB).create(
            user_id=user_id,
            batch_id=batch_id,
            body_hash=upload.digest,
            received_at=upload.received_at,
            result=result,
        )
        if checked.points:
            live_location_push(user_id=user_id, point=checked.points[-1], sharing=gate.sharing)
    return {**result, "replayed": False}


def _replayed(first: Batch, *, digest: str) -> dict[str, Any]:
    if first.body_hash != digest:
        raise BatchConflict(details={"batch_id": first.batch_id})
    return {**first.result, "replayed": True}
