"""Roles, limits and enumeration resistance of identity's endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.test import Client
from pytest_django import Settings

from apps.identity.hashers import Argon2idHasher
from apps.identity.models import User
from apps.identity.tests.factories import PASSWORD, device, login, user_create

pytestmark = pytest.mark.django_db(transaction=True)


def _login(client: Client, email: str, password: str) -> Any:
    return client.post(
        "/api/v1/auth/login",
        {"email": email, "password": password, "device": device()},
        content_type="application/json",
    )


def test_a_plain_user_cannot_moderate_but_a_moderator_can() -> None:
    target = user_create(email="target@example.com")
    user_create(email="plain@example.com")
    user_create(email="mod@example.com", roles=("moderator",))
    plain = login("plain@example.com")
    denied = plain.send("post", f"/api/v1/users/{target.pk}/deactivate")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"

    moderator = login("mod@example.com")
    assert moderator.get("/api/v1/me").json()["roles"] == ["moderator", "user"]
    victim = login("target@example.com")
    assert moderator.send("post", f"/api/v1/users/{target.pk}/deactivate").status_code == 204
    assert victim.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    target.refresh_from_db()
    assert target.is_active is False


def test_moderation_needs_a_higher_role_than_the_target() -> None:
    staff = user_create(email="staff@example.com", roles=("staff",))
    peer = user_create(email="peer@example.com", roles=("moderator",))
    user_create(email="mod@example.com", roles=("moderator",))
    user_create(email="boss@example.com", roles=("admin",))
    moderator = login("mod@example.com")
    for target in (staff, peer):
        refused = moderator.send("post", f"/api/v1/users/{target.pk}/deactivate")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert (
        login("boss@example.com").send("post", f"/api/v1/users/{staff.pk}/deactivate").status_code
        == 204
    )
    staff.refresh_from_db()
    peer.refresh_from_db()
    assert (staff.is_active, peer.is_active) == (False, True)


def test_any_signed_in_user_sees_public_profiles_only() -> None:
    other = user_create(email="other@example.com", display_name="Other")
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    assert signed.get(f"/api/v1/users/{other.pk}").json() == {
        "id": other.pk,
        "display_name": "Other",
    }
    assert signed.get("/api/v1/users/999999").status_code == 404
    assert Client().get(f"/api/v1/users/{other.pk}").status_code == 401


def test_wrong_password_and_unknown_email_answer_the_same() -> None:
    user_create(email="ada@example.com")
    client = Client()
    wrong = _login(client, "ada@example.com", "wrong password")
    unknown = _login(client, "nobody@example.com", "wrong password")
    # Everything but the request id (each request's own) is the same.
    assert (wrong.status_code, _without_request_id(wrong.json())) == (
        unknown.status_code,
        _without_request_id(unknown.json()),
    )
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {"error": {k: v for k, v in body["error"].items() if k != "request_id"}}


def test_wrong_password_and_unknown_email_cost_the_same_hashing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both answers take one Argon2id computation (Django hashes a dummy password for unknown
    accounts), so response time does not tell whether an account exists. Counted, not timed:
    a wall-clock ratio is at the mercy of whatever else the machine runs."""
    settings.PASSWORD_HASHERS = ["apps.identity.hashers.Argon2idHasher"]
    User.objects.create_user("ada@example.com", PASSWORD)
    computations: list[str] = []
    for name in ("encode", "verify"):
        real = getattr(Argon2idHasher, name)

        def counted(self: Any, *args: Any, _real: Any = real, _name: str = name) -> Any:
            computations.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(Argon2idHasher, name, counted)

    def cost(email: str) -> list[str]:
        computations.clear()
        answer = _login(Client(REMOTE_ADDR=f"10.1.{len(email)}.9"), email, "x" * 12)
        assert answer.status_code == 401
        return list(computations)

    assert cost("ada@example.com") == ["verify"]
    assert cost("nobody@example.com") == ["encode"]


def test_repeated_wrong_passwords_back_off_then_a_right_one_passes_after_the_wait() -> None:
    user_create(email="ada@example.com")
    client = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(5):
        assert _login(client, "ada@example.com", "wrong").status_code == 401
    assert _login(client, "ada@example.com", "wrong").status_code == 401  # 6th: starts a lockout
    locked = _login(client, "ada@example.com", PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert int(locked["Retry-After"]) >= 1
    time.sleep(int(locked["Retry-After"]) + 0.1)
    assert _login(client, "ada@example.com", PASSWORD).status_code == 200


def test_registration_is_limited_per_ip() -> None:
    client = Client(REMOTE_ADDR="10.7.7.7")
    statuses = [
        client.post(
            "/api/v1/auth/register",
            {"email": f"u{n}@example.com", "password": PASSWORD, "display_name": "U"},
            content_type="application/json",
        ).status_code
        for n in range(11)
    ]
    assert statuses == [201] * 10 + [429]
    other_ip = Client(REMOTE_ADDR="10.7.7.8").post(
        "/api/v1/auth/register",
        {"email": "x@example.com", "password": PASSWORD, "display_name": "U"},
        content_type="application/json",
    )
    assert other_ip.status_code == 201


def test_a_body_over_the_limit_is_payload_too_large() -> None:
    response = Client().post(
        "/api/v1/auth/login",
        data='{"email": "' + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_passwords_are_hashed_with_bounded_argon2id() -> None:
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["apps.identity.hashers.Argon2idHasher"]):
        user = User.objects.create_user("ada@example.com", PASSWORD)
        hasher = identify_hasher(user.password)
        assert isinstance(hasher, Argon2idHasher)
        assert "$argon2id$v=19$m=19456,t=2,p=1$" in user.password
        assert user.check_password(PASSWORD)
        assert not get_hasher().must_update(user.password)


def test_production_settings_hash_with_the_bounded_argon2id_first() -> None:
    from cleave import settings as production

    assert production.PASSWORD_HASHERS[0] == "apps.identity.hashers.Argon2idHasher"


def test_the_staff_group_opens_the_ops_api_like_is_staff() -> None:
    user_create(email="ops@example.com", roles=("staff",))
    user_create(email="plain@example.com")
    assert login("ops@example.com").get("/api/ops/").status_code == 200
    refused = login("plain@example.com").get("/api/ops/")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
