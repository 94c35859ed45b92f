"""Intents made through payments' services (so the provider has them too)."""

from __future__ import annotations

import uuid

from apps.payments.models import PaymentIntent
from apps.payments.services import intents


def intent(
    *, owner_user_id: int | None = 7, amount: int = 2500, confirmed: bool = False
) -> PaymentIntent:
    made = intents.intent_create(
        amount=amount,
        currency="eur",
        reference=f"order:{uuid.uuid4().hex[:8]}",
        idempotency_key=f"create-{uuid.uuid4()}",
        owner_user_id=owner_user_id,
    )
    if confirmed:
        made = intents.intent_confirm(
            intent_id=made.pk, idempotency_key=f"confirm-{made.pk}", payment_method="pm_card_visa"
        )
    return made
