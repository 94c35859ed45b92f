"""Embedded mode's stand-in for Celery beat: the event bus's periodic work on a thread, and
the periodic tasks contexts register (`cleave.background.register_periodic`)."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections

logger = logging.getLogger(__name__)


def start_in_thread(*, interval: float = 2.0) -> threading.Thread:
    """Run the sweeper, the retries, the projections' catch-up and the saga sweeper every
    `interval` seconds (purge hourly), and the contexts' periodic tasks when due, as a daemon."""
    from cleave.background import run_due_periodic
    from cleave.events.tasks import purge, retry_due_deliveries, sweep_outbox
    from cleave.eventstore.tasks import tick
    from cleave.sagas.sweeper import sweep as sweep_sagas

    def loop() -> None:
        last_purge = 0.0
        while True:
            time.sleep(interval)
            try:
                sweep_outbox()
                retry_due_deliveries()
                tick()  # the event store's projections
                sweep_sagas()
                if time.monotonic() - last_purge > 3600:
                    purge()
                    last_purge = time.monotonic()
                run_due_periodic(time.monotonic())
            except Exception:
                logger.exception("periodic event-bus work failed; trying again next round")
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="cleave-events-periodic", daemon=True)
    thread.start()
    return thread
