"""The Celery application of every Cleave process (workers, beat, and publishers)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import celeryd_init, task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

app = Celery("cleave")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _serve_metrics(**_: object) -> None:
    """A worker's /metrics on CLEAVE_METRICS_PORT (its pool's children report through
    PROMETHEUS_MULTIPROC_DIR, which the Procfile sets per process group)."""
    port = os.environ.get("CLEAVE_METRICS_PORT")
    if not port:
        return
    from prometheus_client import start_http_server

    from cleave.observability.http import scrape_registry

    host = os.environ.get("CLEAVE_METRICS_HOST", "127.0.0.1")
    start_http_server(int(port), addr=host, registry=scrape_registry(event_bus=False))


@celeryd_init.connect
def _events_workers_redeliver_fast(conf: Any, options: dict[str, Any], **_: object) -> None:
    """A worker on `events.*` queues only (split mode's `events` process names its queue) uses
    the events transport options, as CLEAVE_EVENTS_WORKER=1 does for the Procfile's line."""
    from django.conf import settings

    queues = options.get("queues") or []
    names = queues.split(",") if isinstance(queues, str) else [str(queue) for queue in queues]
    if names and all(name.startswith("events.") for name in names):
        transport = dict(conf.broker_transport_options or {})
        transport.update(settings.CLEAVE_EVENTS_BROKER_TRANSPORT_OPTIONS)
        conf.broker_transport_options = transport


@task_prerun.connect
@task_postrun.connect
def _connections_back_to_the_pool(sender: Task | None = None, **_: object) -> None:
    """Per task what Django does per request: a connection broken or past its age is closed, one
    from the pool goes back to it (settings.CELERY_DB_REUSE_MAX says why not Celery's fixup). An
    eager task (embedded mode) runs inside its caller's transaction, which it must not touch."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
