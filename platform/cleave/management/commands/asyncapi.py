"""`manage.py asyncapi check|snapshot`: the committed AsyncAPI document of /ws/v1 (docs/api.md)."""

from __future__ import annotations

from cleave.management.published_document import DocumentCommand
from cleave.realtime.asyncapi_snapshot import ASYNCAPI


class Command(DocumentCommand):
    help = "Check /ws/v1 against contracts/asyncapi.json (breaking changes fail), or rewrite it."
    document = ASYNCAPI
