"""`manage.py split restart <service>`: replace one service's processes while the rest serve.

A deploy of one context must not be felt by the others, nor lose the work it accepted. The
steps, for the service's web process and then its worker:

1. Readiness goes false: the old web instance's drain file is created, so its `/readyz`
   answers 503 (`cleave.health.check_draining`) — what takes a pod out of a load balancer.
2. A new web instance starts on the same port beside it (granian binds with SO_REUSEPORT, so
   both accept), and the restart waits until `/readyz` answers 200: only the new one can.
3. The old instance gets SIGTERM: it stops accepting, finishes its in-flight requests
   (granian's graceful shutdown) and exits; SIGKILL only after `drain_seconds`.
4. The worker gets SIGTERM (Celery's warm shutdown: it finishes the task it runs; messages it
   had reserved go back to the queue), then a new worker starts and the restart waits until it
   says it is ready. Sagas and events in between wait in the broker; a saga's step that was cut
   short is retried by its own retry and deadline rules.

Other services are never touched: the gateway keeps the same upstream address, and services
that call this one's contract keep its URL. Only web services restart this way; the realtime
service's sockets would all reconnect (its clients' job, `docs/realtime` resume).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from cleave.progress import Progress
from cleave_deploy.split import (
    _alive,
    _commands,
    _signal_group,
    _spawn,
    _wait_ready,
    drain_file,
)
from cleave_deploy.topology import SplitError, Topology, service_env, service_keys


def restart(topology: Topology, service: str, progress: Progress | None = None) -> dict[str, int]:
    """Rolling restart of `service`'s web process and worker; returns the new pids."""
    if service not in topology.web_services:
        raise SplitError(
            f"restart takes one of {', '.join(topology.web_services)}, not {service!r}"
        )
    pids_path, drains_path = topology.folder / "pids.json", topology.folder / "drains.json"
    if not pids_path.exists():
        raise SplitError("the split topology is not running: `make split` first")
    pids: dict[str, int] = json.loads(pids_path.read_text())
    drains: dict[str, str] = json.loads(drains_path.read_text()) if drains_path.exists() else {}
    keys, _ = service_keys(topology)
    env = service_env(topology, service, keys)
    commands = _commands(topology, service)
    web, worker = f"{service}-web", f"{service}-worker"
    old_web, old_worker = pids[web], pids[worker]

    def note(message: str) -> None:
        if progress is not None:
            progress.advance()
            progress.note(message)

    old_drain = Path(drains[web]) if web in drains else None
    if old_drain is not None:
        old_drain.touch()
    note(f"{web}: draining (readiness false)")
    drains[web] = drain_file(topology, web)
    pids[web] = _replace(topology, web, commands[web], {**env, "CLEAVE_DRAIN_FILE": drains[web]})
    note(f"{web}: new instance ready")
    _stop_and_wait(old_web)
    if old_drain is not None:
        old_drain.unlink(missing_ok=True)
    note(f"{web}: old instance drained and gone")

    _stop_and_wait(old_worker)
    log = topology.folder / "logs" / f"{worker}.log"
    offset = log.stat().st_size if log.exists() else 0
    pids[worker] = _spawn(topology, worker, commands[worker], env)
    _wait_worker(log, offset)
    note(f"{worker}: replaced")

    pids_path.write_text(json.dumps(pids, indent=2))
    drains_path.write_text(json.dumps(drains, indent=2))
    return {web: pids[web], worker: pids[worker]}


def restart_steps() -> int:
    """The steps `restart` reports."""
    return 4


def _replace(topology: Topology, name: str, command: list[str], env: dict[str, str]) -> int:
    service = name.removesuffix("-web")
    pid = _spawn(topology, name, command, env)
    # The old instance answers 503 from now on, so a 200 comes from the new one.
    _wait_ready(topology.url(service) + "/readyz", topology, name)
    return pid


def _stop_and_wait(pid: int, drain_seconds: float = 30.0) -> None:
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)  # its process group: anything it left behind


def _wait_worker(log: Path, offset: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            with log.open("rb") as lines:
                lines.seek(offset)
                if b" ready." in lines.read():
                    return
        time.sleep(0.2)
    raise SplitError(f"the new worker did not get ready in {timeout:.0f}s; see {log}")
