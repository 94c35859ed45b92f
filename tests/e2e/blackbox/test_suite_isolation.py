"""The suite is black-box: its files import only the standard library, pytest, httpx,
websockets and each other — never the project (`cleave`, `apps`, `contracts`, `tests`, …)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parent
ALLOWED_THIRD_PARTY = frozenset({"pytest", "httpx", "websockets"})
IMPORT_FUNCTIONS = frozenset({"import_module", "__import__"})


def _own_modules() -> frozenset[str]:
    return frozenset(path.stem for path in SUITE.glob("*.py"))


def forbidden_imports(source: str, *, filename: str = "<source>") -> list[str]:
    """Every import in `source` outside the allowed set, as `file:line: module`."""
    allowed = ALLOWED_THIRD_PARTY | _own_modules() | set(sys.stdlib_module_names)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # A relative import would reach into whatever package holds the suite.
            names = ["." * node.level + (node.module or "")] if node.level else [node.module or ""]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in IMPORT_FUNCTIONS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        found += [
            (node.lineno, name)  # type: ignore[attr-defined] - import and call nodes have lines
            for name in names
            if name.startswith(".") or name.partition(".")[0] not in allowed
        ]
    return [f"{filename}:{line}: {name}" for line, name in sorted(found)]


def test_no_file_of_the_suite_imports_the_project() -> None:
    files = sorted(SUITE.glob("*.py"))
    assert len(files) >= 5, files  # the suite itself is here

    breaches = [
        breach
        for path in files
        for breach in forbidden_imports(path.read_text(), filename=path.name)
    ]

    assert breaches == []


def test_the_check_catches_every_way_of_importing_the_project() -> None:
    source = "\n".join(
        [
            "import cleave.settings",
            "from apps.identity import services",
            "from contracts.messaging import MessageSent",
            "from tests.e2e.test_realtime import recv",
            "from . import client",
            "import importlib; importlib.import_module('apps.messaging')",
            "import json, httpx, pytest, websockets.sync.client, client, ws",
        ]
    )

    assert [line.split(": ")[1] for line in forbidden_imports(source)] == [
        "cleave.settings",
        "apps.identity",
        "contracts.messaging",
        "tests.e2e.test_realtime",
        ".",
        "apps.messaging",
    ]
