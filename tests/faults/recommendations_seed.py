"""Put shows and tickets into recommendations' read models from a process with Cleave's real
settings, as ticketing's events would (apps.recommendations.tests.factories: published through
the outbox, applied through the kernel's inbox).

    python -m tests.faults.recommendations_seed 5001 5002 7:5001

A number is a show, starting in a week in Paris; `<user>:<show>` is a ticket of that user for
that show. Prints one JSON line: the cell, the show ids and the tickets.
"""

from __future__ import annotations

import json
import os
import sys


def main(args: list[str]) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    import django

    django.setup()
    from apps.recommendations.tests import factories

    shows = [int(arg) for arg in args if ":" not in arg]
    tickets = [tuple(map(int, arg.split(":"))) for arg in args if ":" in arg]
    for show_id in shows:
        factories.show(show_id=show_id, at=factories.PARIS)
    for user_id, show_id in tickets:
        factories.ticket(user_id=user_id, show_id=show_id)
    return {"cell": factories.cell_at(factories.PARIS), "shows": shows, "tickets": tickets}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))  # noqa: T201 - the output
