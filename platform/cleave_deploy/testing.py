"""Test helpers of the deploy tooling."""

from __future__ import annotations

import subprocess
from pathlib import Path


def nginx_config_problem(nginx: str, conf: Path, prefix: Path) -> str | None:
    """What `nginx -t` says is wrong with `conf` (run from `prefix`), or None if it is valid."""
    result = subprocess.run(  # noqa: S603 - the machine's nginx on our own file
        [nginx, "-t", "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if result.returncode == 0 else result.stderr
