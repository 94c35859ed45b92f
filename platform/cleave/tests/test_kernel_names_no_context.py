"""The kernel and the deploy tooling name no context: they read the contexts' declarations.

Walks the non-test Python of `platform/` (cleave and cleave_deploy, without tests and test
helpers) and fails on any string literal equal to a context's label, taken from the declarations
themselves, so a context added under apps/ is covered the day it lands.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from cleave import contexts

PLATFORM = Path(__file__).resolve().parents[2]
PACKAGES = ("cleave", "cleave_deploy")
# Test code and the helpers only tests import may name the contexts they exercise.
TEST_ONLY = ("tests", "testing", "testing.py")


def runtime_sources(root: Path = PLATFORM) -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if not any(part in TEST_ONLY for part in path.relative_to(root).parts)
    )


def literals_naming(
    paths: Iterable[Path], labels: frozenset[str], root: Path = PLATFORM
) -> list[str]:
    """`path:line: 'label'` for every string constant (f-string parts too) equal to a label."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Constant) and node.value in labels:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def test_no_context_label_is_a_string_literal_in_the_kernel_or_the_tooling() -> None:
    labels = frozenset(context.label for context in contexts.declared())
    assert {"identity", "messaging", "notifications"} <= labels  # read from the declarations
    sources = runtime_sources()
    assert PLATFORM / "cleave" / "settings.py" in sources
    assert PLATFORM / "cleave_deploy" / "split.py" in sources
    named = literals_naming(sources, labels)
    assert not named, (
        "the kernel and cleave_deploy read the contexts' declarations (cleave.contexts) "
        "instead of naming a context:\n" + "\n".join(named)
    )


def test_the_walk_finds_a_label_written_as_a_literal_or_inside_an_f_string(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        'EDGE = "billing"\nURL = f"{BASE}/billing"\nQUEUE = f"events.{\'billing\'}"\n',
        encoding="utf-8",
    )
    found = literals_naming([probe], frozenset({"billing"}), root=tmp_path)
    # "/billing" is part of a path, not the label; the literal inside the f-string is.
    assert found == ["probe.py:1: 'billing'", "probe.py:3: 'billing'"]
