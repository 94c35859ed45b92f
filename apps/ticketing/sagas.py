"""The purchase saga (docs/ticketing.md, "Orders"): hold seats → create the payment intent →
wait for the buyer's confirmation (or confirm a saved method at once) → capture → issue tickets
→ tell the world (`OrderCompleted`). Its id is the order's; its input is `{"order_id"}`.

Compensation (a decline, a step past its deadline, the buyer's cancel, a later step's failure)
runs in reverse: void the tickets, give the money back (cancel the authorization, or refund a
capture), release the seats and mark the order cancelled. Payments is reached only through
`contracts/payments`, every write with the step's idempotency key, so a try repeated after a
crash replays at the provider instead of charging twice.

How the confirmation arrives: payments publishes `PaymentAuthorized` (its answer to the app's
confirmation, or the provider's webhook) or `PaymentFailed` (a decline); ticketing's
subscribers turn them into the `payment_confirmed` signal (apps.ticketing.subscribers). The
waiting step then asks payments for the intent itself, so only an intent really authorized is
captured.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings

from apps.ticketing import selectors
from apps.ticketing.error_codes import (
    CategoryNotFound,
    HoldNotActive,
    SeatCountMismatch,
    SeatNotInCategory,
    SeatTaken,
    ShowNotOnSale,
    SoldOut,
    TooManySeats,
)
from apps.ticketing.models import Order
from apps.ticketing.services import holds, orders, tickets
from cleave.contracts.registry import client
from cleave.sagas import Retry, Step, StepContext, StepFailed, saga, saga_get, saga_signal
from contracts.payments import (
    PAYMENTS,
    IntentCancel,
    IntentCapture,
    IntentCreate,
    IntentFind,
    IntentGet,
    PaymentDeclined,
    PaymentIntent,
    PaymentsService,
    RefundCreate,
    UnexpectedState,
)

SIGNAL = "payment_confirmed"
Status = Order.Status


def _payments() -> PaymentsService:
    return client(PAYMENTS, PaymentsService)


def _order(ctx: StepContext) -> Order:
    order = selectors.order_get(order_id=uuid.UUID(ctx.input["order_id"]))
    if order is None:  # the order and its saga commit together: a bug, not a retry
        raise StepFailed("order_missing")
    return order


# --- hold ------------------------------------------------------------------------------------
def hold_seats(ctx: StepContext) -> dict[str, Any]:
    """The hold order_place took with this step's key (hold_place returns it, in whatever
    state it is now: one released or expired since fails the issue step, which refunds)."""
    order = _order(ctx)
    try:
        hold = holds.hold_place(
            user_id=order.user_id,
            category_id=order.category_id,
            quantity=order.quantity,
            key=ctx.idempotency_key,
            seat_ids=order.seat_ids,
        )
    except (
        SoldOut,
        CategoryNotFound,
        ShowNotOnSale,
        TooManySeats,
        SeatTaken,
        SeatNotInCategory,
        SeatCountMismatch,
    ) as refused:
        raise StepFailed(refused.code) from refused
    orders.order_advance(order_id=order.pk, status=Status.PLACED, hold_id=hold.pk)
    return {"hold_id": str(hold.pk)}


def release_seats(ctx: StepContext) -> None:
    """The last compensation: the seats back (a hold converted, released or expired, or never
    placed, is left as it is), then the order is cancelled, with the saga's reason."""
    hold = selectors.hold_by_key(key=ctx.action_key)
    if hold is not None:
        holds.hold_release(hold_id=hold.pk)
    order = _order(ctx)
    orders.order_cancelled(order_id=order.pk, reason=_reason(ctx))


# --- payment intent ----------------------------------------------------------------------------
def create_intent(ctx: StepContext) -> dict[str, Any]:
    order = _order(ctx)
    try:
        intent = _payments().intent_create(_intent_command(order, ctx.idempotency_key))
    except PaymentDeclined as declined:  # a saved method refused at once
        raise StepFailed("declined", details=declined.details) from declined
    orders.order_advance(
        order_id=order.pk, status=Status.AWAITING_PAYMENT, payment_intent_id=intent.intent_id
    )
    if intent.status in ("requires_capture", "succeeded"):
        # A saved method, authorized at once: the saga need not wait for payments' event to
        # come round (it signals the same later, and a repeated signal changes nothing).
        saga_signal(ctx.saga_id, SIGNAL, {"status": "authorized", "intent_id": intent.intent_id})
    return {"intent_id": intent.intent_id}


def _intent_command(order: Order, key: str) -> IntentCreate:
    return IntentCreate(
        amount=order.amount_cents,
        currency=order.currency.lower(),
        reference=f"order:{order.pk}",
        idempotency_key=key,
        owner_user_id=order.user_id,
        payment_method=order.payment_method or None,
        confirm=bool(order.payment_method),
        description=f"{order.quantity} × {order.category.name}",
    )


def money_back(ctx: StepContext) -> dict[str, Any]:
    """Undo the payment, whatever it reached: nothing (never created), cancel an authorization,
    or refund a capture. The only compensation that touches money, so a capture is refunded by
    one key only, once. The intent is found by the create's key: the create may have reached
    payments without its answer being recorded here."""
    _cancelling(ctx)
    found = _payments().intent_find(IntentFind(idempotency_key=ctx.action_key)).intent
    order = _order(ctx)
    if found is None and order.payment_method:
        # A saved method is authorized by the create itself, and a create whose answer was
        # lost (a timeout after the provider acted) leaves payments no record when its step
        # rolled back. Asking again with the create's key and arguments makes the provider
        # replay it, so an authorization that may exist is found and cancelled below; one that
        # never existed is made and cancelled at once — nothing is held either way.
        try:
            found = _payments().intent_create(_intent_command(order, ctx.action_key))
        except PaymentDeclined:
            return {"undone": "nothing"}  # declined: nothing was ever held
    if found is None:
        return {"undone": "nothing"}  # an intent never confirmed holds no money
    return {"undone": _undo(found, ctx.idempotency_key)}


def _undo(intent: PaymentIntent, key: str) -> str:
    if intent.status == "canceled":
        return "canceled"
    if intent.status == "succeeded":
        if intent.amount_received > intent.amount_refunded:
            _payments().refund_create(RefundCreate(intent_id=intent.intent_id, idempotency_key=key))
        return "refunded"
    # UnexpectedState here (captured meanwhile, its answer lost to a crash and reported since)
    # fails this try: the next one finds the intent succeeded and refunds it.
    _payments().intent_cancel(
        IntentCancel(intent_id=intent.intent_id, idempotency_key=key, reason="abandoned")
    )
    return "canceled"


# --- confirmation ------------------------------------------------------------------------------
def confirmed(ctx: StepContext) -> dict[str, Any]:
    """The signal said how the confirmation went; the intent says whether money is held."""
    if ctx.signal.get("status") != "authorized":
        raise StepFailed("declined", details={"decline_code": ctx.signal.get("decline_code", "")})
    intent_id = int(ctx.results["intent"]["intent_id"])
    intent = _payments().intent_get(IntentGet(intent_id=intent_id))
    if intent.status not in ("requires_capture", "succeeded"):
        raise StepFailed("declined", details={"status": intent.status})
    orders.order_advance(order_id=uuid.UUID(ctx.input["order_id"]), status=Status.AUTHORIZED)
    return {"status": intent.status}


# --- capture -----------------------------------------------------------------------------------
def capture(ctx: StepContext) -> dict[str, Any]:
    intent_id = int(ctx.results["intent"]["intent_id"])
    try:
        intent = _payments().intent_capture(
            IntentCapture(intent_id=intent_id, idempotency_key=ctx.idempotency_key)
        )
    except UnexpectedState as state:  # canceled or expired at the provider: nothing to take
        raise StepFailed("payment_not_capturable", details=state.details) from state
    orders.order_advance(order_id=uuid.UUID(ctx.input["order_id"]), status=Status.PAID)
    return {"amount_received": intent.amount_received}


# --- tickets -----------------------------------------------------------------------------------
def issue_tickets(ctx: StepContext) -> dict[str, Any]:
    hold_id = uuid.UUID(ctx.results["hold"]["hold_id"])
    try:
        issued = tickets.tickets_issue(hold_id=hold_id, order_ref=ctx.input["order_id"])
    except HoldNotActive as gone:  # expired and swept before the payment landed: refund
        raise StepFailed("hold_expired", details=gone.details) from gone
    return {"ticket_ids": [str(ticket.pk) for ticket in issued]}


def void_tickets(ctx: StepContext) -> dict[str, Any]:
    _cancelling(ctx)
    hold = selectors.hold_by_key(key=f"{ctx.saga_id}:hold")
    return {"voided": tickets.tickets_void(hold_id=hold.pk) if hold is not None else 0}


# --- notify ------------------------------------------------------------------------------------
def notify(ctx: StepContext) -> dict[str, Any]:
    """Last, as it cannot be undone: the order completed, `OrderCompleted` published (through
    the outbox, with this step's commit) for notifications and anyone else."""
    ticket_ids = list(ctx.results["issue"]["ticket_ids"])
    orders.order_complete(order_id=uuid.UUID(ctx.input["order_id"]), ticket_ids=ticket_ids)
    return {"notified": True}


def _cancelling(ctx: StepContext) -> None:
    orders.order_advance(
        order_id=uuid.UUID(ctx.input["order_id"]), status=Status.CANCELLING, reason=_reason(ctx)
    )


def _reason(ctx: StepContext) -> str:
    """Why the saga compensates (declined, timeout, cancelled, failed, operator), or the step's
    own refusal (sold_out, seat_taken, hold_expired) when it said one."""
    view = saga_get(ctx.saga_id)
    if view.reason == "declined" and view.error in ("sold_out", "seat_taken", "hold_expired"):
        return view.error
    return view.reason or "failed"


def _payment_seconds() -> int:
    return int(getattr(settings, "CLEAVE_TICKETING_PAYMENT_SECONDS", 480))


# Provider calls: short backoffs within a step's deadline, so a provider away for a minute is
# ridden out and one away for longer compensates (docs/ticketing.md).
_PROVIDER_RETRY = Retry(attempts=10, base=1.0, cap=15.0)

PURCHASE = saga(
    orders.PURCHASE,
    # Held when the order is placed (orders.order_place, with this step's key), so the step
    # finds the hold; it places one itself for an order placed before that (over a deploy).
    Step(
        orders.HOLD_STEP,
        action=hold_seats,
        compensation=release_seats,
        deadline=timedelta(seconds=60),
    ),
    Step(
        "intent",
        action=create_intent,
        compensation=money_back,
        retry=_PROVIDER_RETRY,
        deadline=timedelta(seconds=90),
    ),
    # The buyer confirms on the phone (3-D Secure included); the deadline stays inside the
    # hold's time to live, so seats paid for are still held when the capture lands.
    Step(
        "confirm",
        wait_for=SIGNAL,
        action=confirmed,
        deadline=timedelta(seconds=_payment_seconds()),
        retry=_PROVIDER_RETRY,
    ),
    Step("capture", action=capture, retry=_PROVIDER_RETRY, deadline=timedelta(seconds=90)),
    Step("issue", action=issue_tickets, compensation=void_tickets, deadline=timedelta(seconds=60)),
    Step("notify", action=notify),
)
