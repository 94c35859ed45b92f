"""Payload encoding: JSON text, sealed with the subject's data key when there is a subject."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from cleave.crypto.subject_keys import SubjectForgotten, seal, unseal


def event_binding(stream: str, stream_version: int, event_type: str) -> str:
    """What a sealed payload is bound to: moved to another row, it fails to open."""
    return f"cleave.event:{stream}:{stream_version}:{event_type}"


def snapshot_binding(stream: str, stream_version: int) -> str:
    return f"cleave.snapshot:{stream}:{stream_version}"


def dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def encode(data: Mapping[str, Any], *, subject: str | None, key: bytes | None, binding: str) -> str:
    text = dump(data)
    if subject is None:
        return text
    if key is None:
        raise SubjectForgotten(subject)
    return seal(key, text.encode(), bound_to=binding)


def decode(stored: str, *, subject: str | None, key: bytes | None, binding: str) -> dict[str, Any]:
    if subject is None:
        data: dict[str, Any] = json.loads(stored)
        return data
    if key is None:
        raise SubjectForgotten(subject)
    opened: dict[str, Any] = json.loads(unseal(key, stored, bound_to=binding))
    return opened
