"""One process of the cross-process coalescing test: `python -m
apps.recommendations.tests.stampede_process <key> <start at (unix time)> <threads>`.

At the start time every thread asks the layered cache for `key` with a slow computation and
prints one JSON line: the value it got and where it came from."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    django.setup()
    from apps.recommendations.services.cache import layered

    key, start_at, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])

    def compute() -> dict[str, int]:
        time.sleep(0.5)  # slow enough that every other caller misses meanwhile
        return {"pid": os.getpid()}

    def ask() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        entry, source = layered.fetch(key, compute)
        sys.stdout.write(json.dumps({"value": entry.value, "source": source}) + "\n")
        sys.stdout.flush()

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
