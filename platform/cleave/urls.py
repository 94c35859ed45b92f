"""Root URLs: health, the public API (ninja), the ops API (DRF), the admin, and /internal/
(contract calls and realtime questions from other services; never routed by the public
gateway)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from cleave import health
from cleave.api import public_api
from cleave.observability.http import metrics_view
from cleave.realtime import hosted as realtime_hosted
from cleave.remote.server import PREFIX as INTERNAL_PREFIX
from cleave.remote.server import build_internal_api
from cleave.routing import context_urlpatterns

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", public_api.urls),
    path("api/ops/", include("cleave.ops")),
    # /admin/ where staff sign in; /admin/<service>/ in the other services (cleave.admin_site).
    path(settings.CLEAVE_ADMIN_PREFIX, admin.site.urls),
    # A realtime process's questions about the streams and frames hosted here (before the
    # contracts' routes, which would otherwise see `_realtime` as a context).
    path(realtime_hosted.PREFIX, realtime_hosted.build_api().urls),
    path(INTERNAL_PREFIX, build_internal_api().urls),
    *context_urlpatterns,
]
