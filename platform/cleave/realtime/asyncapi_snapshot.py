"""The AsyncAPI document of `/ws/v1`, committed as `contracts/asyncapi.json`."""

from __future__ import annotations

from typing import Any

from cleave.openapi.published import CONTRACTS, PublishedDocument
from cleave.realtime import asyncapi_compat


def _build() -> dict[str, Any]:
    from cleave.realtime.asyncapi import build

    return build()


ASYNCAPI = PublishedDocument(
    name="AsyncAPI",
    path=CONTRACTS / "asyncapi.json",
    build=_build,
    compare=asyncapi_compat.compare,
    advice=asyncapi_compat.VERSIONING_ADVICE,
    command="manage.py asyncapi",
)
