"""`manage.py openapi check|snapshot`: the committed OpenAPI document of /api/v1 (docs/api.md)."""

from __future__ import annotations

from cleave.management.published_document import DocumentCommand
from cleave.openapi.snapshot import OPENAPI


class Command(DocumentCommand):
    help = "Check /api/v1 against contracts/openapi.json (breaking changes fail), or rewrite it."
    document = OPENAPI
