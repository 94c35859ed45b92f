"""import-linter's contracts (from pyproject.toml) fire on a tree that breaks each of them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cleave.testing.processes import BIN, ROOT, process_env

VIOLATIONS = {
    "apps/__init__.py": "",
    "apps/alpha/__init__.py": "import apps.beta\n",  # a context importing another
    "apps/beta/__init__.py": "",
    "apps/beta/api.py": "",
    "apps/beta/admin.py": "import apps.beta.api\n",  # an entry point importing another
    "apps/beta/services.py": "import apps.beta.tasks\n",  # a service importing an entry point
    "apps/beta/tasks.py": "",
    "apps/beta/selectors.py": "",
    "apps/beta/models.py": "import apps.beta.selectors\n",  # a model importing upwards
    "contracts/__init__.py": "",
    "contracts/alpha.py": "import django\n",  # a contract importing Django
    "cleave/__init__.py": "import apps.alpha\n",  # the kernel importing a context
    "cleave/runtime.py": "import cleave_deploy.split\n",  # the runtime importing deploy tooling
    "cleave_deploy/__init__.py": "",
    "cleave_deploy/split.py": "",
    "django/__init__.py": "",
    "rest_framework/__init__.py": "",
    "ninja/__init__.py": "",
    "channels/__init__.py": "",
    "celery/__init__.py": "",
}


def _our_config() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return text[text.index("[tool.importlinter]") :]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    (tree / "pyproject.toml").write_text(_our_config())
    return subprocess.run(
        [str(BIN / "lint-imports"), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=process_env({"PYTHONPATH": str(tree)}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_boundary_contract_breaks_on_a_violating_tree(tmp_path: Path) -> None:
    for name, source in VIOLATIONS.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    for contract in (
        "Contexts are independent of each other BROKEN",
        "contracts/ imports no context and no Django BROKEN",
        "The kernel (cleave) imports no context BROKEN",
        "The runtime (cleave) imports no deploy tooling (cleave_deploy) BROKEN",
        "Layers inside each context: entry points → services → selectors → models BROKEN",
    ):
        assert contract in done.stdout
    for breach in (
        "apps.beta.admin is not allowed to import apps.beta.api",
        "apps.beta.services is not allowed to import apps.beta.tasks",
        "apps.beta.models is not allowed to import apps.beta.selectors",
    ):
        assert breach in done.stdout


def test_a_clean_tree_keeps_every_contract(tmp_path: Path) -> None:
    for name in VIOLATIONS:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    done = _lint(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
