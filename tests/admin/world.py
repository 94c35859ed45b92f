"""A small world with a row in every admin screen, made the way the system makes it: accounts
through `users_create`, everything else through the public API (events delivered in-process),
a flag through its audited service, and a dead letter by a subscriber that really fails (the
kernel's example contexts: an outage makes shipping's subscriber raise)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from apps.identity.services.roles import user_access_set
from apps.payments.services.intents import intent_create
from apps.recommendations.services import signals as recommendation_signals
from apps.ticketing import demo as ticketing_demo
from apps.ticketing.services import checkins as ticketing_checkins
from apps.ticketing.services import tickets as ticketing_tickets
from apps.ticketing.services import waiting_room as ticketing_waiting_room
from apps.tracking.models import Geofence
from cleave.app_versions.policy import policy_save
from cleave.events.models import FailedDelivery
from cleave.eventstore import NewEvent, append
from cleave.eventstore.projections import projection_named
from cleave.eventstore.rebuild import projection_rebuild
from cleave.flags.changes import flag_kill, flag_save
from cleave.sagas import saga_start
from cleave.testing.processes import free_port
from cleave.tests.example.orders.sagas import CHECKOUT
from cleave.tests.example.orders.services import order_place
from cleave.tests.example.shipping.models import Outage

STAFF_EMAIL = "staff@example.com"
PASSWORD = "admin-world-password-1"
CANARY = "new_inbox"
AREA_CELL = "881fb46625fffff"  # an H3 resolution-8 cell in Paris, where the demo shows are


@dataclass(frozen=True)
class World:
    ada: dict[str, Any]  # the login answer: access, refresh, session_id, user
    grace: dict[str, Any]
    conversation_id: str
    message_id: str
    dead_letter_id: int


def _api(access: str | None = None) -> Client:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {access}"} if access else {}
    return Client(REMOTE_ADDR="198.51.100.20", **headers)


def _ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201)), response.content
    return response.json() if response.content else None


def account(email: str, name: str, *, push_token: str) -> dict[str, Any]:
    call_command("users_create", email=email, password=PASSWORD, display_name=name, verified=True)
    device = {"device_id": f"{name}-phone", "platform": "ios", "app_version": "3.1.0"}
    answer = _ok(
        _api().post(
            "/api/v1/auth/login",
            {"email": email, "password": PASSWORD, "device": {**device, "push_token": push_token}},
            content_type="application/json",
        )
    )
    return dict(answer)


def _tracking(as_ada: Client) -> None:
    """Ada opts in and uploads two hours' points: a visit to staff's geofence, and a gap that
    ends her first trip (consent, its audit, trips and visits on their screens)."""
    Geofence.objects.create(name="Office", lat=48.0, lon=2.0, radius_m=100)  # staff's setting
    _ok(as_ada.put("/api/v1/tracking/consent", {"granted": True}, content_type="application/json"))
    now = timezone.now()

    def point(minutes_ago: int, lat: float) -> dict[str, Any]:
        t = (now - timedelta(minutes=minutes_ago)).isoformat()
        return {"t": t, "lat": lat, "lon": 2.0, "accuracy": 5}

    for batch_id, points in (
        ("w-1", [point(120, 48.0), point(119, 48.0), point(117, 48.0), point(116, 48.01)]),
        ("w-2", [point(60, 48.02)]),
    ):
        body = {"batch_id": batch_id, "device_time": now.isoformat(), "points": points}
        _ok(as_ada.post("/api/v1/tracking/batches", body, content_type="application/json"))


def _ticketing(as_ada: Client, ada_id: int) -> None:
    """The demo shows; Ada holds two seats through the API, one hold becomes her tickets and a
    door scanner checks one in; she buys one more seat (an order); then the show's on-sale gets
    a waiting room, and Ada a place in its queue."""
    ticketing_demo.seed()
    show = _ok(as_ada.get("/api/v1/ticketing/shows"))["items"][0]
    category = _ok(as_ada.get(f"/api/v1/ticketing/shows/{show['id']}"))["categories"][0]
    body = {"category_id": category["id"], "quantity": 1}
    _ok(as_ada.post("/api/v1/ticketing/holds", body, content_type="application/json"), 201)
    hold = _ok(as_ada.post("/api/v1/ticketing/holds", body, content_type="application/json"), 201)
    ticketing_tickets.tickets_issue(hold_id=hold["id"], order_ref="world")
    token = _ok(as_ada.get("/api/v1/ticketing/tickets"))["items"][0]["token"]
    scan = ticketing_checkins.Scan(token=token, gate="A", scanned_at=datetime.now(UTC))
    ticketing_checkins.checkins_record(show_id=show["id"], scanner_user_id=ada_id, scans=[scan])
    # An order bought with a saved test card: the purchase saga runs to its end (its timeline
    # is on the order's admin page). The in-process test provider, in either mode.
    with override_settings(CLEAVE_PAYMENTS_PROVIDER="test"):
        order = {"category_id": category["id"], "quantity": 1, "payment_method": "pm_card_visa"}
        _ok(
            as_ada.post(
                "/api/v1/ticketing/orders", order, content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="world-order",
            ),
            201,
        )  # fmt: skip
    # Then the show's on-sale gets a waiting room, and Ada a place in its queue.
    ticketing_waiting_room.waiting_room_set(show_id=show["id"], admissions_per_second=50)
    _ok(as_ada.post(f"/api/v1/ticketing/shows/{show['id']}/queue"))


def _recommendations(as_ada: Client, ada_id: int) -> None:
    """Ada reads her list (an exposure of her variant) and clicks a show in it; a second
    show's ticket makes her a co-buyer of the two; an area's activity and a geofence's cell
    arrive as tracking's events and staff would leave them."""
    listed = _ok(as_ada.get("/api/v1/recommendations"))
    shows = _ok(as_ada.get("/api/v1/ticketing/shows"))["items"]
    clicked = listed["items"][0]["show_id"] if listed["items"] else shows[0]["id"]
    feedback = {"show_id": clicked, "kind": "click"}
    _ok(as_ada.post("/api/v1/recommendations/feedback", feedback, content_type="application/json"))
    recommendation_signals.ticket_record(
        ticket_id=str(uuid.uuid4()), user_id=ada_id, show_id=shows[1]["id"], order_ref="world"
    )
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    recommendation_signals.area_activity_record(cell=AREA_CELL, hour=now, visitors=7)
    recommendation_signals.geofence_cell_set(geofence_id=1, cell=AREA_CELL, note="world")


def world_make() -> World:
    """The world, with events delivered in-process as embedded mode delivers them: in real
    mode the subscribers' rows (devices, inbox items, mirrored blocks) would otherwise wait
    for an events worker this test process does not run."""
    with override_settings(CLEAVE_EVENTS_INPROCESS=True):
        return _world_make()


def _world_make() -> World:
    get_user_model().objects.create_superuser(STAFF_EMAIL, PASSWORD, display_name="Staff")
    ada = account("ada@example.com", "Ada", push_token="ada-token-" + "a" * 40)
    grace = account("grace@example.com", "Grace", push_token="grace-token-" + "g" * 40)
    linus = account("linus@example.com", "Linus", push_token="linus-token-" + "l" * 40)
    as_ada = _api(ada["access"])
    direct = _ok(
        as_ada.post(
            "/api/v1/conversations",
            {"kind": "direct", "members": [grace["user"]["id"]]},
            content_type="application/json",
        )
    )
    message = _ok(
        as_ada.post(
            f"/api/v1/conversations/{direct['id']}/messages",
            {"text": "an offending message", "client_msg_id": "m-1"},
            content_type="application/json",
        )
    )
    group = _ok(
        as_ada.post(
            "/api/v1/conversations",
            {"kind": "group", "title": "Book club", "members": [grace["user"]["id"]]},
            content_type="application/json",
        )
    )
    assert group["id"]
    _ok(as_ada.post(f"/api/v1/users/{linus['user']['id']}/block"), 204)
    _tracking(as_ada)
    # Roles are groups; their rows come from a migration, which a transactional test's flush
    # empties, so the world makes the one it gives.
    moderators, _ = Group.objects.get_or_create(name="moderator")
    user_access_set(user_id=linus["user"]["id"], group_ids=[moderators.pk])
    flag_save(name=CANARY, changes={"percent": 5, "client_visible": True}, actor="world")
    flag_kill(name=CANARY, killed=False, actor="world")  # its kill switch, armed but off
    # Android apps older than 1.0.0 are told to update (the world's apps are iOS 3.1.0).
    policy_save(
        platform="android",
        changes={
            "minimum_version": "1.0.0",
            "recommended_version": "1.2.0",
            "store_url": "https://play.google.com/store/apps/details?id=app.cleave",
        },
        actor="world",
    )
    # A payment of Ada's (made by the service, as a seller would), authorized through the
    # test-mode confirmation: the test provider's webhooks, delivered in process, fill the
    # webhook screen.
    with override_settings(CLEAVE_PAYMENTS_PROVIDER="test"):
        intent = intent_create(
            amount=2500,
            currency="eur",
            reference="order:world",
            # The test provider outlives a test's database: a key of its own every time.
            idempotency_key=f"world-payment-{uuid.uuid4()}",
            owner_user_id=ada["user"]["id"],
        )
        _ok(
            as_ada.post(
                f"/api/v1/payments/intents/{intent.pk}/test-confirm",
                {},
                content_type="application/json",
            )
        )
    _ticketing(as_ada, ada["user"]["id"])
    _recommendations(as_ada, ada["user"]["id"])
    with override_settings(CLEAVE_EVENTS_INPROCESS=True, CLEAVE_EVENTS_MAX_ATTEMPTS=1):
        Outage.objects.create(note="down")
        order_place(total=1, note="down")
        Outage.objects.all().delete()
        # A checkout saga whose first step cannot reach its service: it waits for a retry.
        nowhere = f"http://127.0.0.1:{free_port()}"
        saga_start(CHECKOUT, input={"order_id": 1, "effects_url": nowhere, "decline": ""})
    dead = FailedDelivery.objects.get(status="dead")
    # The event store's screens: an event of the example's event-sourced orders (a subject's,
    # so encrypted), its projection's checkpoint, and a rebuild in the audit.
    append(
        "orders.order-world",
        [NewEvent("orders.OrderPlaced", {"customer": "user:ada", "total": 3}, subject="user:ada")],
        expected_version=0,
    )
    projection_rebuild(projection_named("orders.customer_ledger"), actor="world")
    return World(
        ada=ada,
        grace=grace,
        conversation_id=str(direct["id"]),
        message_id=str(message["id"]),
        dead_letter_id=dead.pk,
    )
