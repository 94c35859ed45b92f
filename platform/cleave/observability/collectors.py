"""Gauges read from the database when /metrics is scraped: the event bus's backlog and the
event store's projection lag.

Counting at scrape time (every 15–30 s) costs three indexed queries per database and keeps the
numbers true across processes and restarts, which a gauge each process updated could not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class EventBusCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from cleave.events.models import FailedDelivery, OutboxEvent

        lag = GaugeMetricFamily(
            "cleave_outbox_lag_seconds",
            "Age of the oldest outbox row not yet handed off (0 when none).",
            labels=["database"],
        )
        pending = GaugeMetricFamily(
            "cleave_outbox_pending", "Outbox rows not yet handed off.", labels=["database"]
        )
        dead = GaugeMetricFamily(
            "cleave_events_dead_letters",
            "Dead letters waiting for an operator.",
            labels=["database"],
        )
        parked = GaugeMetricFamily(
            "cleave_events_parked",
            "Events parked for an operator: they arrived after later events of their aggregate.",
            labels=["database"],
        )
        held = GaugeMetricFamily(
            "cleave_events_held", "Events held behind an earlier one.", labels=["database"]
        )
        oldest_hold = GaugeMetricFamily(
            "cleave_events_oldest_hold_seconds",
            "Age of the oldest held event (0 when none): near the hold timeout, a gap is stuck.",
            labels=["database"],
        )
        now = timezone.now()
        for alias in settings.DATABASES:
            try:
                undelivered = OutboxEvent.objects.using(alias).filter(dispatched_at__isnull=True)
                oldest = undelivered.aggregate(oldest=Min("created_at"))["oldest"]
                lag.add_metric([alias], (now - oldest).total_seconds() if oldest else 0.0)
                pending.add_metric([alias], undelivered.count())
                failed = FailedDelivery.objects.using(alias)
                Status = FailedDelivery.Status
                dead.add_metric([alias], failed.filter(status=Status.DEAD).count())
                parked.add_metric([alias], failed.filter(status=Status.PARKED).count())
                holding = failed.filter(status=Status.HELD)
                held.add_metric([alias], holding.count())
                first = holding.aggregate(first=Min("created_at"))["first"]
                oldest_hold.add_metric([alias], (now - first).total_seconds() if first else 0.0)
            except Exception as exc:
                # A scrape must not fail because one database is down: readiness says that.
                logger.warning("event bus gauges unavailable for %s: %s", alias, exc)
        yield from (lag, pending, dead, parked, held, oldest_hold)


class ProjectionLagCollector(Collector):
    """Each registered projection's lag behind the head of its log, and whether it is parked."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from cleave.eventstore.projections import registered_projections
        from cleave.eventstore.subscriptions import projection_lag

        events = GaugeMetricFamily(
            "cleave_projection_lag_events",
            "Events after a projection's checkpoint, not yet applied (counted up to 1,000,000).",
            labels=["projection"],
        )
        seconds = GaugeMetricFamily(
            "cleave_projection_lag_seconds",
            "Age of the oldest event a projection has not applied yet (0 when caught up).",
            labels=["projection"],
        )
        parked = GaugeMetricFamily(
            "cleave_projection_parked",
            "1 while a projection is parked on a poison event, waiting for retry or skip.",
            labels=["projection"],
        )
        for projection in registered_projections():
            try:
                lag = projection_lag(projection)
            except Exception as exc:
                logger.warning("projection lag unavailable for %s: %s", projection.name, exc)
                continue
            events.add_metric([projection.name], lag.events)
            seconds.add_metric([projection.name], lag.seconds)
            parked.add_metric([projection.name], 0 if lag.parked_position is None else 1)
        yield from (events, seconds, parked)
