"""Staff sign in once, at the edge's admin, and reach every service's admin through the
gateway — dead-letter replay included — with CSRF intact, and sign out everywhere at once.

Against a split topology, `CLEAVE_E2E_ADMIN_SERVICES` names the services whose admin lives at
`/admin/<service>/` (`make split` writes it to var/split/admin.env, with the gateway's TLS
address and certificate: the admin's cookies are Secure in real mode). Against a monolith
there is one admin, at `/admin/`, and the same checks run there.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

STAFF_COOKIE = "cleave_staff"
DEAD_LETTERS = "cleave/faileddelivery/"
REPLAY_ACTION = "replay_dead_letters"


@pytest.fixture(scope="module")
def site(base_url: str) -> tuple[str, ssl.SSLContext]:
    """The admin's address and what verifies its certificate."""
    url = os.environ.get("CLEAVE_E2E_ADMIN_URL", "").rstrip("/") or base_url
    return url, ssl.create_default_context(cafile=os.environ.get("CLEAVE_E2E_ADMIN_CA") or None)


@pytest.fixture(scope="module")
def admin_roots() -> list[str]:
    """Each service's admin root; the only one, /admin/, in a monolith."""
    services = [s for s in os.environ.get("CLEAVE_E2E_ADMIN_SERVICES", "").split(",") if s]
    return [f"/admin/{service}/" for service in services] or ["/admin/"]


def _browser(site: tuple[str, ssl.SSLContext]) -> httpx.Client:
    url, verify = site
    # A browser sends Referer; Django's CSRF check on HTTPS requires it.
    return httpx.Client(base_url=url, verify=verify, timeout=10.0, headers={"Referer": url + "/"})


def _sign_in(browser: httpx.Client, credentials: tuple[str, str]) -> None:
    email, password = credentials
    assert browser.get("/admin/login/").status_code == 200
    form = {
        "username": email,
        "password": password,
        "next": "/admin/",
        "csrfmiddlewaretoken": browser.cookies["csrftoken"],
    }
    signed_in = browser.post("/admin/login/?next=/admin/", data=form)
    assert signed_in.status_code == 302, signed_in.text[:500]
    assert signed_in.headers["location"] == "/admin/"


@pytest.fixture
def staff(
    site: tuple[str, ssl.SSLContext], admin_credentials: tuple[str, str]
) -> Iterator[httpx.Client]:
    with _browser(site) as browser:
        _sign_in(browser, admin_credentials)
        yield browser


def _sent_to_sign_in(response: httpx.Response, browser: httpx.Client) -> str:
    """Follows the admin's redirects to the edge's sign-in page; returns its `next`."""
    hops = 0
    while response.status_code == 302 and hops < 3:
        location = response.headers["location"]
        if urlsplit(location).path == "/admin/login/":
            (next_url,) = parse_qs(urlsplit(location).query)["next"]
            return next_url
        response, hops = browser.get(location), hops + 1
    raise AssertionError(f"not sent to /admin/login/: {response.status_code} {response.headers}")


def test_one_sign_in_opens_every_services_admin_and_its_dead_letters(
    staff: httpx.Client, admin_roots: list[str]
) -> None:
    for root in admin_roots:
        index = staff.get(root)
        assert index.status_code == 200, (root, index.status_code, index.headers)
        assert 'id="user-tools"' in index.text  # a signed-in staff member's page
        dead_letters = staff.get(root + DEAD_LETTERS)
        assert dead_letters.status_code == 200, root
        # Its action select appears once there are rows; the action itself is exercised below.
        assert "<title>Select failed delivery to view" in dead_letters.text


def test_a_services_admin_sends_a_stranger_to_the_edges_sign_in_and_back(
    site: tuple[str, ssl.SSLContext], admin_roots: list[str], admin_credentials: tuple[str, str]
) -> None:
    with _browser(site) as stranger:
        for root in admin_roots:
            assert _sent_to_sign_in(stranger.get(root + DEAD_LETTERS), stranger).startswith(root)
        # Signing in there, then following `next`, lands on the service's admin.
        _sign_in(stranger, admin_credentials)
        assert stranger.get(admin_roots[-1]).status_code == 200


def test_a_staff_cookie_with_altered_claims_is_refused(
    staff: httpx.Client, site: tuple[str, ssl.SSLContext], admin_roots: list[str]
) -> None:
    token = staff.cookies.get(STAFF_COOKIE)
    if token is None:
        pytest.skip("one admin: no staff cookie crosses services here")
    header, claims, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload["email"] = "someone-else@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    root = admin_roots[0]
    with _browser(site) as forger:
        forger.cookies.set(STAFF_COOKIE, f"{header}.{forged}.{signature}", path="/admin/")
        assert _sent_to_sign_in(forger.get(root), forger) == root


def test_an_admin_action_needs_the_csrf_token_and_runs_with_it(
    staff: httpx.Client, admin_roots: list[str]
) -> None:
    for root in admin_roots:
        url = root + DEAD_LETTERS
        action = {"action": REPLAY_ACTION, "index": "0"}
        assert staff.post(url, data=action).status_code == 403  # no CSRF token: refused
        with_token = {**action, "csrfmiddlewaretoken": staff.cookies["csrftoken"]}
        answered = staff.post(url, data=with_token)
        # Accepted; nothing was selected, so the admin says so on the page it sends back to.
        assert answered.status_code == 302, (root, answered.status_code)
        page = staff.get(answered.headers["location"])
        assert re.search(r"Items must be selected", page.text), root


def test_signing_out_from_any_admin_signs_out_of_all(
    staff: httpx.Client, admin_roots: list[str]
) -> None:
    root = admin_roots[0]
    token = {"csrfmiddlewaretoken": staff.cookies["csrftoken"]}
    signed_out = staff.post(root + "logout/", data=token, follow_redirects=True)
    assert signed_out.status_code == 200
    assert "Logged out" in signed_out.text
    for other in {*admin_roots, "/admin/"}:
        assert _sent_to_sign_in(staff.get(other), staff) == other
