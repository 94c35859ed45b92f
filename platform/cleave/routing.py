"""URLs a context serves outside /api/v1/ (e.g. identity's /.well-known/jwks.json), and the
staff actions it adds to the ops API under /api/ops/ (DRF, staff only).

A context adds them from its AppConfig.ready(), before the URLconf loads, so the kernel never
imports a context.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

context_urlpatterns: list[URLPattern | URLResolver] = []


def register_urlpatterns(*patterns: URLPattern | URLResolver) -> None:
    context_urlpatterns.extend(patterns)


ops_urlpatterns: list[URLPattern | URLResolver] = []


def register_ops_urlpatterns(*patterns: URLPattern | URLResolver) -> None:
    """Add a context's staff actions under /api/ops/ (relative paths, e.g. "users/<int:id>/…")."""
    ops_urlpatterns.extend(patterns)
