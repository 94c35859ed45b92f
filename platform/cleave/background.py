"""Hand a Celery task off without running it on the caller's thread, broker or not.

With a broker (real mode) the hand-off is `delay()`. Without one (embedded mode,
`task_always_eager`) Celery would run the task right there, on the request's thread; a task
whose point is to stay off the request (a password reset must not tell by its timing whether
the account exists) goes to this process's one background thread instead, so the request
returns after the same work either way.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import Task
from django.db import connections

logger = logging.getLogger(__name__)
# One thread: embedded mode is one process for development and tests, and such tasks are rare.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cleave-background")
_import_lock = threading.Lock()


def task_enqueue(task: Task, *args: Any) -> None:
    """Queue `task(*args)` to the broker, or with no broker to this process's background
    thread — never run it on the caller's thread."""
    if task.app.conf.task_always_eager:
        _background.submit(_run_here, task, args)
    else:
        task.delay(*args)


def task_named(name: str) -> Task:
    """The registered task called `name`. A context's services hand work to its tasks by name:
    the tasks module is an entry point above the services (import-linter's layers contract),
    so the services cannot import it. An unknown name raises `celery.exceptions.NotRegistered`."""
    from cleave.celery import app

    if name not in app.tasks:
        # A web process never started a worker, so the installed apps' tasks modules were not
        # imported yet (Celery's autodiscovery runs on import_modules): import them once. One
        # thread at a time: a second thread's import_default_modules returns while the first
        # is still importing, and its lookup then failed (the first requests after a web
        # process started, e.g. concurrent sign-ups, answered 500).
        with _import_lock:
            if name not in app.tasks:
                app.loader.import_default_modules()
    task: Task = app.tasks[name]
    return task


def _run_here(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        logger.exception("background task %s failed", task.name)
    finally:
        # This thread's database connections: a connection kept open by an idle thread would
        # hold the database (a test database cannot be flushed or dropped under it).
        connections.close_all()


def background_drain(timeout: float = 10.0) -> None:
    """Wait until the background thread has run what was handed to it (tests, shutdown)."""
    done: Future[None] = _background.submit(lambda: None)
    done.result(timeout=timeout)


# --- Periodic tasks a context declares (from its ready()) ---------------------------------------
_periodic: dict[str, tuple[str, float]] = {}
_last_run: dict[str, float] = {}


def register_periodic(name: str, task_name: str, every_seconds: float) -> None:
    """Run the task called `task_name` every `every_seconds`: a Celery beat entry in real mode
    (beat reads the schedule after the apps are ready), the embedded server's periodic thread
    otherwise (`run_due_periodic`). From a context's `ready()`, so the kernel names none."""
    from cleave.celery import app

    _periodic[name] = (task_name, every_seconds)
    app.conf.beat_schedule = {
        **(app.conf.beat_schedule or {}),
        name: {"task": task_name, "schedule": every_seconds},
    }


def run_due_periodic(now: float) -> None:
    """Embedded mode: run the registered periodic tasks whose time has come, here."""
    for name, (task_name, every) in sorted(_periodic.items()):
        if now - _last_run.get(name, 0.0) >= every:
            _last_run[name] = now
            try:
                task_named(task_name).apply(throw=True)
            except Exception:
                logger.exception("periodic task %s failed; trying again next round", name)
