"""Which service owns each public path, read from the URL configuration, and the nginx config
that routes a split topology to them.

Ownership is derived, never listed by hand: a ninja operation belongs to the context whose app
holds its view function's module (`apps.messaging.api` → messaging); everything else (the
kernel's `/api/v1/meta`, `/api/v1/flags`, `/api/ops/`, `/admin/`, `/static/`, health) belongs
to the "edge" service, by default the one hosting identity. A route added to a context is
therefore routed correctly the next time the config is generated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

# The owner of routes served by the kernel rather than a context: they go to the edge service.
KERNEL = "kernel"
API_BASE = "/api/v1"
DEFAULT_EDGE = "identity"
# Paths the public gateway must never route: service-to-service calls and metrics scrapes.
PRIVATE_PREFIXES = ("/internal", "/metrics")
# Served by WhiteNoise middleware on every process, not by the URL configuration.
STATIC_PREFIX = "/static/"
_PARAM = "*"
_PATH_PARAM = re.compile(r"^(\{[^}]+\}|<[^>]+>)$")


@dataclass(frozen=True, order=True)
class Location:
    """One nginx location: `= path` when `exact`, else `^~ path` (a prefix, never a regex)."""

    path: str
    exact: bool
    owner: str  # a context label, or KERNEL

    @property
    def directive(self) -> str:
        return f"location {'=' if self.exact else '^~'} {self.path}"


# --- Ownership -------------------------------------------------------------------------------
def owner_of_module(module: str) -> str:
    """The context label whose app contains `module`, or KERNEL."""
    config = apps.get_containing_app_config(module)
    if config is not None and config.name in settings.CLEAVE_CONTEXTS:
        return str(config.label)
    return KERNEL


def api_routes() -> list[tuple[str, str]]:
    """Every `/api/v1/` route (`conversations/{conversation_id}`) with its owner, sorted.

    Walks the public ninja API's routers for the view functions, then cross-checks the result
    against the URL patterns the API really serves, so a change in ninja's internals fails here
    loudly instead of producing a gateway that silently misroutes.
    """
    from cleave.api import public_api  # here, not at import: it needs the app registry ready

    patterns, _, _ = public_api.urls  # also binds every router (ninja builds them lazily)
    served = {
        _shape(str(pattern.pattern)) for pattern in patterns if isinstance(pattern, URLPattern)
    }
    owners: dict[str, set[str]] = {}
    # `_routers` is private, but ninja has no public listing of (prefix, router) with the full
    # prefixes; the cross-check below catches it changing shape.
    for prefix, router in public_api._routers:
        for path, path_view in router.path_operations.items():
            route = "/".join(part.strip("/") for part in (prefix, path) if part.strip("/"))
            for operation in path_view.operations:
                owners.setdefault(route, set()).add(owner_of_module(operation.view_func.__module__))
    walked = {_shape(route) for route in owners}
    if walked - served:
        raise RuntimeError(f"ninja routes not among the served URL patterns: {walked - served}")
    # ninja's own views (docs, openapi.json, the API root) are the kernel's.
    for pattern in sorted(served - walked):
        owners.setdefault(pattern, {KERNEL})
    result = []
    for route, route_owners in sorted(owners.items()):
        if len(route_owners) > 1:
            raise ValueError(f"/api/v1/{route} has operations in several contexts: {route_owners}")
        result.append((route, route_owners.pop()))
    return result


def ownership() -> list[Location]:
    """Every public location and its owner (KERNEL for the edge's routes), longest first."""
    locations = _api_locations(api_routes())
    locations += _root_locations()
    locations.append(Location(STATIC_PREFIX, exact=False, owner=KERNEL))
    return sort_locations(set(locations))


def owners_by_prefix(locations: Iterable[Location]) -> dict[str, str]:
    """`{"/api/v1/conversations": "messaging", …}`: a readable view for docs and tests."""
    return {location.path.rstrip("/") or "/": location.owner for location in locations}


def sort_locations(locations: Iterable[Location]) -> list[Location]:
    """Longest path first (exact before prefix on a tie), so the output reads like the match.

    nginx itself picks the longest `^~` prefix and any `=` match regardless of order; sorting
    keeps the generated file stable and reviewable.
    """
    return sorted(locations, key=lambda loc: (-len(loc.path), not loc.exact, loc.path))


def _shape(route: str) -> str:
    """A route with its parameters blanked (`a/{x}` and `a/<int:x>` both → `a/*`)."""
    parts = [part for part in route.strip("/").split("/") if part]
    return "/".join(_PARAM if _PATH_PARAM.match(part) else part for part in parts)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    ends: set[str] = field(default_factory=set)  # owners of routes ending at this node

    def owners(self) -> set[str]:
        found = set(self.ends)
        for child in self.children.values():
            found |= child.owners()
        return found


def _api_locations(routes: Sequence[tuple[str, str]]) -> list[Location]:
    root = _Node()
    for route, owner in routes:
        node = root
        for part in _shape(route).split("/") if route else []:
            node = node.children.setdefault(part, _Node())
        node.ends.add(owner)
    locations: list[Location] = []
    for segment, child in sorted(root.children.items()):
        if segment == _PARAM:
            raise ValueError("a route starts with a path parameter right under /api/v1/")
        _emit(child, f"{API_BASE}/{segment}", locations)
    return locations


def _emit(node: _Node, path: str, out: list[Location]) -> None:
    """The fewest prefixes that still send every route to its owner (a trie walk)."""
    owners = node.owners()
    if len(owners) == 1:
        (owner,) = owners
        out += [Location(path, exact=True, owner=owner), Location(f"{path}/", False, owner)]
        return
    if len(node.ends) > 1:
        raise ValueError(f"{path} is served by several contexts: {sorted(node.ends)}")
    if node.ends:
        out.append(Location(path, exact=True, owner=next(iter(node.ends))))
    param = node.children.get(_PARAM)
    if param is not None:
        param_owners = param.owners()
        if len(param_owners) > 1:
            # Would need a regex location per route; no context does this today.
            raise ValueError(f"{path}/{{param}}/… is split across {sorted(param_owners)}")
        out.append(Location(f"{path}/", exact=False, owner=param_owners.pop()))
    for segment, child in sorted(node.children.items()):
        if segment != _PARAM:
            _emit(child, f"{path}/{segment}", out)


def _root_locations() -> list[Location]:
    """Owners of the root URL configuration's entries outside /api/v1/ (jwks, ops, admin…)."""
    locations = []
    for entry in get_resolver().url_patterns:
        route = str(entry.pattern)
        if route.rstrip("/") == API_BASE.lstrip("/") or _is_private("/" + route):
            continue
        owners = {owner_of_module(module) for module in _modules(entry)}
        owner = owners.pop() if len(owners) == 1 else KERNEL
        path = "/" + _shape(route) + ("/" if route.endswith("/") else "")
        if _PARAM in path:
            raise ValueError(f"root route {route!r} has a parameter; not expressible as a prefix")
        exact = isinstance(entry, URLPattern) and not route.endswith("/")
        locations.append(Location(path, exact=exact, owner=owner))
    return locations


def _is_private(path: str) -> bool:
    return any(path == p or path.startswith(f"{p}/") for p in PRIVATE_PREFIXES)


def _modules(entry: URLPattern | URLResolver) -> set[str]:
    if isinstance(entry, URLResolver):
        return {module for child in entry.url_patterns for module in _modules(child)}
    callback: Any = entry.callback
    callback = getattr(callback, "view_class", None) or getattr(callback, "func", callback)
    return {str(callback.__module__)}


# --- nginx -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NginxPaths:
    """Where nginx writes its pid, logs and temp files, so it runs unprivileged from a folder."""

    pid: Path
    error_log: Path
    access_log: Path
    temp: Path

    @classmethod
    def under(cls, folder: Path) -> NginxPaths:
        return cls(
            pid=folder / "nginx.pid",
            error_log=folder / "error.log",
            access_log=folder / "access.log",
            temp=folder / "tmp",
        )

    def create(self) -> None:
        """The folders nginx expects to exist (it creates the files, not their parents)."""
        for path in (self.pid.parent, self.error_log.parent, self.access_log.parent):
            path.mkdir(parents=True, exist_ok=True)
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.temp / name).mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class GatewayLimits:
    """Per-IP request rate, timeouts and body size at the gateway."""

    rate: str = "20r/s"
    burst: int = 40
    connect_timeout: str = "5s"
    read_timeout: str = "60s"
    websocket_timeout: str = "3600s"
    max_body: str = "10m"
    keepalive: int = 16


def envelope(code: str, message: str) -> str:
    """Cleave's error envelope as one JSON line, quoted for an nginx `return` directive."""
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}})
    return "'" + body.replace("\\", "\\\\").replace("'", "\\'") + "'"


_ERRORS = {
    413: ("payload_too_large", "The request body is too large."),
    429: ("rate_limited", "Too many requests; retry later."),
    502: ("service_unavailable", "The service behind the gateway is unreachable."),
    503: ("service_unavailable", "The service is unavailable; retry later."),
    504: ("service_unavailable", "The service did not answer in time."),
}


def upstream_name(owner: str) -> str:
    return f"cleave_{owner}"


def render_locations(
    locations: Iterable[Location], *, upstream_for: Mapping[str, str], indent: str = "    "
) -> str:
    """`location` blocks proxying each path to `upstream_for[owner]` (an upstream name)."""
    blocks = []
    for location in sort_locations(locations):
        target = upstream_for[location.owner]
        blocks.append(f"{indent}{location.directive} {{ proxy_pass http://{target}; }}")
    return "\n".join(blocks) + "\n"


def render_nginx_conf(
    *,
    upstreams: Mapping[str, str],
    realtime: str,
    listen: str,
    paths: NginxPaths,
    locations: Sequence[Location] | None = None,
    edge: str = DEFAULT_EDGE,
    daemon: bool = True,
    limits: GatewayLimits | None = None,
    tls: Tls | None = None,
) -> str:
    """A complete nginx.conf for a split topology.

    `upstreams` maps every context to the "host:port" of the service hosting it (several
    contexts may share one service); KERNEL routes and anything unmatched go to `edge`'s
    service; `/ws/` goes to `realtime`. `locations` defaults to `ownership()`. With `tls`,
    the gateway also terminates TLS on `tls.listen` and sends HSTS there; `listen` then
    redirects to it, unless `tls.serve_plain` keeps plain HTTP too (local rehearsals).
    """
    limits = limits or GatewayLimits()
    locations = list(locations if locations is not None else ownership())
    missing = sorted({loc.owner for loc in locations} - {KERNEL} - set(upstreams))
    if missing or edge not in upstreams:
        raise ValueError(f"no upstream for {missing or [edge]}; give one per context")
    # One upstream per distinct address, named after the first context served there.
    names: dict[str, str] = {}
    for context, address in sorted(upstreams.items()):
        names.setdefault(address, upstream_name(context))
    upstream_for = {context: names[address] for context, address in upstreams.items()}
    upstream_for[KERNEL] = upstream_for[edge]
    upstream_blocks = "".join(
        f"    upstream {name} {{\n        server {address};\n"
        f"        keepalive {limits.keepalive};\n    }}\n"
        for address, name in sorted(names.items(), key=lambda item: item[1])
    )
    not_found = (
        "add_header X-Request-ID $cleave_request_id always; "
        f"return 404 {envelope('not_found', 'Not found.')};"
    )
    private = "".join(
        f"        location = {prefix} {{ {not_found} }}\n"
        f"        location ^~ {prefix}/ {{ {not_found} }}\n"
        for prefix in PRIVATE_PREFIXES
    )
    error_pages = "".join(f"        error_page {status} @cleave_{status};\n" for status in _ERRORS)
    error_locations = "".join(
        f"        location @cleave_{status} {{\n"
        "            default_type application/json;\n"
        "            add_header X-Request-ID $cleave_request_id always;\n"
        + ("            add_header Retry-After 1 always;\n" if status == 429 else "")
        + f"            return {status} {envelope(code, message)};\n        }}\n"
        for status, (code, message) in _ERRORS.items()
    )
    headers = proxy_headers("        ")
    return f"""\
# Generated by cleave.extraction.gateway from the URL configuration: regenerate, don't edit.
worker_processes 1;
{"" if daemon else "daemon off;"}
pid {paths.pid};
error_log {paths.error_log} warn;

events {{
    worker_connections 1024;
}}

http {{
    log_format cleave '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent '
                      '$request_time rid=$cleave_request_id upstream=$upstream_addr';
    access_log {paths.access_log} cleave;
    client_body_temp_path {paths.temp / "client_body"};
    proxy_temp_path {paths.temp / "proxy"};
    fastcgi_temp_path {paths.temp / "fastcgi"};
    uwsgi_temp_path {paths.temp / "uwsgi"};
    scgi_temp_path {paths.temp / "scgi"};
    server_tokens off;
    client_max_body_size {limits.max_body};
    default_type application/json;

    # The client's request id when it is a safe token (the same rule as the app's), else ours.
    map $http_x_request_id $cleave_request_id {{
        "~^[A-Za-z0-9._:-]{{1,128}}$" $http_x_request_id;
        default $request_id;
    }}
    map $http_upgrade $cleave_connection_upgrade {{
        default upgrade;
        "" close;
    }}
    map $scheme $cleave_hsts {{
        https "max-age=31536000; includeSubDomains";
        default "";
    }}
    limit_req_zone $binary_remote_addr zone=cleave_per_ip:10m rate={limits.rate};
    limit_req_status 429;

{upstream_blocks}    upstream cleave_realtime {{
        server {realtime};
    }}

{_plain_redirect(listen, tls)}    server {{
{_listeners(listen, tls)}        server_name _;
        limit_req zone=cleave_per_ip burst={limits.burst} nodelay;
        # HSTS on HTTPS answers only, set here so nginx's own answers carry it too.
        proxy_hide_header Strict-Transport-Security;
        add_header Strict-Transport-Security $cleave_hsts always;

        proxy_http_version 1.1;
{headers}        proxy_set_header Connection "";
        proxy_connect_timeout {limits.connect_timeout};
        proxy_send_timeout {limits.read_timeout};
        proxy_read_timeout {limits.read_timeout};
        # Upstream error bodies (e.g. /readyz's 503) pass through; only nginx's own are rewritten.
        proxy_intercept_errors off;
{error_pages}
        # Never public: service-to-service calls and metrics.
{private}
        location ^~ /ws/ {{
            proxy_pass http://cleave_realtime;
{proxy_headers("            ")}            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $cleave_connection_upgrade;
            proxy_read_timeout {limits.websocket_timeout};
            proxy_send_timeout {limits.websocket_timeout};
            proxy_buffering off;
        }}

{render_locations(locations, upstream_for=upstream_for, indent="        ")}
        location / {{ proxy_pass http://{upstream_for[KERNEL]}; }}

{error_locations}    }}
}}
"""


@dataclass(frozen=True)
class Tls:
    """TLS at the gateway: where it listens, its certificate and key (PEM files)."""

    listen: str
    certificate: Path
    key: Path
    serve_plain: bool = False  # also serve plain HTTP on `listen` (local rehearsals only)


def _listeners(listen: str, tls: Tls | None) -> str:
    lines = []
    if tls is None or tls.serve_plain:
        lines.append(f"        listen {listen};\n")
    if tls is not None:
        lines += [
            f"        listen {tls.listen} ssl;\n",
            f"        ssl_certificate {tls.certificate};\n",
            f"        ssl_certificate_key {tls.key};\n",
            "        ssl_protocols TLSv1.2 TLSv1.3;\n",
            "        ssl_prefer_server_ciphers off;\n",
            "        ssl_session_cache shared:cleave_tls:10m;\n",
        ]
    return "".join(lines)


def _plain_redirect(listen: str, tls: Tls | None) -> str:
    if tls is None or tls.serve_plain:
        return ""
    port = tls.listen.rsplit(":", 1)[-1]
    return (
        f"    server {{\n        listen {listen};\n        server_name _;\n"
        f"        return 308 https://$host:{port}$request_uri;\n    }}\n\n"
    )


def proxy_headers(indent: str) -> str:
    """The headers every proxied request carries (request id, client address and scheme)."""
    # Repeated in /ws/: a location that sets any proxy_set_header inherits none of the server's.
    return "".join(
        f"{indent}proxy_set_header {name} {value};\n"
        for name, value in (
            ("Host", "$http_host"),
            ("X-Request-ID", "$cleave_request_id"),
            ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
            ("X-Forwarded-Proto", "$scheme"),
        )
    )
