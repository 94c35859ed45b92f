"""DRF's absolute links (the ops index, pagination) on the trusted origin, not the Host header.

DRF builds them with `request.build_absolute_uri()`, i.e. from whatever Host the client sent
(any host in embedded mode); these build the same links on `cleave.gateway.hosts.origin`.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse as django_reverse
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from cleave.gateway.hosts import origin, rebased


def reverse(viewname: str, *, request: Request, **kwargs: Any) -> str:
    """DRF's `reverse(viewname, request=request)`, on the trusted origin."""
    return origin(request) + django_reverse(viewname, **kwargs)


class TrustedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pagination whose next/previous links keep to the trusted origin."""

    def get_next_link(self) -> str | None:
        link = super().get_next_link()
        return link if self.request is None else rebased(self.request, link)

    def get_previous_link(self) -> str | None:
        link = super().get_previous_link()
        return link if self.request is None else rebased(self.request, link)
