"""Which context owns each public route, read from the URL configuration.

A ninja operation belongs to the context whose app holds its view function's module
(`apps.<context>.api` → that context); everything else (the kernel's `/api/v1/meta`, flags, ops,
admin, static, health) belongs to the kernel, served by the edge service. The metrics label each
request with its owner; the deploy tooling (`cleave_deploy.gateway`) routes a split topology by it.
"""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver

# The owner of routes served by the kernel rather than a context: they go to the edge service.
KERNEL = "kernel"
API_BASE = "/api/v1"
PARAM = "*"
_PATH_PARAM = re.compile(r"^(\{[^}]+\}|<[^>]+>)$")


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
        route_shape(str(pattern.pattern)) for pattern in patterns if isinstance(pattern, URLPattern)
    }
    owners: dict[str, set[str]] = {}
    # `_routers` is private, but ninja has no public listing of (prefix, router) with the full
    # prefixes; the cross-check below catches it changing shape.
    for prefix, router in public_api._routers:
        for path, path_view in router.path_operations.items():
            route = "/".join(part.strip("/") for part in (prefix, path) if part.strip("/"))
            for operation in path_view.operations:
                owners.setdefault(route, set()).add(owner_of_module(operation.view_func.__module__))
    walked = {route_shape(route) for route in owners}
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


def route_shape(route: str) -> str:
    """A route with its parameters blanked (`a/{x}` and `a/<int:x>` both → `a/*`)."""
    parts = [part for part in route.strip("/").split("/") if part]
    return "/".join(PARAM if _PATH_PARAM.match(part) else part for part in parts)


def view_modules(entry: URLPattern | URLResolver) -> set[str]:
    """The modules of the views behind a URL pattern (every pattern under a resolver)."""
    if isinstance(entry, URLResolver):
        return {module for child in entry.url_patterns for module in view_modules(child)}
    callback: Any = entry.callback
    callback = getattr(callback, "view_class", None) or getattr(callback, "func", callback)
    return {str(callback.__module__)}
