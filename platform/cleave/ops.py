"""The staff/operations API under /api/ops/ on Django REST Framework (browsable, staff only)."""

from __future__ import annotations

import re

from django.conf import settings
from django.urls import path
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cleave.app_versions.ops import PolicyDetail, PolicyList
from cleave.flags.ops import FlagDetail, FlagKill, FlagList
from cleave.gateway.drf_links import reverse
from cleave.routing import ops_urlpatterns

_WINDOW = re.compile(r"^[1-9][0-9]{0,3}[smhd]$")


class ContextMapView(APIView):
    """GET /api/ops/contexts/?window=1h: the context map from live data (see
    cleave.observability.context_map); edges no contract declares are flagged."""

    def get(self, request: Request) -> Response:
        from cleave.observability.context_map import build

        window = request.query_params.get("window", "1h")
        if not _WINDOW.match(window):
            raise ValidationError({"window": "a Prometheus duration such as 15m, 1h or 1d"})
        return Response(build(window).as_dict())


class OpsRoot(APIView):
    """Index of the operations API; contexts add their staff endpoints here."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": "cleave-ops",
                "health": reverse("healthz", request=request),
                "readiness": reverse("readyz", request=request),
                "contexts": reverse("ops-contexts", request=request),
                **(
                    {
                        "flags": reverse("ops-flags", request=request),
                        "app_versions": reverse("ops-app-versions", request=request),
                    }
                    if settings.CLEAVE_FLAGS_HOME
                    else {}
                ),
            }
        )


urlpatterns = [
    path("", OpsRoot.as_view(), name="ops-root"),
    path("contexts/", ContextMapView.as_view(), name="ops-contexts"),
    *ops_urlpatterns,  # the contexts' own staff actions (cleave.routing)
]
# Flags and the app-version policy are edited at the flags home only (see CLEAVE_FLAGS_HOME).
if settings.CLEAVE_FLAGS_HOME:
    urlpatterns += [
        path("app-versions/", PolicyList.as_view(), name="ops-app-versions"),
        path("app-versions/<str:platform>/", PolicyDetail.as_view(), name="ops-app-version"),
        path("flags/", FlagList.as_view(), name="ops-flags"),
        path("flags/<str:name>/", FlagDetail.as_view(), name="ops-flag"),
        path("flags/<str:name>/kill/", FlagKill.as_view(), name="ops-flag-kill"),
    ]
