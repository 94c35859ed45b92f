"""The WSGI application: HTTP (REST, admin, ops) for the `web` process and the embedded server.

Two Django handlers share one process. Browser paths (admin, ops API, static files) get the
full middleware stack; everything else — the mobile API, health — gets the lean stack in
`CLEAVE_API_MIDDLEWARE`, without sessions, CSRF, messages or frame options: the mobile API
authenticates with tokens, never cookies, so those only cost time (measured: 8.8k → 13.1k
req/s for /healthz on one granian process; docs/benchmarks.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

StartResponse = Callable[..., Any]


def metrics_wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    from cleave.observability.http import metrics_wsgi as serve

    return serve(environ, start_response)


class _HandlerWithMiddleware(WSGIHandler):
    """Django's WSGI handler, built with the given middleware list instead of MIDDLEWARE."""

    def __init__(self, middleware: list[str]) -> None:
        self._middleware_paths = middleware
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; swap it for the duration of the (start-up,
        # single-threaded) load so this handler gets its own chain.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = self._middleware_paths
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class PathDispatcher:
    """Sends browser paths to the full handler and everything else to the lean API handler."""

    def __init__(
        self,
        *,
        browser: WSGIHandler,
        api: WSGIHandler,
        browser_prefixes: tuple[str, ...],
        metrics_hidden: Callable[[dict[str, Any]], bool] = lambda environ: False,
    ):
        self.browser = browser
        self.api = api
        self.browser_prefixes = browser_prefixes
        self.metrics_hidden = metrics_hidden

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics" and not self.metrics_hidden(environ):
            return metrics_wsgi(environ, start_response)
        # A hidden /metrics goes through Django, whose PrivatePathsMiddleware answers 404.
        handler = self.browser if path.startswith(self.browser_prefixes) else self.api
        return handler(environ, start_response)


def _refuse_development_keys() -> None:
    """Servers skip Django's system checks; real mode must still refuse to serve on missing or
    development encryption keys (cleave.E010) rather than fail at the first encrypted row."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from cleave.crypto.checks import TAG

    if settings.CLEAVE_MODE != "real":
        return
    errors = [m for m in checks.run_checks(tags=[TAG]) if m.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{m.id}: {m.msg} {m.hint or ''}" for m in errors))


def build_application() -> PathDispatcher:
    django.setup(set_prefix=False)
    _refuse_development_keys()
    from cleave.gateway.private_paths import hidden_from_environ  # needs settings

    return PathDispatcher(
        browser=WSGIHandler(),
        api=_HandlerWithMiddleware(list(settings.CLEAVE_API_MIDDLEWARE)),
        browser_prefixes=tuple(settings.CLEAVE_BROWSER_PATH_PREFIXES),
        metrics_hidden=hidden_from_environ,
    )


application = build_application()
