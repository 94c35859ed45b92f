"""The Celery application of every Cleave process (workers, beat, and publishers)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

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
