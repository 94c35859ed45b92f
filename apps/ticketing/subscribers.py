"""ticketing learns how a purchase's payment went from payments' events, correlated by the
intent's `reference` ("order:<order id>"), and hands it to the order's saga as its
`payment_confirmed` signal. The first signal counts: a duplicated, late or out-of-order event
changes nothing (cleave.sagas.saga_signal); one for an order that is not ours is ignored."""

from __future__ import annotations

import uuid

from apps.ticketing import selectors
from cleave.events import subscriber
from cleave.sagas import saga_signal
from contracts.payments import PaymentAuthorized, PaymentFailed

SIGNAL = "payment_confirmed"  # apps.ticketing.sagas waits for it


def _order_id(reference: str) -> uuid.UUID | None:
    prefix, _, raw = reference.partition(":")
    if prefix != "order":
        return None
    try:
        order_id = uuid.UUID(raw)
    except ValueError:
        return None
    return order_id if selectors.order_get(order_id=order_id) is not None else None


@subscriber(PaymentAuthorized)
def on_payment_authorized(event: PaymentAuthorized) -> None:
    if (order_id := _order_id(event.reference)) is not None:
        saga_signal(order_id, SIGNAL, {"status": "authorized", "intent_id": event.intent_id})


@subscriber(PaymentFailed)
def on_payment_failed(event: PaymentFailed) -> None:
    """A decline ends the order (the buyer places another to pay with another card)."""
    if (order_id := _order_id(event.reference)) is not None:
        saga_signal(
            order_id,
            SIGNAL,
            {
                "status": "declined",
                "intent_id": event.intent_id,
                "decline_code": event.decline_code,
            },
        )
