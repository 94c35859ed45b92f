"""Process memories are forgotten through one kernel hook: owners register, the suite calls."""

from __future__ import annotations

import ast

import pytest

from cleave import process_memory
from cleave.auth.tokens import verified
from cleave.flags.definitions import forget_definitions
from cleave.process_memory import forget_process_memory, register_forget
from cleave.testing.processes import ROOT


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """An empty registry for this test, so what it registers does not outlive it."""
    forgetters: list[object] = []
    monkeypatch.setattr(process_memory, "_forgetters", forgetters)
    return forgetters


@pytest.mark.usefixtures("own_registry")
def test_every_registered_memory_is_forgotten_once_in_registration_order() -> None:
    calls: list[str] = []

    def forget_first() -> None:
        calls.append("first")

    def forget_second() -> None:
        calls.append("second")

    register_forget(forget_first)
    register_forget(forget_second)
    register_forget(forget_first)  # a ready() that runs twice registers nothing new
    forget_process_memory()
    assert calls == ["first", "second"]


def test_the_kernel_registers_its_own_memories_at_start() -> None:
    registered = process_memory._forgetters
    assert verified.clear in registered
    assert forget_definitions in registered


def test_the_root_conftest_names_no_context() -> None:
    tree = ast.parse((ROOT / "conftest.py").read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import)]
    imported += [alias.name for node in imports for alias in node.names]
    assert [module for module in imported if module.split(".")[0] == "apps"] == []
