"""`platform/` is a source root, never a package: the standard library's `platform` must win."""

from __future__ import annotations

import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

from cleave.testing.processes import BIN, ROOT, process_env

STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
PROBE = "import platform, uuid; print(platform.__file__); print(platform.system())"


def _run(args: list[str]) -> list[str]:
    done = subprocess.run(
        args, cwd=ROOT, env=process_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def _assert_stdlib(lines: list[str]) -> None:
    module_file, system = lines[-2], lines[-1]
    assert Path(module_file).resolve().parent == STDLIB
    assert system == platform.system()


def test_pytest_process_imports_the_standard_library_platform() -> None:
    assert Path(platform.__file__).resolve().parent == STDLIB
    assert platform.system()
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_manage_py_process_imports_the_standard_library_platform() -> None:
    _assert_stdlib(_run([sys.executable, "manage.py", "shell", "-c", PROBE]))


def test_asgi_and_wsgi_processes_import_the_standard_library_platform() -> None:
    for module in ("cleave.asgi", "cleave.wsgi"):
        _assert_stdlib(_run([sys.executable, "-c", f"import {module}\n{PROBE}"]))


def test_celery_process_imports_the_standard_library_platform() -> None:
    _assert_stdlib(_run([sys.executable, "-c", f"from cleave.celery import app\n{PROBE}"]))
    # The celery CLI itself reports platform.system(); a shadowing package would crash it.
    report = "\n".join(_run([str(BIN / "celery"), "-A", "cleave.celery", "report"]))
    assert f"system:{platform.system()}" in report
