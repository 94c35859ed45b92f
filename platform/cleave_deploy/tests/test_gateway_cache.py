"""The gateway caches what a context declares (`Context.gateway_cache`) for anonymous GETs only:
the rendering, and a real nginx in front of a tiny upstream that counts what reaches it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cleave import contexts
from cleave.contexts import Context, DeclarationError, GatewayCache
from cleave.testing.processes import free_port as _free_port
from cleave_deploy.nginx import CachedPath, NginxPaths, declared_caches, render_nginx_conf
from cleave_deploy.testing import nginx_config_problem
from cleave_deploy.tests.test_gateway import _wait_for

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
CONTEXTS = tuple(context.label for context in contexts.installed())
CELLS = "/api/v1/recommendations/nearby/cells/"


def _conf(tmp_path: Path, upstream: str, caches: list[CachedPath] | None = None) -> Path:
    paths = NginxPaths.under(tmp_path / "nginx")
    paths.create()
    conf = render_nginx_conf(
        upstreams={context: upstream for context in CONTEXTS},
        realtime=f"127.0.0.1:{_free_port()}",
        listen=f"127.0.0.1:{_free_port()}",
        paths=paths,
        daemon=False,
        caches=caches,
    )
    target = tmp_path / "nginx" / "nginx.conf"
    target.write_text(conf)
    return target


def test_recommendations_declares_its_per_cell_answers_cacheable() -> None:
    assert CachedPath(CELLS, "recommendations", 5) in declared_caches()


def test_the_declared_cache_is_rendered_as_proxy_cache(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "127.0.0.1:9").read_text()
    block = conf.split(f"location ^~ {CELLS} {{", 1)[1].split("}", 1)[0]
    for line in (
        "proxy_cache cleave_gateway;",
        "proxy_cache_key $request_uri;",
        "proxy_cache_valid 200 5s;",
        "proxy_cache_bypass $cleave_cache_bypass;",
        "proxy_no_cache $cleave_cache_bypass;",
        "proxy_cache_lock on;",
        "proxy_cache_revalidate on;",
        "add_header X-Cache-Status $upstream_cache_status always;",
        # A location's add_header drops the server's: HSTS is repeated.
        "add_header Strict-Transport-Security $cleave_hsts always;",
    ):
        assert line in block
    assert f"proxy_cache_path {tmp_path / 'nginx' / 'cache'} " in conf
    assert '"$http_authorization$http_cookie" $cleave_cache_bypass' in conf
    # Nothing else is cached: the zone is used by that one location only.
    assert conf.count("proxy_cache cleave_gateway;") == 1


def test_without_a_declaration_no_cache_is_rendered(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "127.0.0.1:9", caches=[]).read_text()
    assert "proxy_cache" not in conf
    assert "$cleave_cache_bypass" not in conf


def test_a_declaration_caching_what_the_context_does_not_serve_is_refused() -> None:
    with pytest.raises(DeclarationError, match="does not serve"):
        contexts.validate(
            [
                Context(
                    label="shop",
                    app="apps.shop",
                    url_prefixes=("/api/v1/shop",),
                    gateway_cache=GatewayCache(prefixes=("/api/v1/shopping/",), seconds=5),
                )
            ]
        )
    with pytest.raises(DeclarationError, match=">= 1 s"):
        GatewayCache(prefixes=("/api/v1/shop/",), seconds=0)
    with pytest.raises(DeclarationError, match="not '/api/v1/shop'"):
        GatewayCache(prefixes=("/api/v1/shop",), seconds=5)


@needs_nginx
def test_the_rendered_cache_passes_nginx_t(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "127.0.0.1:9")
    assert NGINX is not None
    assert nginx_config_problem(NGINX, conf, conf.parent) is None


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True
    hits: Counter[str]
    conditional: list[str]
    delay = 0.0


class _Cells(BaseHTTPRequestHandler):
    """Answers like recommendations' per-cell route: an ETag, `public, max-age=1` (a `no-store`
    one under `.../degraded`), a 304 to a matching If-None-Match; counts what reaches it."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Upstream)
        server.hits[self.path] += 1
        time.sleep(server.delay)
        etag = '"' + hashlib.sha256(self.path.encode()).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            server.conditional.append(self.path)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        body = b'{"items": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        degraded = self.path.endswith("/degraded")
        self.send_header("Cache-Control", "no-store" if degraded else "public, max-age=1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@dataclass
class _Gateway:
    base: str
    upstream: _Upstream

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.headers.get("X-Cache-Status", "")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("X-Cache-Status", "")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[_Gateway]:
    upstream = _Upstream(("127.0.0.1", 0), _Cells)
    upstream.hits = Counter()
    upstream.conditional = []
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    conf = _conf(
        tmp_path,
        f"127.0.0.1:{upstream.server_address[1]}",
        caches=[CachedPath(CELLS, "recommendations", 1)],
    )
    listen = conf.read_text().split("listen ", 1)[1].split(";", 1)[0]
    assert NGINX is not None
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(conf.parent), "-e", str(conf.parent / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(f"http://{listen}")
        yield _Gateway(f"http://{listen}", upstream)
    finally:
        process.terminate()
        process.wait(timeout=10)
        upstream.shutdown()


@needs_nginx
def test_an_anonymous_read_is_a_miss_then_a_hit(gateway: _Gateway) -> None:
    path = CELLS + "881f1d4a7ffffff"
    assert gateway.get(path) == (200, "MISS")
    assert gateway.get(path) == (200, "HIT")
    assert gateway.upstream.hits[path] == 1
    # Another URI is another key.
    assert gateway.get(path + "?x=1") == (200, "MISS")


@needs_nginx
def test_a_request_with_credentials_is_never_served_from_nor_stored_in_the_cache(
    gateway: _Gateway,
) -> None:
    path = CELLS + "881f1d4a7fffff1"
    assert gateway.get(path) == (200, "MISS")  # cached now
    for headers in ({"Authorization": "Bearer someone"}, {"Cookie": "sessionid=abc"}):
        assert gateway.get(path, headers) == (200, "BYPASS")
    assert gateway.upstream.hits[path] == 3
    fresh = CELLS + "881f1d4a7fffff2"
    assert gateway.get(fresh, {"Authorization": "Bearer someone"}) == (200, "BYPASS")
    assert gateway.get(fresh) == (200, "MISS")  # the credentialed answer was not stored


@needs_nginx
def test_a_no_store_answer_is_not_kept(gateway: _Gateway) -> None:
    path = CELLS + "881f1d4a7fffff3/degraded"
    assert gateway.get(path) == (200, "MISS")
    assert gateway.get(path) == (200, "MISS")
    assert gateway.upstream.hits[path] == 2


@needs_nginx
def test_a_stampede_of_misses_goes_upstream_once(gateway: _Gateway) -> None:
    path = CELLS + "881f1d4a7fffff4"
    gateway.upstream.delay = 0.3
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: gateway.get(path), range(20)))
    assert {status for status, _ in answers} == {200}
    assert gateway.upstream.hits[path] == 1


@needs_nginx
def test_an_expired_entry_is_revalidated_with_its_etag(gateway: _Gateway) -> None:
    path = CELLS + "881f1d4a7fffff5"
    assert gateway.get(path) == (200, "MISS")
    time.sleep(2.1)  # past the upstream's max-age=1 (nginx counts whole seconds)
    assert gateway.get(path) == (200, "REVALIDATED")
    assert gateway.upstream.conditional == [path]  # the service answered a 304
    # A client holding the ETag gets a 304 from the gateway itself.
    etag = '"' + hashlib.sha256(path.encode()).hexdigest()[:16] + '"'
    assert gateway.get(path, {"If-None-Match": etag}) == (304, "HIT")
    assert gateway.upstream.hits[path] == 2
