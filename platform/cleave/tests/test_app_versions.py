"""The app-version policy: set by staff (ops API, admin; audited), enforced on /api/v1 from the
`X-Client-Version` header (426 below the minimum, never without the header), told by /meta;
flags read the same header; deprecated endpoints say so in headers and in OpenAPI."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from cleave.app_versions.models import AppVersionPolicy, AppVersionPolicyChange
from cleave.app_versions.policy import forget_policies, handshake_client, policy_save
from cleave.flags.changes import flag_save
from cleave.flags.definitions import forget_definitions
from cleave.gateway.client_version import ClientVersion, parse
from cleave.testing.state import clear_cache

pytestmark = pytest.mark.django_db(transaction=True)

STORE = "https://apps.apple.com/app/cleave/id1"


def _staff(*, can_change: bool) -> Client:
    user = get_user_model().objects.create_user(
        email="ops@example.com", password="pw-ops-12345", is_staff=True
    )
    if can_change:
        user.user_permissions.add(
            Permission.objects.get(
                codename="change_appversionpolicy", content_type__app_label="cleave"
            )
        )
    client = Client()
    client.force_login(user)
    return client


def _ios_policy() -> None:
    policy_save(
        platform="ios",
        changes={"minimum_version": "2.0.0", "recommended_version": "2.3.0", "store_url": STORE},
        actor="test",
    )
    forget_policies()


def _get(path: str, version: str | None, **extra: Any) -> Any:
    headers: dict[str, Any] = {"HTTP_X_CLIENT_VERSION": version} if version else {}
    return Client().get(path, **headers, **extra)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("ios/2.4.1", ClientVersion("ios", "2.4.1")),
        ("android/3.0.0-beta.2", ClientVersion("android", "3.0.0-beta.2")),
        ("web/1.2", None),  # not semver
        ("symbian/1.0.0", None),
        ("ios 2.4.1", None),
        ("", None),
    ],
)
def test_the_header_names_a_platform_and_a_semantic_version(
    raw: str, parsed: ClientVersion | None
) -> None:
    assert parse(raw) == parsed


def test_staff_set_the_policy_through_the_ops_api_and_every_change_is_audited() -> None:
    staff = _staff(can_change=True)
    body = {"minimum_version": "2.0.0", "recommended_version": "2.3.0", "store_url": STORE}

    saved = staff.put("/api/ops/app-versions/ios/", body, content_type="application/json")
    patched = staff.patch(
        "/api/ops/app-versions/ios/", {"minimum_version": "2.1.0"}, content_type="application/json"
    )

    assert saved.status_code == patched.status_code == 200
    assert patched.json()["minimum_version"] == "2.1.0"
    assert [p["platform"] for p in staff.get("/api/ops/app-versions/").json()] == ["ios"]
    first, second = AppVersionPolicyChange.objects.order_by("id")
    assert first.after is not None
    assert second.before is not None
    assert second.after is not None
    assert (first.before, first.after["minimum_version"], first.actor) == (
        None,
        "2.0.0",
        "ops@example.com",
    )
    assert (second.before["minimum_version"], second.after["minimum_version"]) == ("2.0.0", "2.1.0")
    assert staff.delete("/api/ops/app-versions/ios/").status_code == 204
    assert AppVersionPolicyChange.objects.latest("id").after is None


def test_the_ops_api_refuses_bad_versions_and_staff_without_the_permission() -> None:
    bad = _staff(can_change=True).put(
        "/api/ops/app-versions/ios/", {"minimum_version": "two"}, content_type="application/json"
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "validation_error")
    get_user_model().objects.all().delete()
    refused = _staff(can_change=False).put(
        "/api/ops/app-versions/ios/", {"minimum_version": "2.0.0"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert not AppVersionPolicy.objects.exists()


def test_the_admin_saves_through_the_audited_service(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/cleave/appversionpolicy/add/",
        {
            "platform": "android",
            "minimum_version": "1.5.0",
            "recommended_version": "",
            "store_url": "",
        },
    )
    assert response.status_code == 302, response.content[:500]
    assert AppVersionPolicy.objects.get().minimum_version == "1.5.0"
    assert AppVersionPolicyChange.objects.get().platform == "android"


def test_an_app_below_the_minimum_gets_426_with_the_store_link() -> None:
    _ios_policy()

    response = _get("/api/v1/me", "ios/1.9.9")

    assert response.status_code == 426
    error = response.json()["error"]
    assert error["code"] == "upgrade_required"
    assert error["details"] == {
        "platform": "ios",
        "version": "1.9.9",
        "minimum_version": "2.0.0",
        "store_url": STORE,
    }


def test_meta_and_flags_still_answer_an_app_below_the_minimum() -> None:
    _ios_policy()

    meta = _get("/api/v1/meta", "ios/1.9.9")
    flags = _get("/api/v1/flags?device_id=d-1", "ios/1.9.9")

    assert meta.status_code == flags.status_code == 200
    assert meta.json()["app_version"] == {
        "status": "update_required",
        "minimum_version": "2.0.0",
        "recommended_version": "2.3.0",
        "store_url": STORE,
    }


@pytest.mark.parametrize(
    ("version", "status"),
    [
        ("ios/2.0.0", "update_recommended"),
        ("ios/2.3.0", "ok"),
        ("ios/10.0.0", "ok"),
        ("ios/1.0.0", "update_required"),
        (None, "ok"),
    ],
)
def test_meta_tells_the_app_where_it_stands(version: str | None, status: str) -> None:
    _ios_policy()
    assert _get("/api/v1/meta", version).json()["app_version"]["status"] == status


def test_the_first_request_of_a_process_with_an_empty_cache_is_answered() -> None:
    """A fresh `make run` (empty cache, no policy published yet): the first app naming its
    version made the home rebuild the snapshot under the memo's lock and then wait on that
    lock for ever (found by the SDK's tests)."""
    clear_cache()
    forget_policies()
    answers: list[int] = []
    asking = threading.Thread(
        target=lambda: answers.append(_get("/api/v1/meta", "ios/3.2.0").status_code), daemon=True
    )
    asking.start()
    asking.join(timeout=10)
    assert answers == [200], "the request hung"


def test_no_header_or_another_platform_is_never_refused() -> None:
    _ios_policy()
    assert _get("/api/v1/me", None).status_code == 401  # the view's own answer
    assert _get("/api/v1/me", "android/0.0.1").status_code == 401
    assert _get("/api/v1/me", "ios/not-a-version").status_code == 401


def test_flags_are_evaluated_for_the_header_s_version() -> None:
    forget_definitions()
    flag_save(
        name="new-composer",
        changes={"everyone": None, "client_visible": True, "min_app_version": "3.0.0"},
        actor="test",
    )
    forget_definitions()

    old = _get("/api/v1/flags?device_id=d-2", "ios/2.9.0").json()["flags"]["new-composer"]
    new = _get("/api/v1/flags?device_id=d-2", "ios/3.0.0").json()["flags"]["new-composer"]

    assert (old["value"], new["value"]) == (False, True)


def test_a_socket_handshake_names_its_version_in_the_same_header() -> None:
    assert handshake_client([(b"x-client-version", b"android/2.0.0")]) == ClientVersion(
        "android", "2.0.0"
    )
    assert handshake_client([(b"authorization", b"Bearer x")]) is None


@pytest.mark.urls("cleave.tests.deprecation_urls")
def test_a_deprecated_endpoint_answers_with_deprecation_and_sunset_headers() -> None:
    old = Client().get("/api/v1/test/things/old")
    current = Client().get("/api/v1/test/things/current")

    assert old.status_code == 200
    assert old["Deprecation"] == "@1796083200"  # 2026-12-01T00:00:00Z
    assert old["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert old["Link"] == '<https://example.com/migrate>; rel="deprecation"'
    assert not current.has_header("Deprecation")
    document = Client().get("/api/v1/test/openapi.json").json()
    assert document["paths"]["/api/v1/test/things/old"]["get"]["deprecated"] is True
    assert "deprecated" not in document["paths"]["/api/v1/test/things/current"]["get"]
