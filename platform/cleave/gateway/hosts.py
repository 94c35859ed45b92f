"""The origin (scheme and host) that URLs built for clients may use: never whatever the Host
header says.

Django's `get_host()` checks the Host against ALLOWED_HOSTS. Real mode lists its hosts (it
refuses `*`), so an accepted Host is one the operator named and is reflected as it came.
Embedded mode allows any host by default (`make run` on a laptop, a phone on the same network):
there only a loopback Host (localhost, 127.0.0.0/8, ::1) is reflected; any other falls back to
the loopback address and port the request actually arrived on. Set ALLOWED_HOSTS (or
CLEAVE_WEBSOCKET_URL) to serve other hosts. The scheme is https only when the server itself
terminated TLS or a trusted proxy (CLEAVE_TRUSTED_PROXIES > 0) said so in the header named by
SECURE_PROXY_SSL_HEADER.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import is_same_domain

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
FALLBACK_HOST = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether a host name or address (without port; IPv6 with or without brackets) is local."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_host(request: HttpRequest) -> str:
    """The Host to put in a URL for this client: validated, and explicitly allowed or local."""
    host = request.get_host()  # raises DisallowedHost for hosts ALLOWED_HOSTS refuses
    name = _without_port(host).lower()
    explicit = [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"]
    if is_loopback(name) or any(is_same_domain(name, pattern) for pattern in explicit):
        return host
    port = str(request.META.get("SERVER_PORT") or "")
    return f"{FALLBACK_HOST}:{port}" if port.isdigit() else FALLBACK_HOST


def is_secure(request: HttpRequest) -> bool:
    """HTTPS as the server saw it, or as a trusted proxy reported it."""
    if int(getattr(settings, "CLEAVE_TRUSTED_PROXIES", 0)) > 0:
        return request.is_secure()
    return request.META.get("wsgi.url_scheme") == "https"


def origin(request: HttpRequest, *, websocket: bool = False) -> str:
    """`http(s)://host` (or `ws(s)://host`) for URLs answered to this request."""
    secure = is_secure(request)
    scheme = ("wss" if secure else "ws") if websocket else ("https" if secure else "http")
    return f"{scheme}://{trusted_host(request)}"


def rebased(request: HttpRequest, url: str | None) -> str | None:
    """`url` (absolute, built by a library from the Host header) moved onto `origin(request)`."""
    if url is None:
        return None
    parts = urlsplit(url)
    base = urlsplit(origin(request))
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def _without_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
