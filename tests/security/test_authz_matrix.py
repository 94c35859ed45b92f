"""The authorization matrix: every route × every kind of caller × whose object, against the app.

The routes come from the URL configuration itself, so a route added without a row in
`authz_expectations.MATRIX` fails `test_every_route_has_a_row_in_the_matrix`. Each cell runs in
its own freshly built world (accounts with real roles, logged in through the API for real
tokens; conversations, messages and notifications of the caller and of someone else) through
Django's test client, and checks the status and the error envelope's code.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from ninja.operation import PathView

from apps.identity.models import User
from apps.identity.verification import verification_token
from apps.messaging.models import Invitation
from apps.messaging.services import conversations, invitations, messages
from apps.notifications.models import InboxItem
from apps.payments.services import intents
from apps.ticketing.services import holds as ticketing_holds
from apps.ticketing.services import orders as ticketing_orders
from apps.ticketing.tests import factories as ticketing_factories
from cleave.app_versions.policy import policy_save
from cleave.flags.changes import flag_save
from tests.security.authz_expectations import (
    CONTEXT_BODIES,
    FOREIGN_NOT_404_BY_DESIGN,
    KNOWN_DEVIATIONS,
    MATRIX,
    ROLES,
    expected,
    scenarios_of,
)

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long passphrase 42"
FLAG = "authz-probe"
# Flags and the app-version policy belong to the deployment, not to a user; an area cell's
# activity and published shows are everyone's to see.
OWNERLESS_PARAMS = frozenset({"name", "platform", "cell", "show_id", "category_id"})
_numbers = itertools.count(1)


# -- the routes, from the URL configuration -----------------------------------------------------
def _walk(patterns: list[URLPattern | URLResolver], prefix: str) -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def _methods(callback: Any) -> list[str]:
    """The HTTP methods a view serves: ninja's operations, DRF's handlers, else GET."""
    closure = inspect.getclosurevars(callback).nonlocals if inspect.isfunction(callback) else {}
    view = closure.get("self")
    if isinstance(view, PathView):  # ninja's per-path view closes over its PathView
        return sorted({method for operation in view.operations for method in operation.methods})
    drf_view = getattr(callback, "cls", None)
    if drf_view is not None:
        skipped = {"options", "head"}  # answered by DRF for every view; not a route of ours
        names = [m for m in drf_view.http_method_names if m not in skipped]
        return [m.upper() for m in names if hasattr(drf_view, m)]
    # Plain Django views (health, jwks) and ninja's docs/schema partials are read-only.
    return ["GET"]


@functools.cache
def url_routes() -> frozenset[str]:
    """Every "METHOD /path/{param}" the URLconf serves; the admin collapses into one row."""
    routes = set()
    for pattern, callback in _walk(get_resolver().url_patterns, "/"):
        if pattern.startswith("/admin/"):
            routes.add("GET /admin/")  # Django's own, staff-only; its index stands for it
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
        routes.update(f"{method} {path}" for method in _methods(callback))
    return frozenset(routes)


# -- the world each cell runs in ----------------------------------------------------------------
@dataclass
class Party:
    """An account with one of everything: sessions, conversations, messages, a notification."""

    user: User
    access: str
    refresh: str
    spare_session: str  # a second live session (another device)
    peer: User  # a member of the conversation this party leads
    conversation: int  # a group led by this party, with `peer`
    message: int  # this party's message in it
    peer_message: int  # the peer's message in it
    led_by_peer: int  # a group led by `peer`, this party a plain member
    inbox_item: int
    invitation: int  # an open invitation of this party's, to a third group led by `peer`


@dataclass
class World:
    role: str
    actor: Party  # who calls (its objects are "own"; anonymous calls without its credentials)
    victim: Party  # whose objects are "foreign"
    newcomer: User  # an account to add to a conversation


def _account(role: str) -> User:
    number = next(_numbers)
    email = f"{role}-{number}@example.com"
    if role == "admin":
        return User.objects.create_superuser(email, PASSWORD, display_name=f"A{number}")
    user = User.objects.create_user(
        email, PASSWORD, display_name=f"U{number}", is_staff=role == "staff"
    )
    if role == "moderator":
        user.groups.add(Group.objects.get_or_create(name="moderator")[0])
    return user


def _login(user: User, device_id: str) -> dict[str, Any]:
    # A client address per login: the login rate limit is per IP.
    client = Client(REMOTE_ADDR=f"10.8.{next(_numbers) % 250}.{next(_numbers) % 250}")
    device = {"device_id": device_id, "platform": "ios", "app_version": "1.4.2"}
    response = client.post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD, "device": device},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _send(conversation_id: int, sender: User) -> int:
    message, _ = messages.message_send(
        conversation_id=conversation_id,
        sender_id=sender.pk,
        text="hello",
        client_msg_id=f"m{next(_numbers)}",
    )
    return message.pk


def _invited(leader: User, member: User) -> tuple[int, int]:
    """A group led by `leader` with `member` invited: (conversation, invitation)."""
    conversation, _ = conversations.conversation_create(
        creator_id=leader.pk, kind="group", member_ids=[member.pk], title="authz"
    )
    return conversation.pk, Invitation.objects.get(conversation=conversation, user_id=member.pk).pk


def _group(leader: User, member: User) -> int:
    conversation, invitation = _invited(leader, member)
    invitations.invitation_accept(invitation_id=invitation, user_id=member.pk)
    return conversation


def _party(user: User) -> Party:
    tokens, spare = _login(user, "phone"), _login(user, "tablet")
    peer = _account("user")
    conversation = _group(user, peer)
    return Party(
        user=user,
        access=tokens["access"],
        refresh=tokens["refresh"],
        spare_session=spare["session_id"],
        peer=peer,
        conversation=conversation,
        message=_send(conversation, user),
        peer_message=_send(conversation, peer),
        led_by_peer=_group(peer, user),
        invitation=_invited(peer, user)[1],
        inbox_item=InboxItem.objects.create(
            user_id=user.pk, kind="message", title="t", body="b"
        ).pk,
    )


def build_world(role: str) -> World:
    # Anonymous calls about `user`'s objects; the two plain users are each other's "someone else".
    actor = _party(_account("user" if role in {"anonymous", "other_user"} else role))
    victim = _party(_account("user"))
    flag_save(name=FLAG, changes={"everyone": False}, actor="authz-matrix")
    policy_save(platform="ios", changes={"minimum_version": "1.0.0"}, actor="authz-matrix")
    return World(role=role, actor=actor, victim=victim, newcomer=_account("user"))


def _payment_intent(owner_id: int) -> int:
    """A payment intent of `owner_id`'s, made through payments' service with the in-process
    test provider (in real mode too: the rows only read it, or are refused before the provider)."""
    with override_settings(CLEAVE_PAYMENTS_PROVIDER="test"):
        intent = intents.intent_create(
            amount=1500,
            currency="eur",
            reference=f"authz:{next(_numbers)}",
            idempotency_key=f"authz-{next(_numbers)}",
            owner_user_id=owner_id,
        )
    return intent.pk


# -- what each cell sends -----------------------------------------------------------------------
def _param(world: World, route: str, name: str, scenario: str) -> str:
    """The value of a path parameter: the caller's object, or someone else's (see the docs of
    authz_expectations for the scenarios)."""
    actor, victim = world.actor, world.victim
    theirs = scenario == "foreign"
    membership_route = "/members" in route
    value: object
    if name == "session_id":
        value = victim.spare_session if theirs else actor.spare_session
    elif name == "invitation_id":
        value = victim.invitation if theirs else actor.invitation
    elif name == "item_id":
        value = victim.inbox_item if theirs else actor.inbox_item
    elif name == "show_id":
        value = ticketing_factories.show().pk
    elif name == "category_id":
        # Follows {show_id} in its path (filled left to right): the show just made's category.
        value = ticketing_factories.latest_category().pk
    elif name == "hold_id":
        owner = (victim if theirs else actor).user.pk
        value = _ticketing_hold(owner)
    elif name == "order_id":
        owner = (victim if theirs else actor).user.pk
        value = _ticketing_order(owner)
    elif name == "name":
        value = FLAG
    elif name == "platform":
        value = "ios"
    elif name == "cell":
        value = "881fb46625fffff"  # an H3 resolution-8 cell (Paris): tracking's areas
    elif name in ("trip_id", "share_id"):
        # tracking: the world has none of its own (see apps/tracking/tests/authz_rows.py).
        value = "4242" if theirs else "4241"
    elif name == "conversation_id":
        if theirs:
            value = victim.conversation
        elif scenario == "peer" and membership_route:
            value = actor.led_by_peer
        else:
            value = actor.conversation
    elif name == "message_id":
        value = {"own": actor.message, "peer": actor.peer_message}.get(scenario, victim.message)
    elif name == "user_id" and membership_route:
        value = (victim if theirs else actor).peer.pk  # in `peer`, led_by_peer's owner
    elif name == "user_id":
        value = (victim if theirs else actor).user.pk
    elif name == "intent_id":
        value = _payment_intent((victim if theirs else actor).user.pk)
    else:
        raise AssertionError(f"no value for {{{name}}} in {route}: teach _param about it")
    return str(value)


def _ticketing_hold(user_id: int) -> str:
    category = ticketing_factories.category_of(ticketing_factories.show())
    return str(ticketing_holds.hold_place(user_id=user_id, category_id=category.pk, quantity=1).pk)


def _ticketing_order(user_id: int) -> str:
    category = ticketing_factories.category_of(ticketing_factories.show())
    placed = ticketing_orders.order_place(
        user_id=user_id, category_id=category.pk, quantity=1, idempotency_key=uuid.uuid4().hex
    )
    return str(placed.pk)


def _body(world: World, route: str) -> dict[str, Any] | None:
    """A valid body, so that an allowed caller gets a success and nothing else decides."""
    user = world.actor.user
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "POST /api/v1/auth/register": lambda: {
            "email": f"new-{next(_numbers)}@example.com",
            "password": PASSWORD,
            "display_name": "New",
        },
        "POST /api/v1/auth/login": lambda: {
            "email": user.email,
            "password": PASSWORD,
            "device": {"device_id": "laptop", "platform": "web", "app_version": "1.4.2"},
        },
        "POST /api/v1/auth/refresh": lambda: {"refresh": world.actor.refresh},
        "POST /api/v1/auth/password-reset": lambda: {"email": user.email},
        "POST /api/v1/auth/password-reset/confirm": lambda: {
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            # The token hashes last_login, which the world's own logins just moved.
            "token": default_token_generator.make_token(User.objects.get(pk=user.pk)),
            "new_password": NEW_PASSWORD,
        },
        "POST /api/v1/auth/verify-email": lambda: {
            "token": verification_token(User.objects.get(pk=user.pk))
        },
        "PATCH /api/v1/me": lambda: {"display_name": "Renamed"},
        "POST /api/v1/me/email": lambda: {
            "email": f"moved-{next(_numbers)}@example.com",
            "password": PASSWORD,
        },
        "POST /api/v1/me/password": lambda: {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
        },
        "PUT /api/v1/devices/current/push-token": lambda: {"push_token": "apns-authz"},
        "POST /api/v1/conversations": lambda: {
            "kind": "group",
            "members": [world.newcomer.pk],
            "title": "new",
        },
        "POST /api/v1/conversations/{conversation_id}/members": lambda: {
            "user_id": world.newcomer.pk
        },
        "POST /api/v1/conversations/{conversation_id}/messages": lambda: {
            "text": "hi",
            "client_msg_id": f"c{next(_numbers)}",
        },
        "PATCH /api/v1/conversations/{conversation_id}/messages/{message_id}": lambda: {
            "text": "edited"
        },
        "POST /api/v1/conversations/{conversation_id}/read": lambda: {"seq": 1},
        "PATCH /api/v1/notifications/preferences": lambda: {
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
        "POST /api/v1/ticketing/orders": lambda: {
            "category_id": ticketing_factories.category_of(ticketing_factories.show()).pk,
            "quantity": 1,
        },
        "POST /api/v1/ticketing/holds": lambda: {
            "category_id": ticketing_factories.category_of(ticketing_factories.show()).pk,
            "quantity": 1,
        },
        "PUT /api/ops/flags/{name}/": lambda: {"everyone": True},
        "PUT /api/ops/users/{user_id}/roles/": lambda: {"roles": []},
        "PUT /api/ops/app-versions/{platform}/": lambda: {"minimum_version": "1.0.0"},
        "PATCH /api/ops/app-versions/{platform}/": lambda: {"recommended_version": "1.1.0"},
        "PATCH /api/ops/flags/{name}/": lambda: {"percent": "25"},
        "POST /api/ops/flags/{name}/kill/": lambda: {"killed": True},
    }
    make = bodies.get(route)
    return make() if make else CONTEXT_BODIES.get(route)


def call(world: World, route: str, scenario: str) -> HttpResponse:
    method, template = route.split(" ", 1)
    path = re.sub(r"{(\w+)}", lambda m: _param(world, route, m.group(1), scenario), template)
    if route == "GET /api/v1/flags":
        path += "?device_id=authz"  # required before login, harmless after
    client = Client(REMOTE_ADDR=f"10.9.{next(_numbers) % 250}.{next(_numbers) % 250}")
    headers: dict[str, str] = {}
    if world.role != "anonymous":
        if path.startswith("/admin/"):
            client.force_login(world.actor.user)  # the admin takes sessions, not tokens
        else:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {world.actor.access}"
    if route == "POST /api/v1/ticketing/orders":  # required, and new: a new order each time
        headers["HTTP_IDEMPOTENCY_KEY"] = uuid.uuid4().hex
    body = _body(world, route)
    kwargs: dict[str, Any] = {"data": body, "content_type": "application/json"} if body else {}
    return getattr(client, method.lower())(path, **kwargs, **headers)


def outcome_of(path: str, response: HttpResponse) -> str:
    """ "<status>" or "<status> <code>"; any error under /api/ or /internal/ must be the one
    envelope, whatever layer (ninja, DRF, Django) answered."""
    status = response.status_code
    if status < 400:
        return str(status)
    if not path.startswith(("/api/", "/internal/")):
        return str(status)
    content_type = response.get("Content-Type", "")
    assert content_type.startswith("application/json"), (
        status,
        content_type,
        response.content[:80],
    )
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details", "request_id"}, body
    assert body["error"]["request_id"] == response.headers["X-Request-ID"], body
    return f"{status} {body['error']['code']}"


# -- the tests ----------------------------------------------------------------------------------
def test_every_route_has_a_row_in_the_matrix() -> None:
    missing = sorted(url_routes() - MATRIX.keys())
    stale = sorted(MATRIX.keys() - url_routes())
    assert not missing, f"routes without expectations in authz_expectations.MATRIX: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_every_route_with_an_object_id_is_checked_with_someone_elses_object() -> None:
    for route in MATRIX:
        params = set(re.findall(r"{(\w+)}", route)) - OWNERLESS_PARAMS
        if params and not route.startswith("POST /internal/"):
            assert "foreign" in scenarios_of(route), route


def test_someone_elses_object_is_not_found_for_every_signed_in_caller() -> None:
    """docs/api.md: "someone else's object is 404, never a hint that it exists"."""
    for route in MATRIX:
        if "foreign" not in scenarios_of(route) or route in FOREIGN_NOT_404_BY_DESIGN:
            continue
        for role in ROLES[1:]:
            answer = expected(route, role, "foreign")
            assert answer.startswith("404 "), (route, role, answer)


def _cells() -> Iterator[Any]:
    for route in MATRIX:
        for role in ROLES:
            for scenario in scenarios_of(route):
                marks = []
                reason = KNOWN_DEVIATIONS.get((route, role, scenario))
                if reason:
                    marks.append(
                        pytest.mark.xfail(raises=AssertionError, strict=True, reason=reason)
                    )
                yield pytest.param(
                    route, role, scenario, id=f"{route}|{role}|{scenario}", marks=marks
                )


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "role", "scenario"), list(_cells()))
def test_cell(route: str, role: str, scenario: str) -> None:
    world = build_world(role)
    response = call(world, route, scenario)
    answer = outcome_of(route.split(" ", 1)[1], response)
    assert answer == expected(route, role, scenario), response.content[:300]


@pytest.mark.django_db
def test_ops_api_answers_a_missing_flag_in_the_envelope() -> None:
    """docs/api.md: every error under /api/ has one shape, whatever produced it."""
    world = build_world("staff")
    client = Client()
    response = client.get(
        "/api/ops/flags/no-such-flag/", HTTP_AUTHORIZATION=f"Bearer {world.actor.access}"
    )
    assert outcome_of("/api/ops/flags/no-such-flag/", response) == "404 not_found"
