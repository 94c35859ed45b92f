"""CPU used during a level, read from /proc: per process group of the target, the target's
PostgreSQL backends, Redis (shared: all of it), this load generator, and the whole machine.

Every process the load run starts is a session leader (its process group id is its pid), so a
group's CPU includes the children it forks (granian's worker, Celery's pool, nginx's worker).
Figures are percent of one core; "machine" is percent of all cores, anything else running on
the machine included.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
# Shared servers, recognised by their process name.
SHARED = {"postgres": "postgres", "redis-server": "redis"}
LOAD_GENERATOR = "load generator"


@dataclass(frozen=True)
class Snapshot:
    at: float
    processes: dict[int, tuple[str, float]]  # pid → (name, CPU seconds so far)
    machine_busy: float
    machine_total: float


def _stat_fields(pid_dir: Path) -> tuple[str, list[str]] | None:
    try:
        raw = (pid_dir / "stat").read_text()
    except OSError:  # the process ended while we were reading
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    return name, raw[raw.rindex(")") + 2 :].split()


def _serves(pid_dir: Path, database_marker: str | None) -> bool:
    """Whether a PostgreSQL backend's title ("postgres: user database host(port) …") names
    one of our databases."""
    if database_marker is None:
        return False
    try:
        return database_marker in (pid_dir / "cmdline").read_text(errors="replace")
    except OSError:
        return False


def _machine() -> tuple[float, float]:
    """Busy and total jiffies of all cores (idle and iowait count as not busy)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def snapshot(groups: Mapping[str, int], *, database_marker: str | None = None) -> Snapshot:
    """CPU seconds so far of every process in a named group (by group id), of Redis, of the
    PostgreSQL backends whose title names a database containing `database_marker` (none
    without one: the others serve other work on the machine), and of this process."""
    by_group = {pgid: name for name, pgid in groups.items()}
    processes: dict[int, tuple[str, float]] = {}
    own = os.getpid()
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        parsed = _stat_fields(pid_dir)
        if parsed is None:
            continue
        comm, fields = parsed
        pid, pgid = int(pid_dir.name), int(fields[2])
        name = LOAD_GENERATOR if pid == own else by_group.get(pgid) or SHARED.get(comm)
        if name == "postgres" and not _serves(pid_dir, database_marker):
            continue
        if name is not None:
            processes[pid] = (name, (int(fields[11]) + int(fields[12])) / TICK)  # utime+stime
    busy, total = _machine()
    return Snapshot(time.perf_counter(), processes, busy, total)


def percent_between(before: Snapshot, after: Snapshot, *, ours: Iterable[str]) -> dict[str, float]:
    """Percent of one core per name between two snapshots; "machine" in percent of all cores;
    "others" (percent of one core) is what the machine spent beyond the names in `ours` —
    other work on a shared machine. A process that ended in between drops out of `after`, so
    its share is a floor."""
    wall = after.at - before.at
    named = {name for name, _ in before.processes.values()}
    spent = dict.fromkeys([*sorted(named), *SHARED.values(), LOAD_GENERATOR], 0.0)
    for pid, (name, seconds) in after.processes.items():
        # Per process, so short-lived ones that exit in between (PostgreSQL backends of other
        # work on the machine) do not subtract; a process new since `before` counts whole.
        _, earlier = before.processes.get(pid, (name, 0.0))
        spent[name] = spent.get(name, 0.0) + max(seconds - earlier, 0.0)
    used = {name: round(100 * seconds / wall, 1) for name, seconds in spent.items()}
    total = after.machine_total - before.machine_total
    busy = (after.machine_busy - before.machine_busy) / total
    used["machine"] = round(100 * busy, 1)
    cores = os.cpu_count() or 1
    used["others"] = round(max(100 * busy * cores - sum(used[name] for name in ours), 0.0), 1)
    return used
