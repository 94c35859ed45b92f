"""A real Celery worker for tests that are about the worker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from cleave.testing.processes import BIN, ROOT, process_env, stop_process, wait_for


@contextmanager
def celery_worker(
    *,
    queues: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    concurrency: int = 0,
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process consuming `queues`, stopped on exit: the solo pool (as the
    Procfile's `events`), or with `concurrency` the prefork pool (as its `worker`)."""
    pool = (
        ["--pool", "prefork", "--concurrency", str(concurrency)]
        if concurrency
        else ["--pool", "solo"]
    )
    (ROOT / "var").mkdir(exist_ok=True)
    log_path = ROOT / "var" / f"worker-{os.getpid()}.log"
    log = log_path.open("w+b")
    command = [
        str(BIN / "celery"), "-A", "cleave.celery", "worker", *pool,
        "--queues", ",".join(queues), "--without-gossip", "--without-mingle",
        "--without-heartbeat", "--loglevel", "INFO", "--hostname", f"test-{os.getpid()}@%h",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own worker command
        command, cwd=ROOT, env=process_env(env), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            lambda: b" ready." in log_path.read_bytes() or process.poll() is not None,
            timeout=timeout,
        )
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log_path.read_text(errors='replace')[-4000:]}")
        yield process
    finally:
        stop_process(process, timeout=15)
        log.close()
