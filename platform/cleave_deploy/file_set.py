"""The files an extracted service carries: its context, the contracts it publishes and calls,
the kernel — nothing of the other contexts, and none of the deploy tooling.

The set is written into the bundle as `files.txt` (one entry a line; a trailing `/` means the
whole folder, caches aside). The bundle's Dockerfile copies exactly those entries, and CI's
`.ci/extracted-alone` lays them out in an empty folder and runs the context's tests there, so
a context that reaches for another's code fails in CI, not in production.

Which contracts: those the context's code imports (`contracts.<name>`, tests included: they
run in the extracted folder), those the kernel's runtime code imports, its own published
package, and transitively what those contract packages import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KERNEL = "platform/cleave/"
CONTRACTS = "contracts"
# What running the service (and its tests) needs besides code: the build declaration and its
# lock, the entry point, the suite-wide test fixtures, and the event routes the bus reads.
SUPPORT_FILES = (
    "README.md",
    "conftest.py",
    "constraints.txt",
    "manage.py",
    "pyproject.toml",
    "contracts/__init__.py",
    "contracts/subscriptions.json",
)
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache"})


def file_set(context_dir: Path, *, module: str, root: Path = ROOT) -> list[str]:
    """The sorted entries of `files.txt` for the context package `module` (`apps.messaging`)
    found at `context_dir`. Entries are paths in the repository's layout; a context that lives
    in another folder on the path (`apps/` and `contracts/` are namespaces) is listed there
    too, and its own contracts are looked up beside it."""
    if not (context_dir / "__init__.py").exists():
        raise ValueError(f"no context package at {context_dir}")
    relative = Path(*module.split("."))
    # The folder holding its top package: where its `contracts/` are, if not in `root`.
    home = context_dir.resolve().parents[len(relative.parts) - 1]
    roots = list(dict.fromkeys([root.resolve(), home]))
    # The packages above it (`apps/__init__.py`), so `apps.<label>` imports.
    parents = [
        f"{parent.as_posix()}/__init__.py"
        for parent in relative.parents
        if parent.parts and any((r / parent / "__init__.py").exists() for r in roots)
    ]
    kernel_runtime = [p for p in _python_files(root / KERNEL) if "tests" not in p.parts]
    wanted = contracts_imported([*_python_files(context_dir), *kernel_runtime])
    wanted.add(context_dir.name)  # what it publishes, if it publishes anything
    contracts = _with_dependencies(wanted, roots)
    entries = [*SUPPORT_FILES, *parents, f"{relative.as_posix()}/", KERNEL]
    entries += [f"{CONTRACTS}/{name}/" for name in contracts]
    return sorted(set(entries))


def contracts_imported(paths: Iterable[Path]) -> set[str]:
    """Names of the `contracts.<name>` packages these Python files import."""
    found: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
                if node.module == CONTRACTS:  # `from contracts import identity`
                    modules += [f"{CONTRACTS}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == CONTRACTS and len(parts) > 1:
                    found.add(parts[1])
    return found


def _with_dependencies(names: set[str], roots: list[Path]) -> list[str]:
    """`names` plus every contract package they import, transitively (first root that has it)."""
    done: set[str] = set()
    pending = set(names)
    while pending:
        name = pending.pop()
        found = [
            r / CONTRACTS / name for r in roots if (r / CONTRACTS / name / "__init__.py").exists()
        ]
        if not found:
            continue  # `contracts.<module>` that is not a package of its own, or none published
        done.add(name)
        pending |= contracts_imported(_python_files(found[0])) - done
    return sorted(done)


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if not SKIPPED_PARTS & set(p.parts))


def copy_file_set(entries: Iterable[str], target: Path, *, root: Path = ROOT) -> int:
    """Lay the entries out under `target` (which must be empty or absent); return the count of
    files copied."""
    import shutil

    if target.exists() and any(target.iterdir()):
        raise ValueError(f"{target} is not empty")
    copied = 0
    for entry in entries:
        source = root / entry.rstrip("/")
        if entry.endswith("/"):
            shutil.copytree(
                source, target / entry, ignore=shutil.ignore_patterns(*SKIPPED_PARTS, "*.pyc")
            )
            copied += sum(1 for p in (target / entry).rglob("*") if p.is_file())
        else:
            (target / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / entry)
            copied += 1
    return copied


def render_files_txt(entries: Iterable[str], *, header: str) -> str:
    return f"# {header}\n# One entry a line; a trailing / is the whole folder.\n" + "".join(
        f"{entry}\n" for entry in entries
    )


def read_files_txt(text: str) -> list[str]:
    return [line for line in (raw.strip() for raw in text.splitlines()) if line and line[0] != "#"]
