"""Start the kernel's example checkout saga from a process of its own, as a context's service
would (test settings: the example contexts are installed).

    python -m tests.faults.saga_starter --url http://127.0.0.1:42001 --count 3 [--decline ship]

Each saga is started with its payment confirmation already signalled (in the same
transaction), so a worker runs it to the end without waiting. Prints the ids, one per line.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--decline", default="")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.tests.settings")
    import django

    django.setup()
    from django.db import transaction

    from cleave.sagas import saga_signal, saga_start
    from cleave.tests.example.orders.sagas import CHECKOUT

    for number in range(args.count):
        with transaction.atomic():
            saga_id = saga_start(
                CHECKOUT,
                input={"order_id": number, "effects_url": args.url, "decline": args.decline},
            )
            saga_signal(saga_id, "payment_confirmed", {"ok": True})
        print(saga_id)  # noqa: T201 - the caller reads it


if __name__ == "__main__":
    main()
