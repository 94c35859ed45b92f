"""The nginx configuration of a split topology, rendered from the ownership of each path
(`cleave_deploy.gateway`): routes per context, `/ws/` to realtime, private paths closed,
request ids, per-IP limits, TLS, and nginx's own errors in Cleave's envelope."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cleave import contexts
from cleave_deploy.gateway import (
    KERNEL,
    PRIVATE_PREFIXES,
    Location,
    default_edge,
    ownership,
    sort_locations,
)


@dataclass(frozen=True)
class NginxPaths:
    """Where nginx writes its pid, logs and temp files, so it runs unprivileged from a folder."""

    pid: Path
    error_log: Path
    access_log: Path
    temp: Path
    cache: Path  # the gateway cache's files (`proxy_cache_path`)

    @classmethod
    def under(cls, folder: Path) -> NginxPaths:
        return cls(
            pid=folder / "nginx.pid",
            error_log=folder / "error.log",
            access_log=folder / "access.log",
            temp=folder / "tmp",
            cache=folder / "cache",
        )

    def create(self) -> None:
        """The folders nginx expects to exist (it creates the files, not their parents)."""
        for path in (self.pid.parent, self.error_log.parent, self.access_log.parent, self.cache):
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
    """Cleave's error envelope as one JSON line, quoted for an nginx `return` directive; nginx
    fills in the request id (`$cleave_request_id` only ever holds characters safe in JSON)."""
    body = json.dumps(
        {
            "error": {
                "code": code,
                "message": message,
                "details": {},
                "request_id": "$cleave_request_id",
            }
        }
    )
    return "'" + body.replace("\\", "\\\\").replace("'", "\\'") + "'"


_ERRORS = {
    413: ("payload_too_large", "The request body is too large."),
    429: ("rate_limited", "Too many requests; retry later."),
    502: ("service_unavailable", "The service behind the gateway is unreachable."),
    503: ("service_unavailable", "The service is unavailable; retry later."),
    504: ("service_unavailable", "The service did not answer in time."),
}


@dataclass(frozen=True)
class CachedPath:
    """A path prefix whose anonymous GET answers the gateway keeps `seconds` (its owner's
    `Context.gateway_cache`)."""

    path: str
    owner: str
    seconds: int


def declared_caches() -> list[CachedPath]:
    """What the deployment's contexts declare the gateway may cache (cleave.contexts)."""
    return [
        CachedPath(prefix, context.label, context.gateway_cache.seconds)
        for context in contexts.all_contexts()
        if context.gateway_cache is not None
        for prefix in context.gateway_cache.prefixes
    ]


# Any Authorization header or cookie: the request may be answered for someone, so the gateway
# neither serves it from the cache nor stores its answer.
_CACHE_BYPASS_MAP = """\
    map "$http_authorization$http_cookie" $cleave_cache_bypass {
        "" 0;
        default 1;
    }
"""


def render_cached_locations(
    cached: Iterable[CachedPath], *, upstream_for: Mapping[str, str], indent: str
) -> str:
    """A `^~` location per cached path: proxy_cache keyed by URI, bypassed for credentials.

    `add_header` here drops the server's, so HSTS is repeated. proxy_cache_lock sends one
    request per key upstream on a miss (the others wait for it); proxy_cache_revalidate asks
    an expired entry's ETag with If-None-Match, so an unchanged list costs the service a 304.
    nginx honours the service's Cache-Control (private/no-store: not kept; max-age: that long,
    over `proxy_cache_valid`) and does not keep answers that set a cookie.
    """
    inner = indent + "    "
    blocks = []
    for entry in sorted(cached, key=lambda c: c.path):
        blocks.append(
            f"{indent}location ^~ {entry.path} {{\n"
            f"{inner}proxy_pass http://{upstream_for[entry.owner]};\n"
            f"{inner}proxy_cache cleave_gateway;\n"
            f"{inner}proxy_cache_key $request_uri;\n"
            f"{inner}proxy_cache_methods GET HEAD;\n"
            f"{inner}proxy_cache_valid 200 {entry.seconds}s;\n"
            f"{inner}proxy_cache_bypass $cleave_cache_bypass;\n"
            f"{inner}proxy_no_cache $cleave_cache_bypass;\n"
            f"{inner}proxy_cache_lock on;\n"
            f"{inner}proxy_cache_lock_timeout 5s;\n"
            f"{inner}proxy_cache_revalidate on;\n"
            f"{inner}add_header X-Cache-Status $upstream_cache_status always;\n"
            f"{inner}add_header Strict-Transport-Security $cleave_hsts always;\n"
            f"{indent}}}"
        )
    return "\n".join(blocks) + ("\n" if blocks else "")


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
    edge: str | None = None,
    daemon: bool = True,
    limits: GatewayLimits | None = None,
    tls: Tls | None = None,
    admins: Mapping[str, str] | None = None,
    caches: Sequence[CachedPath] | None = None,
) -> str:
    """A complete nginx.conf for a split topology.

    `upstreams` maps every context to the "host:port" of the service hosting it (several
    contexts may share one service); KERNEL routes and anything unmatched go to `edge`'s
    service; `/ws/` goes to `realtime`. `locations` defaults to `ownership()`. With `tls`,
    the gateway also terminates TLS on `tls.listen` and sends HSTS there; `listen` then
    redirects to it, unless `tls.serve_plain` keeps plain HTTP too (local rehearsals).
    `admins` maps a service name to a context it hosts: `/admin/<service>/` goes to that
    service's admin (cleave.admin_site); by default every context not served by the edge's
    service, named after it (an extracted service's CLEAVE_SERVICE_NAME is its context).
    `caches` (default: `declared_caches()`) are the paths whose anonymous GETs the gateway
    caches, in a zone under `paths.cache`.
    """
    limits = limits or GatewayLimits()
    edge = edge or default_edge()
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
    cached = [c for c in (declared_caches() if caches is None else caches) if c.owner in upstreams]
    # A cached prefix is a location of its own; it replaces a plain one on the same path.
    cached_paths = {c.path for c in cached}
    locations = [loc for loc in locations if loc.exact or loc.path not in cached_paths]
    if admins is None:
        admins = {c: c for c, address in upstreams.items() if address != upstreams[edge]}
    admin_locations = render_admin_locations(
        {service: upstream_for[context] for service, context in admins.items()},
        indent="        ",
    )
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
# Generated by cleave_deploy.gateway from the URL configuration: regenerate, don't edit.
worker_processes 1;
{"" if daemon else _workers_user()}{"" if daemon else "daemon off;"}
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
{_CACHE_BYPASS_MAP if cached else ""}\
{_cache_zone(paths) if cached else ""}\
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

{render_locations(locations, upstream_for=upstream_for, indent="        ")}\
{render_cached_locations(cached, upstream_for=upstream_for, indent="        ")}
        # Each other service's admin; staff sign in once, at the edge's /admin/.
{admin_locations}
        location / {{ proxy_pass http://{upstream_for[KERNEL]}; }}

{error_locations}    }}
}}
"""


def _workers_user() -> str:
    """A foreground gateway (`make split`, tests) started as root (containers, CI) would run
    its workers as `nobody`, who cannot write the cache under a folder only its owner may
    enter: they run as the starting user, as in an unprivileged run. A daemon's config (what
    `extract --nginx` writes for a real gateway) keeps nginx's own unprivileged default."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name};\n"


def _cache_zone(paths: NginxPaths) -> str:
    # Entries live seconds; `inactive` drops unused ones, max_size bounds the folder.
    return (
        f"    proxy_cache_path {paths.cache} levels=1:2 keys_zone=cleave_gateway:10m "
        "max_size=256m inactive=10m use_temp_path=off;\n"
    )


def admin_prefix(service: str) -> str:
    """Where a service other than the edge serves its admin (cleave.settings' admin prefix)."""
    return f"/admin/{service}/"


def render_admin_locations(upstream_for: Mapping[str, str], *, indent: str) -> str:
    """`location ^~ /admin/<service>/` → that service's upstream, one per service."""
    return "".join(
        f"{indent}location ^~ {admin_prefix(service)} {{ proxy_pass http://{upstream}; }}\n"
        for service, upstream in sorted(upstream_for.items())
    )


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
