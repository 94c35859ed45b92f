"""The admin site every Cleave process serves: the edge's (or a monolith's) at `/admin/`, where
staff sign in; any other service's at `/admin/<service>/`, signed in through the edge
(`cleave.admin_sign_in`). It is Django's default site (`cleave.admin_apps`), so the contexts'
`@admin.register` lands here unchanged."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from cleave.admin_sign_in import COOKIE_PATH, signs_in_here

# The edge's admin, as the browser reaches it through the gateway.
EDGE_LOGIN = f"{COOKIE_PATH}login/"
EDGE_LOGOUT = f"{COOKIE_PATH}logout/"
EDGE_PASSWORD_CHANGE = f"{COOKIE_PATH}password_change/"


class CleaveAdminSite(AdminSite):
    site_header = "Cleave administration"
    site_title = "Cleave admin"
    index_title = "Contexts"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        next_url = request.GET.get("next") or request.path.removesuffix("login/")
        safe = url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        if not signs_in_here():
            # Staff sign in at the edge, which sends them back here with the staff cookie.
            target = next_url if safe else request.path.removesuffix("login/")
            return HttpResponseRedirect(f"{EDGE_LOGIN}?{urlencode({'next': target})}")
        if request.method == "GET" and self.has_permission(request) and safe:
            # Signed in already: another service's admin sent the browser here for a fresh
            # staff cookie (set on this response by StaffSignInMiddleware). Back it goes.
            return HttpResponseRedirect(next_url)
        return super().login(request, extra_context)

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if not signs_in_here():
            # 307 keeps the POST and its CSRF token: the edge ends the session and the cookie.
            return HttpResponseRedirect(EDGE_LOGOUT, status=307)
        return super().logout(request, extra_context)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:  # a redirect here, Django's TemplateResponse at the edge
        if not signs_in_here():
            return HttpResponseRedirect(EDGE_PASSWORD_CHANGE)
        return super().password_change(request, extra_context)
