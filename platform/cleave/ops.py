"""The staff/operations API under /api/ops/ on Django REST Framework (browsable, staff only)."""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from cleave.flags.ops import FlagDetail, FlagKill, FlagList


class OpsRoot(APIView):
    """Index of the operations API; contexts add their staff endpoints here."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": "cleave-ops",
                "health": reverse("healthz", request=request),
                "readiness": reverse("readyz", request=request),
                **(
                    {"flags": reverse("ops-flags", request=request)}
                    if settings.CLEAVE_FLAGS_HOME
                    else {}
                ),
            }
        )


urlpatterns = [path("", OpsRoot.as_view(), name="ops-root")]
# Flags are edited at the flags home only (see CLEAVE_FLAGS_HOME).
if settings.CLEAVE_FLAGS_HOME:
    urlpatterns += [
        path("flags/", FlagList.as_view(), name="ops-flags"),
        path("flags/<str:name>/", FlagDetail.as_view(), name="ops-flag"),
        path("flags/<str:name>/kill/", FlagKill.as_view(), name="ops-flag-kill"),
    ]
