"""Intents and refunds through the provider, each write exactly once per idempotency key.

Each write runs in three steps, so no transaction is held across the network and a crash at
any point is safe to retry with the same key:

1. (transaction) find or record the call under "<operation>:<caller's key>"; a call that has
   an outcome replays it (same arguments) or is refused (other arguments);
2. (no transaction) ask the provider with that same key: if our first try's answer was lost,
   the provider replays it instead of acting twice;
3. (transaction, intent row-locked) record the outcome and advance the intent, publishing its
   events through the outbox. Then the test provider's webhooks are delivered, in process.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils.timezone import now

from apps.payments import selectors
from apps.payments.gateways import stripe_gateway as gw
from apps.payments.models import PaymentIntent, ProviderCall, Refund
from apps.payments.services import gateway, transitions
from apps.payments.services.webhooks import deliver_inprocess_webhooks
from cleave.databases import database_for
from contracts.payments import (
    AmountInvalid,
    IdempotencyKeyReused,
    PaymentDeclined,
    ProviderUnavailable,
    UnexpectedState,
)

T = TypeVar("T")
DB = "payments"


def fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def intent_create(
    *,
    amount: int,
    currency: str,
    reference: str,
    idempotency_key: str,
    owner_user_id: int | None = None,
    payment_method: str | None = None,
    confirm: bool = False,
    description: str = "",
) -> PaymentIntent:
    """A manual-capture intent at the provider (confirmed at once with `payment_method` and
    `confirm`). The same key returns the same intent; with other arguments it is refused."""
    params = {
        "amount": amount,
        "currency": currency,
        "reference": reference,
        "owner_user_id": owner_user_id,
        "payment_method": payment_method,
        "confirm": confirm,
        "description": description,
    }
    print_ = fingerprint(params)
    intent = _intent_for_key(idempotency_key, print_, params)
    answered = selectors.call_by_key(idempotency_key=f"create:{idempotency_key}")
    if answered is not None and answered.outcome:
        return _replay_create(intent)
    provider = gateway.current()
    try:
        _timed_call(
            intent,
            "create",
            idempotency_key,
            params,
            lambda key: provider.intent_create(
                amount=amount,
                currency=currency,
                reference=reference,
                payment_method=payment_method,
                confirm=confirm,
                description=description,
                key=key,
            ),
        )
    finally:
        deliver_inprocess_webhooks()
    return _replay_create(intent)


def _intent_for_key(key: str, print_: str, params: dict[str, Any]) -> PaymentIntent:
    existing = selectors.intent_by_key(idempotency_key=key)
    if existing is None:
        try:
            with transaction.atomic(using=database_for(DB)):
                return PaymentIntent.objects.using(database_for(DB)).create(
                    idempotency_key=key,
                    request_fingerprint=print_,
                    reference=params["reference"],
                    owner_user_id=params["owner_user_id"],
                    amount=params["amount"],
                    currency=params["currency"],
                    description=params["description"],
                    provider=gateway.provider_name(),
                )
        except IntegrityError:  # a concurrent create with the same key won
            existing = selectors.intent_by_key(idempotency_key=key)
            if existing is None:
                raise  # refused for another reason than our key
    if existing.request_fingerprint != print_:
        raise IdempotencyKeyReused(details={"idempotency_key": key})
    return existing


def _replay_create(intent: PaymentIntent) -> PaymentIntent:
    """The answer the create under this key got (the intent, or the error raised again)."""
    call = selectors.call_by_key(idempotency_key=f"create:{intent.idempotency_key}")
    current = selectors.intent_get(intent_id=intent.pk)
    if call is not None:
        _raise_outcome(call, current)
    return current


def intent_confirm(*, intent_id: int, idempotency_key: str, payment_method: str) -> PaymentIntent:
    intent = selectors.intent_get(intent_id=intent_id)
    provider = gateway.current()
    return _write(
        intent,
        "confirm",
        idempotency_key,
        {"payment_method": payment_method},
        lambda pid, key: provider.intent_confirm(
            provider_intent_id=pid, payment_method=payment_method, key=key
        ),
    )


def intent_capture(
    *, intent_id: int, idempotency_key: str, amount: int | None = None
) -> PaymentIntent:
    intent = selectors.intent_get(intent_id=intent_id)
    if amount is not None and amount > intent.amount:
        raise AmountInvalid(details={"reason": "A capture cannot exceed the authorized amount."})
    provider = gateway.current()
    return _write(
        intent,
        "capture",
        idempotency_key,
        {"amount": amount},
        lambda pid, key: provider.intent_capture(provider_intent_id=pid, amount=amount, key=key),
    )


def intent_cancel(
    *, intent_id: int, idempotency_key: str, reason: str = "abandoned"
) -> PaymentIntent:
    intent = selectors.intent_get(intent_id=intent_id)
    provider = gateway.current()
    return _write(
        intent,
        "cancel",
        idempotency_key,
        {"reason": reason},
        lambda pid, key: provider.intent_cancel(provider_intent_id=pid, reason=reason, key=key),
        cancel_reason=reason,
    )


def refund_create(
    *,
    intent_id: int,
    idempotency_key: str,
    amount: int | None = None,
    reason: str = "requested_by_customer",
) -> Refund:
    """A refund of `amount` (default: all captured and not yet refunded)."""
    # What is left to refund is the provider's to say: our copy may lag behind a refund whose
    # webhook or answer is still on its way (an amount too large comes back as AmountInvalid).
    intent = selectors.intent_get(intent_id=intent_id)
    params = {"amount": amount, "reason": reason}
    provider = gateway.current()
    results: list[gw.RefundSnapshot] = []

    def ask(pid: str, key: str) -> gw.IntentSnapshot | None:
        results.append(
            provider.refund_create(provider_intent_id=pid, amount=amount, reason=reason, key=key)
        )
        return None

    _write(intent, "refund", idempotency_key, params, ask, on_refund=results)
    refund = (
        Refund.objects.using(database_for(DB))
        .filter(idempotency_key=f"refund:{idempotency_key}")
        .first()
    )
    if refund is None:  # the call's outcome was recorded but not a refund: cannot happen
        raise UnexpectedState(details={"status": intent.status, "operation": _PAST["refund"]})
    return refund


def _write(
    intent: PaymentIntent,
    operation: str,
    caller_key: str,
    params: dict[str, Any],
    ask: Callable[[str, str], gw.IntentSnapshot | None],
    *,
    cancel_reason: str = "",
    on_refund: list[gw.RefundSnapshot] | None = None,
) -> PaymentIntent:
    key = f"{operation}:{caller_key}"
    call = _call_for_key(intent, operation, key, params)
    if call.outcome:
        _raise_outcome(call, selectors.intent_get(intent_id=intent.pk))
        return selectors.intent_get(intent_id=intent.pk)
    if not intent.provider_intent_id:
        raise UnexpectedState(details={"status": "not created", "operation": _PAST[operation]})
    pid = intent.provider_intent_id
    try:
        _timed_call(
            intent,
            operation,
            caller_key,
            params,
            lambda k: ask(pid, k),
            cancel_reason=cancel_reason,
            on_refund=on_refund,
        )
    finally:
        deliver_inprocess_webhooks()
    return selectors.intent_get(intent_id=intent.pk)


def _call_for_key(
    intent: PaymentIntent, operation: str, key: str, params: dict[str, Any]
) -> ProviderCall:
    print_ = fingerprint({"intent_id": intent.pk, **params})
    with transaction.atomic(using=database_for(DB)):
        call, _ = ProviderCall.objects.using(database_for(DB)).get_or_create(
            idempotency_key=key,
            defaults={
                "intent": intent,
                "operation": operation,
                "request_fingerprint": print_,
                "params": params,
            },
        )
    if call.request_fingerprint != print_:
        raise IdempotencyKeyReused(details={"idempotency_key": key.partition(":")[2]})
    return call


_PAST = {
    "create": "created",
    "confirm": "confirmed",
    "capture": "captured",
    "cancel": "cancelled",
    "refund": "refunded",
}


def _raise_outcome(call: ProviderCall, intent: PaymentIntent) -> None:
    """A recorded outcome, raised again as it was the first time (a replay)."""
    if call.outcome == "declined":
        raise PaymentDeclined(details={"intent_id": intent.pk, "decline_code": call.error_code})
    if call.outcome == "invalid_state":
        raise UnexpectedState(details={"status": intent.status, "operation": _PAST[call.operation]})
    if call.outcome == "invalid_amount":
        raise AmountInvalid(details={"reason": call.error_message})
    if call.outcome == "key_reused":
        raise IdempotencyKeyReused(details={"idempotency_key": call.idempotency_key})
    if call.outcome == "error":
        raise UnexpectedState(details={"status": intent.status, "operation": _PAST[call.operation]})


def _timed_call(
    intent: PaymentIntent,
    operation: str,
    caller_key: str,
    params: dict[str, Any],
    ask: Callable[[str], gw.IntentSnapshot | None],
    *,
    cancel_reason: str = "",
    on_refund: list[gw.RefundSnapshot] | None = None,
) -> gw.IntentSnapshot | None:
    """Ask the provider (no transaction open), then record what it said (steps 2 and 3)."""
    key = f"{operation}:{caller_key}"
    if operation == "create":
        _call_for_key(intent, operation, key, params)
    started = time.monotonic()
    try:
        snapshot = ask(key)
    except gw.Unavailable as error:
        _record(intent, key, started, outcome="", error=error)
        raise ProviderUnavailable(details={"reason": error.message}) from error
    except gw.GatewayError as error:
        _record(intent, key, started, outcome=_OUTCOMES.get(type(error), "error"), error=error)
        recorded = selectors.call_by_key(idempotency_key=key)
        if recorded is not None:
            _raise_outcome(recorded, selectors.intent_get(intent_id=intent.pk))
        raise
    _record(
        intent,
        key,
        started,
        outcome="ok",
        snapshot=snapshot,
        cancel_reason=cancel_reason,
        refunds=on_refund,
    )
    return snapshot


_OUTCOMES: dict[type[gw.GatewayError], str] = {
    gw.Declined: "declined",
    gw.InvalidState: "invalid_state",
    gw.InvalidAmount: "invalid_amount",
    gw.KeyReused: "key_reused",
    gw.UnknownIntent: "error",
}


def _record(
    intent: PaymentIntent,
    key: str,
    started: float,
    *,
    outcome: str,
    error: gw.GatewayError | None = None,
    snapshot: gw.IntentSnapshot | None = None,
    cancel_reason: str = "",
    refunds: list[gw.RefundSnapshot] | None = None,
) -> None:
    with transaction.atomic(using=database_for(DB)):
        locked = selectors.intent_lock(intent_id=intent.pk)
        call = (
            ProviderCall.objects.using(database_for(DB))
            .select_for_update()
            .get(idempotency_key=key)
        )
        if call.outcome:
            return  # a concurrent retry with the same key recorded it first
        call.attempts += 1
        call.duration_ms = min(int((time.monotonic() - started) * 1000), 2**31 - 1)
        call.outcome = outcome
        call.error_code = (error.code if error else "")[:64]
        call.error_message = (error.message if error else "")[:500]
        call.finished_at = now() if outcome else None
        call.save(
            update_fields=[
                "attempts",
                "duration_ms",
                "outcome",
                "error_code",
                "error_message",
                "finished_at",
            ]
        )
        reported = snapshot or (error.intent if error else None)
        if reported is not None and not locked.provider_intent_id:
            locked.provider_intent_id = reported.provider_intent_id
            locked.client_secret = reported.client_secret
            locked.save(update_fields=["provider_intent_id", "client_secret"])
        if outcome == "declined":
            transitions.decline(locked, decline_code=error.code if error else "")
        elif reported is not None:
            transitions.advance(locked, reported, cancel_reason=cancel_reason)
        for refund in refunds or []:
            transitions.refund_record(locked, refund, idempotency_key=key)
