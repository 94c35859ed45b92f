"""Issue 16, finding 10: no URL the API answers is built from whatever the Host header says.

`/api/v1/meta` answered `ws://<Host>/ws/v1` and DRF's links (the ops index, pagination) the
same. Now a Host is reflected only when an explicit ALLOWED_HOSTS accepted it, or when it is a
loopback address (embedded mode's `ALLOWED_HOSTS=*`); the scheme only when a trusted proxy said
so; and CLEAVE_WEBSOCKET_URL, when set, wins.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

EVIL = "evil.example"


def _meta(host: str, **headers: Any) -> dict[str, Any]:
    response = Client().get("/api/v1/meta", HTTP_HOST=host, **headers)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


@override_settings(ALLOWED_HOSTS=["*"], CLEAVE_WEBSOCKET_URL=None)
def test_with_any_host_allowed_meta_does_not_reflect_a_foreign_host() -> None:
    url = _meta(f"{EVIL}:8000")["websocket_url"]
    assert EVIL not in url
    assert url == "ws://127.0.0.1:80/ws/v1"  # the address the server was reached on


@override_settings(ALLOWED_HOSTS=["*"], CLEAVE_WEBSOCKET_URL=None)
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
def test_with_any_host_allowed_meta_reflects_a_loopback_host(host: str) -> None:
    assert _meta(host)["websocket_url"] == f"ws://{host}/ws/v1"


@override_settings(ALLOWED_HOSTS=["api.example.com"], CLEAVE_WEBSOCKET_URL=None)
def test_an_explicitly_allowed_host_is_reflected() -> None:
    assert _meta("api.example.com")["websocket_url"] == "ws://api.example.com/ws/v1"


@override_settings(
    ALLOWED_HOSTS=["api.example.com"],
    CLEAVE_WEBSOCKET_URL=None,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)
@pytest.mark.parametrize(("proxies", "scheme"), [(1, "wss"), (0, "ws")])
def test_the_scheme_comes_from_a_trusted_proxy_only(proxies: int, scheme: str) -> None:
    with override_settings(CLEAVE_TRUSTED_PROXIES=proxies):
        body = _meta("api.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert body["websocket_url"] == f"{scheme}://api.example.com/ws/v1"


@override_settings(ALLOWED_HOSTS=["*"], CLEAVE_WEBSOCKET_URL="wss://rt.example.com/ws/v1")
def test_the_configured_websocket_url_wins() -> None:
    assert _meta(EVIL)["websocket_url"] == "wss://rt.example.com/ws/v1"


@pytest.fixture
def staff_client() -> Client:
    from apps.identity.models import User

    staff = User.objects.create_user(
        "ops@example.com", "correct horse battery staple", display_name="Ops", is_staff=True
    )
    client = Client()
    client.force_login(staff)
    return client


@override_settings(ALLOWED_HOSTS=["*"])
@pytest.mark.django_db
def test_drf_links_do_not_reflect_a_foreign_host(staff_client: Client) -> None:
    response = staff_client.get("/api/ops/", HTTP_HOST=EVIL)
    assert response.status_code == 200, response.content
    links = [value for value in response.json().values() if str(value).startswith("http")]
    assert links, response.json()
    assert all(EVIL not in link for link in links), links
    assert all(link.startswith("http://127.0.0.1:80/") for link in links), links


@override_settings(ALLOWED_HOSTS=["*"])
def test_drf_pagination_links_do_not_reflect_a_foreign_host() -> None:
    from django.test import RequestFactory
    from rest_framework.request import Request

    from cleave.gateway.drf_links import TrustedLimitOffsetPagination

    request = Request(RequestFactory().get("/api/ops/things/?limit=2&offset=2", HTTP_HOST=EVIL))
    paginator = TrustedLimitOffsetPagination()
    paginator.paginate_queryset(list(range(10)), request)
    links = [paginator.get_next_link(), paginator.get_previous_link()]
    assert all(link and EVIL not in link for link in links), links
    assert links[0] == "http://127.0.0.1:80/api/ops/things/?limit=2&offset=4"
