"""stop_process_group ends a server's whole process group: a worker that outlives its main
process (or ignores SIGTERM) must not be left running after a test or a benchmark."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cleave.testing.processes import stop_process_group, wait_for


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def test_a_child_that_ignores_sigterm_is_stopped_with_its_group() -> None:
    # The main process exits on SIGTERM; its child ignores SIGTERM, as a worker busy shutting
    # down in its own time would.
    main = subprocess.Popen(
        ["sh", "-c", "(trap '' TERM; exec sleep 60) & echo $!; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert main.stdout is not None
    child = int(main.stdout.readline())
    assert _running(child)

    stop_process_group(main, timeout=5)

    assert main.returncode is not None
    wait_for(lambda: not _running(child), timeout=5)  # SIGKILL is delivered, not awaited


def test_a_group_that_has_already_ended_is_no_error() -> None:
    done = subprocess.Popen(["true"], start_new_session=True)
    done.wait()
    stop_process_group(done, timeout=1)
    assert done.returncode == 0
