"""Embedded mode's stand-in for Celery beat: the event bus's periodic work on a thread."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections

logger = logging.getLogger(__name__)


def start_in_thread(*, interval: float = 2.0) -> threading.Thread:
    """Run the sweeper and the retries every `interval` seconds (purge hourly), as a daemon."""
    from cleave.events.tasks import purge, retry_due_deliveries, sweep_outbox

    def loop() -> None:
        last_purge = 0.0
        while True:
            time.sleep(interval)
            try:
                sweep_outbox()
                retry_due_deliveries()
                if time.monotonic() - last_purge > 3600:
                    purge()
                    last_purge = time.monotonic()
            except Exception:
                logger.exception("periodic event-bus work failed; trying again next round")
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="cleave-events-periodic", daemon=True)
    thread.start()
    return thread
