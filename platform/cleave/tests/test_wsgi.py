"""The lean API stack is the full stack minus browser-only middleware, in the same order."""

from __future__ import annotations

from django.conf import settings

from cleave.wsgi import application

BROWSER_ONLY = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cleave.admin_sign_in.StaffSignInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}


def test_api_middleware_is_the_full_stack_without_browser_only_middleware() -> None:
    expected = [path for path in settings.MIDDLEWARE if path not in BROWSER_ONLY]
    assert expected == settings.CLEAVE_API_MIDDLEWARE


def test_paths_are_dispatched_to_the_right_handler() -> None:
    assert application.browser_prefixes == ("/admin/", "/api/ops/", "/static/")
    assert application.api is not application.browser
