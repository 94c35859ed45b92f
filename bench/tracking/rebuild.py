"""Rebuild: every tracking projection replayed from zero over the whole log, against the floor
of reading and decrypting the same events with psycopg alone (pages of 1,000 by position,
AES-GCM under each user's data key, JSON parsed, points counted).

The floor gets the users' data keys before its clock starts (they are wrapped by the
keyring, which is Django's); the rebuild looks them up as it goes, as it does in production.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

PAGE = 1000


def rebuild_all() -> dict[str, float]:
    """Seconds per tracking projection, rebuilt one after another (as an operator would)."""
    from cleave.eventstore.projections import registered_projections
    from cleave.eventstore.rebuild import projection_rebuild

    took = {}
    for projection in registered_projections():
        if projection.name.startswith("tracking."):
            began = time.perf_counter()
            projection_rebuild(projection, actor="bench/tracking")
            took[projection.name] = time.perf_counter() - began
    return took


def floor_read() -> tuple[int, int, float]:
    """(events, points, seconds): the log read and opened by psycopg alone."""
    import psycopg
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from cleave.crypto.cipher import NONCE_BYTES
    from cleave.crypto.models import SubjectKey
    from cleave.crypto.subject_keys import SEALED_PREFIX, _decode, subject_keys
    from cleave.eventstore.payloads import event_binding

    subjects = SubjectKey.objects.values_list("subject", flat=True)
    keys = {s: AESGCM(k) for s, k in subject_keys(list(subjects), using="default").items() if k}
    events = points = 0
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        began = time.perf_counter()
        after = 0
        while rows := conn.execute(
            "SELECT id, stream, stream_version, type, payload, subject FROM cleave_event "
            "WHERE id > %s AND stream LIKE 'tracking.device-%%' ORDER BY id LIMIT %s",
            [after, PAGE],
        ).fetchall():
            for _, stream, version, type_, payload, subject in rows:
                blob = _decode(payload[len(SEALED_PREFIX) :])
                binding = event_binding(stream, version, type_).encode()
                data: dict[str, Any] = json.loads(
                    keys[subject].decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], binding)
                )
                points += len(data.get("points", ()))
            events += len(rows)
            after = rows[-1][0]
        conn.commit()
        seconds = time.perf_counter() - began
    return events, points, seconds
