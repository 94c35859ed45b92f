"""The embedded server keeps /metrics and the private contract surface's description
(/internal/openapi.json, /internal/docs) to loopback clients.

In the split topology the gateway never routes these paths, and Prometheus scrapes each pod by
its address, so real mode leaves them open to whoever reaches the process itself. The embedded
server has no gateway: `make run` with HOST=0.0.0.0 (a phone on the same network) would publish
the private contract surface and the metrics to anyone who can reach the port. There, only a
loopback client (the socket's peer, or the address trusted proxies forwarded) sees them; anyone
else gets the same 404 as an unknown path. The contract calls under /internal/ themselves need
a service token (none exists in embedded mode) and keep answering 401 as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse

from cleave.errors import ErrorCode
from cleave.gateway.envelope import error_response
from cleave.gateway.hosts import is_loopback
from cleave.gateway.throttling import client_ip

# Readable without any credential, so kept to loopback (the gateway closes all of /internal/).
PRIVATE_PREFIXES = ("/metrics", "/internal/openapi.json", "/internal/docs")


def is_private(path: str) -> bool:
    return path.startswith(PRIVATE_PREFIXES) and any(
        path == prefix or path.startswith(f"{prefix}/") for prefix in PRIVATE_PREFIXES
    )


def hidden_from(request: HttpRequest) -> bool:
    """Whether this request must not see a private path (embedded mode, not from loopback)."""
    return settings.CLEAVE_MODE == "embedded" and not is_loopback(client_ip(request))


def hidden_from_environ(environ: dict[str, Any]) -> bool:
    """`hidden_from` for a WSGI environ answered before Django (cleave.wsgi's /metrics)."""
    return settings.CLEAVE_MODE == "embedded" and hidden_from(WSGIRequest(environ))


class PrivatePathsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_private(request.path) and hidden_from(request):
            return error_response(code=ErrorCode.NOT_FOUND, status=404)
        return self.get_response(request)
