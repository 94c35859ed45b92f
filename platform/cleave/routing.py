"""URLs a context serves outside /api/v1/ (e.g. identity's /.well-known/jwks.json).

A context adds them from its AppConfig.ready(), before the URLconf loads, so the kernel never
imports a context.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

context_urlpatterns: list[URLPattern | URLResolver] = []


def register_urlpatterns(*patterns: URLPattern | URLResolver) -> None:
    context_urlpatterns.extend(patterns)
