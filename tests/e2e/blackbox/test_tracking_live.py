"""Live location sharing over the socket: a share's recipient follows the sharer's
`location:<id>` stream and gets `location.updated` for each upload, whether it came over REST or
as a `tracking.batch` frame; a revoked share leaves the stream and pushes nothing more.

In the split topology the realtime service does not host tracking and still serves its streams
and frames: it asks tracking's service (docs/extraction.md).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import ws
from client import Api, User, expect

TRACKING = "/api/v1/tracking"


def _point(lat: float, lon: float) -> dict[str, Any]:
    return {"t": (datetime.now(UTC) - timedelta(seconds=20)).isoformat(), "lat": lat,
            "lon": lon, "accuracy": 7}  # fmt: skip


def _batch(*points: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": f"e2e-live-{uuid.uuid4().hex[:12]}",
        "device_time": datetime.now(UTC).isoformat(),
        "points": list(points),
    }


def test_a_share_recipient_gets_every_upload_until_the_share_is_revoked(
    api: Api, alice: User, bob: User, websocket_url: str
) -> None:
    as_alice = api.as_(alice)
    stream = f"location:{alice.id}"
    updated = ws.event("location.updated", stream)
    expect(as_alice.put(f"{TRACKING}/consent", {"granted": True}), 200)
    share = expect(as_alice.post(f"{TRACKING}/shares", {"user_id": bob.id, "minutes": 5}), 201)
    try:
        assert share["stream"] == stream
        with (
            ws.socket(websocket_url, bob.access) as bob_socket,
            ws.socket(websocket_url, alice.access) as alice_socket,
        ):
            # Over REST: the newest point of the batch reaches Bob.
            expect(as_alice.post(f"{TRACKING}/batches", _batch(_point(52.52, 13.40))), 200)
            frame = ws.until(bob_socket, updated)
            assert frame["data"]["user_id"] == alice.id
            assert (frame["data"]["lat"], frame["data"]["lon"]) == (52.52, 13.40)

            # Over the socket: acked like the REST answer, a bad item rejected, and pushed too.
            body = _batch(_point(52.53, 13.41), {"lat": 300, "lon": 0, "accuracy": 5})
            ws.send(alice_socket, {"type": "tracking.batch", "id": "up-1", **body})
            ack = ws.until(alice_socket, lambda f: f.get("id") == "up-1")
            assert ack["type"] == "ack", ack
            assert ack["result"]["accepted"] == {"points": 1, "actions": 0}
            assert ack["result"]["rejected"] == 1
            frame = ws.until(bob_socket, updated)
            assert (frame["data"]["lat"], frame["data"]["lon"]) == (52.53, 13.41)

            # Revoked: Bob's socket leaves the stream and hears nothing of the next upload.
            expect(as_alice.request("DELETE", f"{TRACKING}/shares/{share['id']}"), 200)
            left = ws.until(bob_socket, ws.event("stream.left", f"user:{bob.id}"))
            assert left["data"] == {"stream": stream}
            expect(as_alice.post(f"{TRACKING}/batches", _batch(_point(52.54, 13.42))), 200)
            assert not [f for f in ws.drain(bob_socket, seconds=1.0) if updated(f)]
    finally:
        as_alice.request("DELETE", f"{TRACKING}/shares/{share['id']}")
        expect(as_alice.put(f"{TRACKING}/consent", {"granted": False}), 200)


def test_a_stranger_cannot_resume_a_location_stream(
    alice: User, erin: User, websocket_url: str
) -> None:
    with ws.socket(websocket_url, erin.access) as conn:
        ws.send(conn, {"type": "resume", "id": "r", "streams": {f"location:{alice.id}": 0}})
        answer = ws.until(conn, lambda f: f.get("id") == "r")
    assert answer["streams"][f"location:{alice.id}"] == {"recovered": False, "reason": "forbidden"}
