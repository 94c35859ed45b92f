"""The sweeper: finds the sagas a runner should look at now and hands them off.

- due: a try whose backoff has passed, or a hand-off that may have been lost (a worker killed
  mid-step leaves `due_at` at its try's timeout);
- stuck: a forward step past its deadline (the runner then compensates, counted as stuck);
- signalled: a waiting saga with a signal newer than its last change (a lost hand-off).

A saga being run right now (its row locked) is skipped, and each one handed off has its
`due_at` moved a grace period on, so a queue backlog does not earn a saga a copy of its message
every sweep. Only sagas defined in this process are handed off: another service's sweeper
hands off its own.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from cleave.events.tasks import hosted_aliases
from cleave.sagas.definitions import sagas
from cleave.sagas.dispatch import HANDOFF_GRACE, hand_off
from cleave.sagas.models import SagaRun, SagaSignal

State = SagaRun.State


def sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    clock = now or timezone.now()
    defined = [saga.name for saga in sagas.all()]
    if not defined:
        return 0
    signalled = SagaSignal.objects.filter(
        run=OuterRef("pk"), received_at__gte=OuterRef("updated_at")
    )
    handed = 0
    for alias in hosted_aliases():
        with transaction.atomic(using=alias):
            rows = list(
                SagaRun.objects.using(alias)
                .select_for_update(skip_locked=True, no_key=True)
                .filter(saga__in=defined)
                .filter(
                    Q(state__in=[State.RUNNING, State.COMPENSATING], due_at__lte=clock)
                    | Q(state__in=[State.RUNNING, State.WAITING], deadline_at__lte=clock)
                    | Q(Exists(signalled), state=State.WAITING)
                )
                .order_by(F("due_at").asc(nulls_first=True))
                .values_list("saga", "id")[:limit]
            )
            SagaRun.objects.using(alias).filter(
                id__in=[saga_id for _, saga_id in rows], due_at__lte=clock
            ).update(due_at=clock + HANDOFF_GRACE)
        for name, saga_id in rows:
            hand_off(name, saga_id, now=now)
            handed += 1
    return handed
