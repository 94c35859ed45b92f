"""payments' reads."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.payments.models import PaymentIntent, ProviderCall
from cleave.databases import database_for
from contracts.payments import IntentNotFound

DB = "payments"


def intent_get(*, intent_id: int, owner_user_id: int | None = None) -> PaymentIntent:
    """The intent; with `owner_user_id`, only that user's (anyone else's is not found)."""
    query = PaymentIntent.objects.using(database_for(DB)).filter(pk=intent_id)
    if owner_user_id is not None:
        query = query.filter(owner_user_id=owner_user_id)
    intent = query.first()
    if intent is None:
        raise IntentNotFound(details={"intent_id": intent_id})
    return intent


def intent_lock(*, intent_id: int) -> PaymentIntent:
    """The intent, row-locked. The caller must hold a transaction on payments' database."""
    intent = (
        PaymentIntent.objects.using(database_for(DB))
        .select_for_update()
        .filter(pk=intent_id)
        .first()
    )
    if intent is None:
        raise IntentNotFound(details={"intent_id": intent_id})
    return intent


def intent_by_key(*, idempotency_key: str) -> PaymentIntent | None:
    return (
        PaymentIntent.objects.using(database_for(DB))
        .filter(idempotency_key=idempotency_key)
        .first()
    )


def intent_by_provider_id(*, provider_intent_id: str, lock: bool = False) -> PaymentIntent | None:
    """With `lock`, the caller must hold a transaction on payments' database."""
    query = PaymentIntent.objects.using(database_for(DB)).filter(
        provider_intent_id=provider_intent_id
    )
    return (query.select_for_update() if lock else query).first()


def call_by_key(*, idempotency_key: str) -> ProviderCall | None:
    return (
        ProviderCall.objects.using(database_for(DB)).filter(idempotency_key=idempotency_key).first()
    )


def intent_calls(*, intent_id: int) -> QuerySet[ProviderCall]:
    return ProviderCall.objects.using(database_for(DB)).filter(intent_id=intent_id).order_by("pk")
