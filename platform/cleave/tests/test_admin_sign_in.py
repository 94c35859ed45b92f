"""One staff sign-in for every service's admin: the edge's staff cookie (cleave.admin_sign_in)
and the admin site's redirects (cleave.admin_site). Each test plays the edge or another
service by its settings; the gateway round trip is tests/e2e/blackbox/test_admin.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cleave.admin_sign_in import staff_token_accept, staff_token_issue
from cleave.remote import service_tokens
from cleave.remote.service_tokens import ISSUER_PREFIX, generate_key

# OTHER's name starts like the edge's: its key id must not pass for the edge's.
EDGE, SERVICE, OTHER = "edge", "ledger", "edge-other"
COOKIE = "cleave_staff"


@pytest.fixture
def keys(settings: Any) -> Iterator[dict[str, str]]:
    """Private keys of three services; every one trusts all their public keys."""
    private, public = {}, []
    for name in (EDGE, SERVICE, OTHER):
        private[name], jwk = generate_key(name)
        public.append(jwk)
    settings.CLEAVE_SERVICE_JWKS = json.dumps({"keys": public})
    yield private
    service_tokens.forget()


def _play(settings: Any, keys: dict[str, str], name: str, edge: str | None) -> None:
    """This process becomes service `name`, whose staff sign in at `edge` (None: here)."""
    settings.CLEAVE_SERVICE_NAME = name
    settings.CLEAVE_SERVICE_KEY = keys[name]
    settings.CLEAVE_ADMIN_EDGE = edge
    service_tokens.forget()  # the signer remembers its key


def _staff(email: str = "ops@example.com", **flags: Any) -> Any:
    return get_user_model().objects.create_user(
        email=email, password="pw-ops-123456", is_staff=True, **flags
    )


@pytest.mark.django_db
def test_a_token_the_edge_issued_is_accepted_by_another_service(
    settings: Any, keys: dict[str, str]
) -> None:
    _play(settings, keys, EDGE, None)
    token = staff_token_issue(user=_staff(is_superuser=True))
    _play(settings, keys, SERVICE, EDGE)
    claims = staff_token_accept(token)
    assert claims is not None
    assert (claims.email, claims.superuser) == ("ops@example.com", True)


@pytest.mark.django_db
def test_a_token_signed_by_any_other_service_is_refused(
    settings: Any, keys: dict[str, str]
) -> None:
    _play(settings, keys, OTHER, None)  # trusted for contract calls, but not the edge
    token = staff_token_issue(user=_staff())
    _play(settings, keys, SERVICE, EDGE)
    assert staff_token_accept(token) is None


@pytest.mark.django_db
def test_an_expired_or_altered_token_or_a_service_token_is_refused(
    settings: Any, keys: dict[str, str]
) -> None:
    _play(settings, keys, EDGE, None)
    user = _staff()
    expired = staff_token_issue(user=user, now=time.time() - 2 * 600)
    header, claims, signature = staff_token_issue(user=user).split(".")
    altered = f"{header}.{claims[:-2]}AA.{signature}"
    service_token = service_tokens.signer.token_for(SERVICE, None)
    _play(settings, keys, SERVICE, EDGE)
    assert staff_token_accept(expired) is None
    assert staff_token_accept(altered) is None
    assert staff_token_accept(service_token) is None
    assert staff_token_accept("not-a-token") is None


@pytest.mark.django_db
def test_the_edge_keeps_a_staff_cookie_while_signed_in_and_drops_it_on_sign_out(
    settings: Any, keys: dict[str, str], client: Client
) -> None:
    _play(settings, keys, EDGE, None)
    client.force_login(_staff())
    page = client.get("/admin/")
    assert page.status_code == 200
    cookie = page.cookies[COOKIE]
    assert cookie["path"] == "/admin/"
    assert cookie["httponly"]
    assert staff_token_accept(cookie.value) is not None
    # Fresh for more than half its life: not reissued on the next page.
    assert COOKIE not in client.get("/admin/").cookies
    signed_out = client.post("/admin/logout/")
    assert signed_out.cookies[COOKIE].value == ""
    assert signed_out.cookies[COOKIE]["max-age"] == 0


@pytest.mark.django_db
def test_the_edge_gives_no_staff_cookie_to_a_signed_in_account_that_is_not_staff(
    settings: Any, keys: dict[str, str], client: Client
) -> None:
    _play(settings, keys, EDGE, None)
    user = get_user_model().objects.create_user(email="user@example.com", password="pw-12345678")
    client.force_login(user)
    assert COOKIE not in client.get("/admin/").cookies


@pytest.mark.django_db
def test_another_service_admits_the_edges_staff_as_a_local_account(
    settings: Any, keys: dict[str, str], client: Client
) -> None:
    _play(settings, keys, EDGE, None)
    token = staff_token_issue(user=_staff(email="root@example.com", is_superuser=True))
    _play(settings, keys, SERVICE, EDGE)
    client.cookies[COOKIE] = token
    assert client.get("/admin/").status_code == 200
    local = get_user_model().objects.get(email="root@example.com")
    assert (local.is_staff, local.is_superuser) == (True, True)


@pytest.mark.django_db
def test_another_service_sends_everyone_else_to_the_edges_sign_in(
    settings: Any, keys: dict[str, str], client: Client
) -> None:
    _play(settings, keys, SERVICE, EDGE)
    # A session of its own does not count: only the edge's cookie does.
    client.force_login(_staff())
    index = client.get("/admin/")
    assert index.status_code == 302
    login = client.get(index["Location"])
    assert login.status_code == 302
    assert login["Location"] == "/admin/login/?next=%2Fadmin%2F"


@pytest.mark.django_db
def test_signing_out_at_another_service_hands_the_post_to_the_edge(
    settings: Any, keys: dict[str, str], client: Client
) -> None:
    _play(settings, keys, EDGE, None)
    token = staff_token_issue(user=_staff())
    _play(settings, keys, SERVICE, EDGE)
    client.cookies[COOKIE] = token
    answer = client.post("/admin/logout/")
    assert answer.status_code == 307  # the browser repeats the POST, CSRF token included
    assert answer["Location"] == "/admin/logout/"


@pytest.mark.django_db
def test_the_edge_sends_a_signed_in_member_back_to_a_safe_next_only(
    settings: Any, keys: dict[str, str], client: Client
) -> None:
    _play(settings, keys, EDGE, None)
    client.force_login(_staff())
    back = client.get("/admin/login/?next=/admin/ledger/")
    assert back.status_code == 302
    assert back["Location"] == "/admin/ledger/"
    assert COOKIE in back.cookies  # the fresh cookie the other service was missing
    elsewhere = client.get("/admin/login/?next=https://evil.example/")
    assert elsewhere.status_code != 302 or elsewhere["Location"] != "https://evil.example/"


@pytest.mark.django_db
def test_a_service_whose_name_starts_like_the_edges_cannot_pass_for_it(
    settings: Any, keys: dict[str, str]
) -> None:
    """`edge-other` signs with its own trusted key, claiming to be the edge."""
    _play(settings, keys, OTHER, None)
    kid, key, _ = service_tokens.signer.signing_key()
    now = int(time.time())
    claims = {"iss": ISSUER_PREFIX + EDGE, "aud": "cleave-admin", "sub": "1", "email": "x@e.com"}
    forged = jwt.encode(
        {**claims, "su": True, "iat": now, "exp": now + 60},
        key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    _play(settings, keys, SERVICE, EDGE)
    assert staff_token_accept(forged) is None
