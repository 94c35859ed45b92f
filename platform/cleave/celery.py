"""The Celery application of every Cleave process (workers, beat, and publishers)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

app = Celery("cleave")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
