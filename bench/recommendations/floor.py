"""The floor of the surge benchmark: a WSGI app that spends a set CPU time per request and
answers fixed bytes, served by the Procfile's `web` line (granian, the same workers and threads)
in place of cleave.wsgi. No Django, no cache, no Redis: what this machine's server, scheduler
and generator allow for a request of that cost at those rates (bench/recommendations/run.py).

    CLEAVE_FLOOR_SPIN_US   the CPU time per request, in µs (busy, holding the GIL as Python
                           code does)
    CLEAVE_FLOOR_BODY      a file holding the body to answer (a real answer of the benchmark)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SPIN_SECONDS = float(os.environ.get("CLEAVE_FLOOR_SPIN_US", "0")) / 1e6
BODY = (
    Path(os.environ["CLEAVE_FLOOR_BODY"]).read_bytes()
    if "CLEAVE_FLOOR_BODY" in os.environ
    else b"{}"
)
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    # Busy, not asleep: a request's work in the real app is CPU under the GIL.
    until = time.thread_time() + SPIN_SECONDS
    while time.thread_time() < until:
        pass
    start_response("200 OK", HEADERS)
    return [BODY]
