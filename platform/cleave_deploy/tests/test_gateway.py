"""The gateway's routing table comes from the URL configuration, and the nginx config it renders
is valid and behaves: routes to owners, hides /internal/, answers its own errors in the envelope."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cleave import contexts
from cleave_deploy.gateway import (
    KERNEL,
    Location,
    _api_locations,
    api_routes,
    owners_by_prefix,
    ownership,
)
from cleave_deploy.nginx import GatewayLimits, NginxPaths, Tls, render_nginx_conf
from cleave_deploy.testing import nginx_config_problem

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
# Every installed context needs an upstream: read them from the declarations, so a new context
# (payments, ticketing…) needs no edit here.
CONTEXTS = tuple(context.label for context in contexts.installed())


def test_each_public_prefix_is_owned_by_the_context_whose_module_serves_it() -> None:
    owners = owners_by_prefix(ownership())
    assert owners["/api/v1/conversations"] == "messaging"
    assert owners["/api/v1/notifications"] == "notifications"
    for identity_prefix in ("/api/v1/auth", "/api/v1/me", "/api/v1/sessions", "/api/v1/users"):
        assert owners[identity_prefix] == "identity", identity_prefix
    assert owners["/.well-known/jwks.json"] == "identity"
    for kernel_path in ("/api/v1/meta", "/api/v1/flags", "/api/ops", "/admin", "/healthz"):
        assert owners[kernel_path] == KERNEL, kernel_path


def test_private_paths_are_never_in_the_routing_table() -> None:
    paths = [location.path for location in ownership()]
    assert not [path for path in paths if path.startswith(("/internal", "/metrics"))]


def test_every_served_api_route_has_exactly_one_owner() -> None:
    routes = dict(api_routes())
    assert routes["conversations/{conversation_id}/messages"] == "messaging"
    assert routes["auth/login"] == "identity"
    assert routes["meta"] == KERNEL
    assert routes["docs"] == KERNEL  # ninja's own views are the kernel's


def test_a_prefix_shared_by_two_contexts_is_split_into_exact_and_longer_prefixes() -> None:
    locations = _api_locations(
        [("things", "a"), ("things/{id}", "a"), ("things/special", "b"), ("things/special/x", "b")]
    )
    assert set(locations) == {
        Location("/api/v1/things", exact=True, owner="a"),
        Location("/api/v1/things/", exact=False, owner="a"),
        Location("/api/v1/things/special", exact=True, owner="b"),
        Location("/api/v1/things/special/", exact=False, owner="b"),
    }


def test_a_parameter_segment_split_across_contexts_is_refused() -> None:
    with pytest.raises(ValueError, match="split across"):
        _api_locations([("things/{id}/a", "a"), ("things/{id}/b", "b")])


def test_rendering_refuses_a_topology_missing_a_context(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no upstream"):
        render_nginx_conf(
            upstreams={"identity": "127.0.0.1:1"},
            realtime="127.0.0.1:2",
            listen="127.0.0.1:3",
            paths=NginxPaths.under(tmp_path),
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _render(
    tmp_path: Path, upstreams: dict[str, str], *, limits: GatewayLimits, tls: Tls | None = None
) -> Path:
    paths = NginxPaths.under(tmp_path / "nginx")
    paths.create()
    conf = render_nginx_conf(
        upstreams=upstreams,
        realtime=f"127.0.0.1:{_free_port()}",
        listen=f"127.0.0.1:{_free_port()}",
        paths=paths,
        daemon=False,
        limits=limits,
        tls=tls,
    )
    target = tmp_path / "nginx" / "nginx.conf"
    target.write_text(conf)
    return target


def test_every_service_but_the_edge_gets_its_admin_prefix(tmp_path: Path) -> None:
    upstreams = {context: "127.0.0.1:8101" for context in CONTEXTS}
    upstreams["messaging"] = "127.0.0.1:8102"
    conf = _render(tmp_path, upstreams, limits=GatewayLimits()).read_text()
    assert "location ^~ /admin/messaging/ { proxy_pass http://cleave_messaging; }" in conf
    # Contexts the edge's service hosts are in its own admin, at /admin/.
    assert conf.count("location ^~ /admin/") == 2
    paths = NginxPaths.under(tmp_path / "other")
    named = render_nginx_conf(
        upstreams=upstreams,
        realtime="127.0.0.1:8199",
        listen="127.0.0.1:8080",
        paths=paths,
        admins={"chat": "messaging"},  # a service named otherwise than its context
    )
    assert "location ^~ /admin/chat/ { proxy_pass http://cleave_messaging; }" in named
    assert "/admin/messaging/" not in named


@needs_nginx
@pytest.mark.parametrize("with_tls", [False, True])
def test_rendered_config_passes_nginx_t(tmp_path: Path, with_tls: bool) -> None:
    from cleave_deploy.tls import self_signed_certificate

    upstreams = {context: f"127.0.0.1:{8100 + i}" for i, context in enumerate(CONTEXTS)}
    tls = None
    if with_tls:
        certificate, key = self_signed_certificate(tmp_path / "tls")
        tls = Tls(listen=f"127.0.0.1:{_free_port()}", certificate=certificate, key=key)
    conf = _render(tmp_path, upstreams, limits=GatewayLimits(), tls=tls)
    if with_tls:  # plain HTTP only redirects; HSTS is sent on HTTPS answers
        assert "return 308 https://" in conf.read_text()
        assert "ssl_certificate" in conf.read_text()
    prefix = conf.parent
    assert NGINX is not None  # the module is skipped without nginx
    assert nginx_config_problem(NGINX, conf, prefix) is None


class _ServiceServer(ThreadingHTTPServer):
    service_name = ""


def _served(handler: BaseHTTPRequestHandler) -> str:
    server = handler.server
    assert isinstance(server, _ServiceServer)
    return server.service_name


class _Echo(BaseHTTPRequestHandler):
    """An upstream that answers with its service name and the headers it received."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"service": _served(self), "path": self.path, "headers": dict(self.headers)}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        return


@pytest.fixture
def live_gateway(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """nginx on a free port in front of one echo server per service (notifications: down)."""
    servers = []
    upstreams: dict[str, str] = {}
    ports: dict[str, int] = {}
    for service in ("identity", "messaging"):
        server = _ServiceServer(("127.0.0.1", 0), _Echo)
        server.service_name = service
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        ports[service] = server.server_address[1]
    for context in CONTEXTS:
        owner = context if context in ports else "identity"
        upstreams[context] = f"127.0.0.1:{ports[owner]}"
    upstreams["notifications"] = f"127.0.0.1:{_free_port()}"  # nothing listens: a dead service
    conf = _render(tmp_path, upstreams, limits=GatewayLimits(rate="5r/s", burst=5))
    listen = conf.read_text().split("listen ", 1)[1].split(";", 1)[0]
    assert NGINX is not None  # the module is skipped without nginx
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(conf.parent), "-e", str(conf.parent / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://{listen}"
    try:
        _wait_for(base)
        yield base, ports
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in servers:
            server.shutdown()


def _wait_for(base: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - a local URL
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nginx did not start")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a local URL
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@needs_nginx
def test_live_gateway_routes_each_prefix_to_its_owner(live_gateway: Any) -> None:
    base, _ = live_gateway
    assert _get(f"{base}/api/v1/conversations")[2]["service"] == "messaging"
    assert _get(f"{base}/api/v1/conversations/7/messages?limit=2")[2]["service"] == "messaging"
    assert _get(f"{base}/api/v1/me")[2]["service"] == "identity"
    assert _get(f"{base}/api/v1/meta")[2]["service"] == "identity"  # kernel → the edge
    assert _get(f"{base}/admin/")[2]["service"] == "identity"


@needs_nginx
def test_live_gateway_routes_each_services_admin_prefix_to_it(live_gateway: Any) -> None:
    base, _ = live_gateway
    routed = _get(f"{base}/admin/messaging/cleave/faileddelivery/")[2]
    # The path is passed on unchanged: the service serves its admin under that prefix.
    assert (routed["service"], routed["path"]) == (
        "messaging",
        "/admin/messaging/cleave/faileddelivery/",
    )
    assert _get(f"{base}/admin/login/")[2]["service"] == "identity"  # staff sign in at the edge


@needs_nginx
def test_live_gateway_passes_or_generates_the_request_id(live_gateway: Any) -> None:
    base, _ = live_gateway
    _, _, echoed = _get(f"{base}/api/v1/me", {"X-Request-ID": "client-id-1"})
    assert echoed["headers"]["X-Request-ID"] == "client-id-1"
    assert echoed["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert echoed["headers"]["X-Forwarded-Proto"] == "http"
    _, _, generated = _get(f"{base}/api/v1/me", {"X-Request-ID": "bad id with spaces"})
    assert len(generated["headers"]["X-Request-ID"]) == 32


@needs_nginx
def test_live_gateway_hides_internal_and_answers_its_errors_in_the_envelope(
    live_gateway: Any,
) -> None:
    base, _ = live_gateway
    status, _, body = _get(f"{base}/internal/identity/user_get")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _, body = _get(f"{base}/metrics")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, headers, body = _get(f"{base}/api/v1/notifications", {"X-Request-ID": "rid-502"})
    assert (status, body["error"]["code"]) == (502, "service_unavailable")
    assert headers["X-Request-ID"] == body["error"]["request_id"] == "rid-502"
    statuses = [_get(f"{base}/api/v1/me") for _ in range(30)]
    limited = [(s, b) for s, _, b in statuses if s == 429]
    assert limited, "30 requests at once should exceed 5r/s with a burst of 5"
    assert limited[0][1]["error"]["code"] == "rate_limited"
