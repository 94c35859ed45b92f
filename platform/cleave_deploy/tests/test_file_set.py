"""The file set of an extracted service: its context, the contracts it uses, the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleave_deploy.file_set import (
    contracts_imported,
    copy_file_set,
    file_set,
    read_files_txt,
    render_files_txt,
)


def _write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository in miniature: two contexts, three contract packages, a kernel."""
    for name in ("README.md", "conftest.py", "constraints.txt", "manage.py", "pyproject.toml"):
        _write(tmp_path, name)
    _write(tmp_path, "apps/__init__.py")
    _write(tmp_path, "contracts/__init__.py")
    _write(tmp_path, "contracts/subscriptions.json", "{}")
    _write(tmp_path, "platform/cleave/__init__.py", "from contracts.flags import FLAGS\n")
    _write(tmp_path, "platform/cleave/tests/test_x.py", "import contracts.sales\n")
    _write(tmp_path, "contracts/flags/__init__.py")
    _write(tmp_path, "contracts/sales/__init__.py", "from contracts.billing import Money\n")
    _write(tmp_path, "contracts/billing/__init__.py")
    _write(tmp_path, "contracts/orders/__init__.py")
    _write(tmp_path, "apps/orders/__init__.py")
    _write(tmp_path, "apps/orders/tests/test_y.py", "from contracts import sales\n")
    _write(tmp_path, "apps/billing/__init__.py")
    return tmp_path


def test_the_set_holds_the_context_its_contracts_and_their_imports_and_the_kernel(
    repo: Path,
) -> None:
    entries = file_set(repo / "apps" / "orders", module="apps.orders", root=repo)
    assert "apps/orders/" in entries
    assert "apps/__init__.py" in entries
    assert "platform/cleave/" in entries
    # Its own (published), sales (its tests call it), billing (sales imports it), flags (the
    # kernel's runtime imports it); the kernel's tests do not widen the set.
    contracts = sorted(e for e in entries if e.startswith("contracts/") and e.endswith("/"))
    assert contracts == [
        "contracts/billing/",
        "contracts/flags/",
        "contracts/orders/",
        "contracts/sales/",
    ]
    assert "apps/billing/" not in entries


def test_laying_the_set_out_copies_nothing_else(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    count = copy_file_set(
        file_set(repo / "apps" / "orders", module="apps.orders", root=repo), target, root=repo
    )
    copied = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert len(copied) == count
    assert "apps/orders/tests/test_y.py" in copied
    assert not [path for path in copied if path.startswith("apps/billing")]


def test_laying_out_refuses_a_folder_that_holds_files(repo: Path, tmp_path: Path) -> None:
    _write(tmp_path / "out", "left-over.py")
    with pytest.raises(ValueError, match="not empty"):
        copy_file_set(["README.md"], tmp_path / "out", root=repo)


def test_a_context_in_another_folder_is_listed_in_the_repositorys_layout_with_its_contracts(
    repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    _write(elsewhere, "apps/ledger/__init__.py")
    _write(elsewhere, "apps/ledger/services.py", "from contracts.ledger import Entry\n")
    _write(elsewhere, "contracts/ledger/__init__.py", "from contracts.billing import Money\n")
    entries = file_set(elsewhere / "apps" / "ledger", module="apps.ledger", root=repo)
    assert "apps/ledger/" in entries
    assert {"contracts/ledger/", "contracts/billing/"} <= set(entries)


def test_an_unknown_context_has_no_file_set(repo: Path) -> None:
    with pytest.raises(ValueError, match="no context package"):
        file_set(repo / "apps" / "shipping", module="apps.shipping", root=repo)


def test_the_list_reads_back_as_written() -> None:
    entries = ["README.md", "apps/orders/"]
    assert read_files_txt(render_files_txt(entries, header="generated")) == entries


def test_relative_imports_and_lookalikes_are_not_contracts(tmp_path: Path) -> None:
    _write(tmp_path, "m.py", "from . import contracts\nimport contractsx.y\nimport contracts\n")
    assert contracts_imported([tmp_path / "m.py"]) == set()
