"""Every /api/v1 request: which app is calling (for flags and logs), and refuse an app below its
platform's minimum version with 426 `upgrade_required` — except the calls it needs to show the
upgrade screen (`/api/v1/meta`, `/api/v1/flags`). An unknown version is never refused."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cleave.app_versions.policy import status_of
from cleave.errors import CleaveError
from cleave.gateway.client_version import client_version_of, current_client_version
from cleave.gateway.envelope import response_for_error

API_PREFIX = "/api/v1/"
# What an app below the minimum still reaches: what it needs to show the upgrade screen, and
# the API's own description.
ALWAYS_SERVED = ("/api/v1/meta", "/api/v1/flags", "/api/v1/openapi.json", "/api/v1/docs")


class UpgradeRequired(CleaveError):
    code = "upgrade_required"
    status = 426
    message_template = "This version of the app ({version}) is no longer supported; please update."


def always_served(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in ALWAYS_SERVED)


class ClientVersionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        client = client_version_of(request)
        if client is None:
            return self.get_response(request)
        if request.path.startswith(API_PREFIX) and not always_served(request.path):
            status, policy = status_of(client)
            if status == "update_required" and policy is not None:
                return response_for_error(
                    UpgradeRequired(
                        details={
                            "platform": client.platform,
                            "version": client.version,
                            "minimum_version": policy.minimum_version,
                            "store_url": policy.store_url or None,
                        }
                    )
                )
        token = current_client_version.set(client)
        try:
            return self.get_response(request)
        finally:
            current_client_version.reset(token)
