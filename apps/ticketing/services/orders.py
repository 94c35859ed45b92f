"""Orders: placing one (which starts the purchase saga), cancelling one, and the transitions the
saga's steps make (apps.ticketing.sagas), each pushed as an `order.updated` frame on the order's
stream after commit.

The saga's id is the order's: the order and its saga are written in one transaction (both or
neither), and whoever holds an order id can steer or show its saga. The saga is started by name
(`ticketing.purchase`): services sit below the saga module in the import layers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import OrderKeyReused, OrderNotCancellable, OrderNotFound
from apps.ticketing.models import Hold, Order
from apps.ticketing.services import holds
from cleave.contracts.registry import client
from cleave.databases import database_for
from cleave.events import publish
from cleave.realtime import push, subscribe
from cleave.sagas import idempotency_key as saga_step_key
from cleave.sagas import saga_cancel, saga_get
from cleave.sagas import saga_start as _saga_start
from contracts.payments import PAYMENTS, IntentGet, PaymentsService
from contracts.ticketing import OrderCancelled, OrderCompleted, OrderPlaced

DB = database_for("ticketing")
PURCHASE = "ticketing.purchase"
HOLD_STEP = "hold"  # the purchase saga's first step (apps.ticketing.sagas): its key is the hold's
ORDER_FAMILY = "order"
ORDER_UPDATED = "order.updated"
Status = Order.Status
# Statuses only move forward: a late or repeated step (a retried try, a redelivered signal)
# never takes an order back.
_RANK = {
    Status.PLACED: 0,
    Status.AWAITING_PAYMENT: 1,
    Status.AUTHORIZED: 2,
    Status.PAID: 3,
    Status.COMPLETED: 4,
    Status.CANCELLING: 5,
    Status.CANCELLED: 6,
}
FINISHED = (Status.COMPLETED, Status.CANCELLED)


def order_stream(order_id: uuid.UUID | str) -> str:
    return f"{ORDER_FAMILY}:{order_id}"


def order_place(
    *,
    user_id: int,
    category_id: int,
    quantity: int,
    idempotency_key: str,
    payment_method: str = "",
    seat_ids: Sequence[int] = (),
) -> Order:
    """Place an order and start its purchase saga (hold → intent → confirmation → capture →
    tickets). The same key returns the first order; with another category, quantity, method or
    seats it is refused (OrderKeyReused).

    The seats are held here, before the order exists, with the key of the saga's own hold
    step: the race for the last seats is decided now, and a buyer who lost it is refused at once
    (SoldOut, as are no such category, not on sale, too many seats, named seats taken or not the
    category's) instead of costing a saga that compensates. The saga's hold step then finds the
    hold by that key and goes on. A crash between the hold and the order's commit leaves a hold
    with no order: it expires with its time to live, as an abandoned one does."""
    seats = sorted(seat_ids)
    existing = selectors.order_by_key(user_id=user_id, idempotency_key=idempotency_key)
    if existing is not None:
        return _same_order(existing, category_id, quantity, payment_method, seats)
    order_id = uuid.uuid4()
    hold = holds.hold_place(
        user_id=user_id,
        category_id=category_id,
        quantity=quantity,
        key=saga_step_key(order_id, HOLD_STEP),
        seat_ids=seats,
    )
    try:
        return _order_create(order_id, hold, idempotency_key, payment_method, seats)
    except IntegrityError:
        _release_unless_ordered(order_id, hold)
        # The same key placed by a concurrent request that committed first.
        existing = selectors.order_by_key(user_id=user_id, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return _same_order(existing, category_id, quantity, payment_method, seats)
    except Exception:
        _release_unless_ordered(order_id, hold)
        raise


def _release_unless_ordered(order_id: uuid.UUID, hold: Hold) -> None:
    """The seats back now, not at the hold's expiry, when no order took them (a callback after
    the commit may fail too, and then the order and its saga have the hold)."""
    if not Order.objects.using(DB).filter(pk=order_id).exists():
        holds.hold_release(hold_id=hold.pk)


def _order_create(
    order_id: uuid.UUID, hold: Hold, idempotency_key: str, payment_method: str, seats: list[int]
) -> Order:
    """The order for a hold just placed, its first frame and its saga, in one transaction."""
    category = hold.category
    user_id, quantity = hold.user_id, hold.quantity
    with transaction.atomic(using=DB):
        order = Order.objects.using(DB).create(
            id=order_id,
            hold_id=hold.pk,
            user_id=user_id,
            category=category,
            quantity=quantity,
            seat_ids=seats,
            amount_cents=category.price_cents * quantity,
            currency=category.currency,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
        )
        # The buyer's live sockets join the order's stream, then its first frame, both before
        # the saga's hand-off: in embedded mode the saga runs in this commit's callbacks,
        # and its own frames must follow these.
        stream = order_stream(order.pk)
        transaction.on_commit(lambda: subscribe(user_id, stream), using=DB)
        _push_on_commit(order)
        _saga_start(PURCHASE, input={"order_id": str(order.pk)}, saga_id=order.pk)
        publish(
            OrderPlaced(
                aggregate_id=str(order.pk),
                order_id=str(order.pk),
                user_id=user_id,
                show_id=category.show_id,
                category_id=category.pk,
                quantity=quantity,
                amount=order.amount_cents,
                currency=order.currency,
            )
        )
    return order


def _same_order(
    order: Order, category_id: int, quantity: int, payment_method: str, seat_ids: list[int]
) -> Order:
    if (order.category_id, order.quantity, order.payment_method, sorted(order.seat_ids)) != (
        category_id,
        quantity,
        payment_method,
        seat_ids,
    ):
        raise OrderKeyReused()
    return order


def order_cancel(*, order_id: uuid.UUID, user_id: int) -> Order:
    """The buyer cancels: the saga compensates at its next step boundary (tickets voided, money
    back, seats released; frames follow). Cancelling a cancelled or cancelling order changes
    nothing; a completed one is refused (OrderNotCancellable)."""
    order = selectors.order_get(order_id=order_id, user_id=user_id)
    if order is None:
        raise OrderNotFound()
    if order.status == Status.COMPLETED:
        raise OrderNotCancellable(details={"status": order.status})
    if order.status in (Status.CANCELLING, Status.CANCELLED):
        return order
    if not saga_cancel(order.pk, reason="cancelled by the buyer", actor=f"user:{user_id}"):
        state = saga_get(order.pk).state
        if state == "completed":
            raise OrderNotCancellable(details={"status": Status.COMPLETED})
    return order


# Intent statuses in which the app still has to confirm: the client secret is given then only.
_TO_CONFIRM = ("requires_payment_method", "requires_confirmation", "requires_action")


def order_detail(order: Order) -> dict[str, Any]:
    """The order as its buyer sees it: with its saga's state and, once the intent exists, the
    payment (asked of payments, through its contract; the client secret only while the app has
    a payment to confirm)."""
    view = saga_get(order.pk)
    payment = None
    if order.payment_intent_id is not None:
        intent = client(PAYMENTS, PaymentsService).intent_get(
            IntentGet(intent_id=order.payment_intent_id)
        )
        payment = {
            "intent_id": intent.intent_id,
            "status": intent.status,
            "client_secret": intent.client_secret if intent.status in _TO_CONFIRM else None,
        }
    return {
        "id": order.pk,
        "status": order.status,
        "reason": order.reason,
        "saga_state": view.state,
        "saga_step": view.step,
        "show_id": order.category.show_id,
        "category_id": order.category_id,
        "quantity": order.quantity,
        "seat_ids": order.seat_ids,
        "amount_cents": order.amount_cents,
        "currency": order.currency,
        "stream": order_stream(order.pk),
        "payment": payment,
        "ticket_ids": selectors.order_ticket_ids(hold_id=order.hold_id)
        if order.status == Status.COMPLETED
        else [],
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


# --- Transitions made by the purchase saga's steps (inside the step's transaction) ----------
def order_advance(*, order_id: uuid.UUID, status: str, **fields: Any) -> Order:
    """Move the order to `status` (forward only) and record `fields` (hold_id,
    payment_intent_id, reason); the transition's frame leaves after commit."""
    with transaction.atomic(using=DB):
        order = selectors.order_lock(order_id=order_id)
        if order is None:
            raise OrderNotFound()
        changed = [name for name, value in fields.items() if getattr(order, name) != value]
        for name in changed:
            setattr(order, name, fields[name])
        if _RANK[Status(status)] > _RANK[Status(order.status)]:
            order.status = status
            changed.append("status")
            if status in FINISHED:
                order.finished_at = timezone.now()
                changed.append("finished_at")
        if changed:
            order.save(update_fields=[*changed, "updated_at"])
        if "status" in changed:  # a frame per transition (fields alone are not one)
            _push_on_commit(order)
    return order


def order_complete(*, order_id: uuid.UUID, ticket_ids: list[str]) -> Order:
    """Tickets issued and paid for: completed, and `OrderCompleted` for whoever tells the buyer."""
    with transaction.atomic(using=DB):
        before = selectors.order_lock(order_id=order_id)
        order = order_advance(order_id=order_id, status=Status.COMPLETED)
        if before is not None and before.status != Status.COMPLETED:
            publish(
                OrderCompleted(
                    aggregate_id=str(order.pk),
                    order_id=str(order.pk),
                    user_id=order.user_id,
                    show_id=order.category.show_id,
                    ticket_ids=ticket_ids,
                    amount=order.amount_cents,
                    currency=order.currency,
                )
            )
    return order


def order_cancelled(*, order_id: uuid.UUID, reason: str) -> Order:
    """Everything undone: cancelled, and `OrderCancelled` (once)."""
    with transaction.atomic(using=DB):
        before = selectors.order_lock(order_id=order_id)
        order = order_advance(order_id=order_id, status=Status.CANCELLED, reason=reason)
        if before is not None and before.status != Status.CANCELLED:
            publish(
                OrderCancelled(
                    aggregate_id=str(order.pk),
                    order_id=str(order.pk),
                    user_id=order.user_id,
                    show_id=order.category.show_id,
                    reason=reason,
                )
            )
    return order


def order_frame(order: Order) -> dict[str, Any]:
    """The `order.updated` payload (contracts.ticketing.frames.OrderUpdated)."""
    return {
        "order_id": str(order.pk),
        "status": order.status,
        "reason": order.reason,
        "payment_intent_id": order.payment_intent_id,
        "ticket_ids": (
            selectors.order_ticket_ids(hold_id=order.hold_id)
            if order.status == Status.COMPLETED
            else []
        ),
        "updated_at": (order.updated_at or timezone.now()).isoformat(),
    }


def _push_on_commit(order: Order) -> None:
    # The frame's data is taken now, inside the transaction that makes it true; it leaves only
    # if that commits (a frame is a fact the app acts on).
    data = order_frame(order)
    stream = order_stream(order.pk)
    transaction.on_commit(lambda: push(stream, ORDER_UPDATED, data), using=DB)
