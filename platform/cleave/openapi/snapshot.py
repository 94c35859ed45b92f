"""The OpenAPI document of /api/v1, committed as `contracts/openapi.json`."""

from __future__ import annotations

from typing import Any

from cleave.openapi import compat
from cleave.openapi.published import CONTRACTS, PublishedDocument


def _build() -> dict[str, Any]:
    from cleave.api import public_api

    return dict(public_api.get_openapi_schema(path_prefix="/api/v1/"))


OPENAPI = PublishedDocument(
    name="OpenAPI",
    path=CONTRACTS / "openapi.json",
    build=_build,
    compare=compat.compare,
    advice=compat.VERSIONING_ADVICE,
    command="manage.py openapi",
)
