"""A user's stream name has one builder (`cleave.realtime.user_stream`): no module spells
`user:<id>` itself, so the socket protocol's name can change in one place."""

from __future__ import annotations

import ast
from pathlib import Path

from cleave.realtime import user_stream
from cleave.testing.processes import ROOT

# Where a string starting with "user:" may be built, and why. Rate-limit identities share the
# prefix by accident of naming only: they are cache keys of the throttles, never stream names.
ALLOWED = {
    ("platform/cleave/realtime/registry.py", "user_stream"): "the one builder",
    ("platform/cleave/gateway/throttling.py", "identify"): "a rate-limit identity",
    ("apps/messaging/throttles.py", "_budget_of"): "a rate-limit identity",
    ("apps/tracking/services/devices.py", "subject_of"): "an event-store subject (whose data key)",
    ("apps/tracking/projections/common.py", "<module>"): "the event-store subject prefix",
    ("apps/ticketing/services/orders.py", "order_cancel"): "a saga action's actor (its audit)",
}


def _spells_user_prefix(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        return isinstance(first, ast.Constant) and str(first.value).startswith("user:")
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value.startswith("user:"))
    )


def _non_test_modules() -> list[Path]:
    found = []
    for top in ("apps", "platform"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or path.name == "conftest.py":
                continue
            found.append(path)
    return found


def _builders_in(path: Path, root: Path = ROOT) -> set[tuple[str, str]]:
    """(module path, enclosing function) of every string in `path` that starts with "user:"."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(root).as_posix()
    places: set[tuple[str, str]] = set()

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if _spells_user_prefix(child):
                places.add((relative, function))
                continue  # an f-string's own parts are not separate strings
            visit(child, function)

    visit(tree, "<module>")
    return places


def test_only_the_builder_spells_a_user_stream_name() -> None:
    places = set().union(*(_builders_in(path) for path in _non_test_modules()))
    assert places - ALLOWED.keys() == set()


def test_the_scan_finds_a_stream_name_spelled_by_hand(tmp_path: Path) -> None:
    module = tmp_path / "services.py"
    module.write_text(
        "def profile_update(user_id):\n"
        "    transaction.on_commit(lambda: push(f'user:{user_id}', 'user.updated', {}))\n"
        "KEY = 'user:'\n"
    )
    assert _builders_in(module, tmp_path) == {
        ("services.py", "profile_update"),
        ("services.py", "<module>"),
    }


def test_the_builder_names_the_users_stream() -> None:
    assert user_stream(42) == "user:42"
