"""A public document committed beside the contracts (the OpenAPI of /api/v1, the AsyncAPI of
/ws/v1) and its check: breaking changes fail with advice on versioning; compatible ones fail
as a stale file until recorded, so the committed document is always the served one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleave.contracts.schema_compat import SchemaChange

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts"


class DocumentCheckFailed(Exception):
    """The code's document differs from the committed one; `str()` says what to do."""


@dataclass(frozen=True)
class PublishedDocument:
    name: str  # "OpenAPI", "AsyncAPI"
    path: Path
    build: Callable[[], dict[str, Any]]
    compare: Callable[[dict[str, Any], dict[str, Any]], list[SchemaChange]]
    advice: str
    command: str  # "manage.py openapi"

    def render(self, document: dict[str, Any]) -> str:
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def current(self) -> dict[str, Any]:
        # Through JSON, as clients read it (status codes become strings, tuples lists).
        built: dict[str, Any] = json.loads(self.render(self.build()))
        return built

    def write(self, path: Path | None = None) -> Path:
        target = path or self.path
        target.write_text(self.render(self.current()))
        return target

    def check(self, path: Path | None = None) -> list[SchemaChange]:
        """The changes since the committed document; raises DocumentCheckFailed if any breaks
        or the committed file is not exactly the code's document."""
        source = path or self.path
        if not source.exists():
            raise DocumentCheckFailed(f"{source} is missing: run `{self.command} snapshot`")
        recorded = json.loads(source.read_text())
        current = self.current()
        changes = self.compare(recorded, current)
        breaking = [change for change in changes if change.kind == "breaking"]
        if breaking:
            lines = "\n".join(f"  {c.where}: {c.what}" for c in breaking)
            raise DocumentCheckFailed(
                f"{len(breaking)} breaking change(s) to the {self.name} document:\n{lines}\n"
                f"{self.advice}"
            )
        if self.render(current) != source.read_text():
            raise DocumentCheckFailed(
                f"{source.relative_to(ROOT) if source.is_relative_to(ROOT) else source} is "
                f"stale (compatible changes): run `{self.command} snapshot` and commit it"
            )
        return changes
