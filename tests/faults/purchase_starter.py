"""Drive ticketing's purchase from a process of its own, as the API and the buyer's app would
(real settings: ticketing and payments installed, payments pointed at the fake Stripe server).

    python -m tests.faults.purchase_starter seed                        → a category id
    python -m tests.faults.purchase_starter place CATEGORY [--method M] → an order id
    python -m tests.faults.purchase_starter confirm ORDER [--method M]  → the intent's status
    python -m tests.faults.purchase_starter expire ORDER                → holds expired (n)
    python -m tests.faults.purchase_starter state ORDER                 → JSON (below)

`confirm` is what the app's SDK does with the client secret (payments' test-mode confirmation);
payments publishes PaymentAuthorized, which reaches ticketing's worker. `expire` makes the
order's hold lapse and sweeps it, so a payment landing afterwards cannot become tickets: the
saga's later step fails and every compensation runs. `state` prints the order, its saga, its
tickets and hold, and the category's counters.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed", "place", "confirm", "expire", "state"])
    parser.add_argument("target", nargs="?", default="")
    parser.add_argument("--method", default="")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    import django

    django.setup()
    print(_run(args.command, args.target, args.method))  # noqa: T201 - the caller reads it


def _run(command: str, target: str, method: str) -> str:
    from django.utils import timezone

    from apps.payments.services import intents
    from apps.ticketing import selectors
    from apps.ticketing.models import Hold, Order, SeatCategory, Ticket
    from apps.ticketing.services import holds, orders, shows
    from cleave.sagas import saga_get

    if command == "seed":
        venue = shows.venue_create(name="Fault Hall", city="Lyon", latitude=45.76, longitude=4.83)
        starts = timezone.now() + timedelta(days=30)
        ends = starts + timedelta(hours=2)
        show = shows.show_create(venue_id=venue.pk, title="Kill -9", starts_at=starts, ends_at=ends)
        category = shows.category_add(show_id=show.pk, name="Pit", capacity=1000, price_cents=4500)
        shows.show_publish(show_id=show.pk)
        return str(category.pk)
    if command == "place":
        order = orders.order_place(
            user_id=7, category_id=int(target), quantity=2, payment_method=method,
            idempotency_key=str(uuid.uuid4()),
        )  # fmt: skip
        return str(order.pk)
    order = Order.objects.get(pk=uuid.UUID(target))
    if command == "confirm":
        assert order.payment_intent_id is not None, "no intent yet"
        intent = intents.intent_confirm(
            intent_id=order.payment_intent_id, idempotency_key=f"app-confirm:{order.pk}",
            payment_method=method or "pm_card_visa",
        )  # fmt: skip
        return intent.status
    if command == "expire":
        Hold.objects.filter(pk=Hold.id_for_key(f"{order.pk}:hold")).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        return str(holds.holds_expire())
    hold = selectors.hold_by_key(key=f"{order.pk}:hold")
    category = SeatCategory.objects.get(pk=order.category_id)
    return json.dumps(
        {
            "order": order.status,
            "reason": order.reason,
            "saga": saga_get(order.pk).state,
            "tickets_valid": Ticket.objects.filter(order_ref=str(order.pk), status="valid").count(),
            "hold": hold.status if hold else None,
            "available": selectors.category_available(category_id=category.pk),
            "violations": selectors.invariant_violations(category_id=category.pk),
            "intent_id": order.payment_intent_id,
        }
    )


if __name__ == "__main__":
    main()
