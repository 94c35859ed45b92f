"""Deprecated endpoints: `Deprecation` and `Sunset` headers on every answer, and `deprecated`
in the OpenAPI document — one decorator, under the route's:

    @router.get("/old-thing", response=ThingOut)
    @deprecated(since=date(2026, 12, 1), sunset=date(2027, 6, 1), link="https://…/migrate")
    def old_thing(request): ...

`Deprecation: @<unix time>` (RFC 9745), `Sunset: <HTTP date>` (RFC 8594), and with `link`,
`Link: <…>; rel="deprecation"`. `cleave.api.register_router` marks the operation deprecated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from ninja import Router

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "_cleave_deprecation"


@dataclass(frozen=True)
class Deprecation:
    since: date
    sunset: date
    link: str | None = None

    def headers(self) -> dict[str, str]:
        since = datetime(self.since.year, self.since.month, self.since.day, tzinfo=UTC)
        sunset = datetime(self.sunset.year, self.sunset.month, self.sunset.day, tzinfo=UTC)
        found = {
            "Deprecation": f"@{int(since.timestamp())}",
            "Sunset": format_datetime(sunset, usegmt=True),
        }
        if self.link:
            found["Link"] = f'<{self.link}>; rel="deprecation"'
        return found


def deprecated(*, since: date, sunset: date, link: str | None = None) -> Callable[[F], F]:
    notice = Deprecation(since=since, sunset=sunset, link=link)

    def mark(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            setattr(request, _ATTRIBUTE, notice)
            return view(request, *args, **kwargs)

        setattr(wrapper, _ATTRIBUTE, notice)
        return wrapper  # type: ignore[return-value]  # same signature (functools.wraps)

    return mark


def mark_deprecated_operations(router: Router) -> None:
    """Flag the router's deprecated operations in the OpenAPI document."""
    for path_view in router.path_operations.values():
        for operation in path_view.operations:
            if getattr(operation.view_func, _ATTRIBUTE, None) is not None:
                operation.deprecated = True


class DeprecationMiddleware:
    """Adds the headers to the answers of a deprecated endpoint's view (errors included)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        notice: Deprecation | None = getattr(request, _ATTRIBUTE, None)
        if notice is not None:
            for name, value in notice.headers().items():
                response[name] = value
        return response
