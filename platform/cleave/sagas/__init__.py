"""Cleave's saga engine: orchestrated, persisted, compensating workflows (docs/sagas.md).

A context defines its sagas in `apps/<context>/sagas.py` (imported at start-up):

    CHECKOUT = saga(
        "orders.checkout",
        Step("reserve", action=reserve, compensation=release, deadline=timedelta(seconds=30)),
        Step("confirm", wait_for="payment_confirmed", deadline=timedelta(minutes=15)),
        Step("charge", action=charge, compensation=refund, retry=Retry(attempts=5)),
    )

and its services start and steer them:

    saga_id = saga_start(CHECKOUT, input={"order_id": 7})   # in the service's transaction
    saga_signal(saga_id, "payment_confirmed", {"intent": "pi_1"})
    saga_cancel(saga_id, reason="the user cancelled")
    saga_get(saga_id).state                                # running, waiting, completed, …
"""

from cleave.sagas.definitions import (
    Retry,
    Saga,
    Step,
    StepContext,
    StepFailed,
    idempotency_key,
    saga,
    sagas,
)
from cleave.sagas.services import (
    SagaNotFound,
    SagaNotRetryable,
    SagaView,
    saga_cancel,
    saga_compensate,
    saga_get,
    saga_retry,
    saga_signal,
    saga_start,
)

__all__ = [
    "Retry",
    "Saga",
    "SagaNotFound",
    "SagaNotRetryable",
    "SagaView",
    "Step",
    "StepContext",
    "StepFailed",
    "idempotency_key",
    "saga",
    "saga_cancel",
    "saga_compensate",
    "saga_get",
    "saga_retry",
    "saga_signal",
    "saga_start",
    "sagas",
]
