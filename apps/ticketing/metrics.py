"""ticketing's own Prometheus metrics, exported by /metrics with the kernel's (which live in
cleave.observability.metrics and name no context): how the on-sale's holds are written.
docs/operations.md says what to watch."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

holds_written = Counter(
    "cleave_ticketing_holds_written_total",
    "Holds written, by how: batched (in a lane's batch statement) or alone (a statement of its "
    "own: a quiet lane, a numbered category, no Redis, or a fallback).",
    ["how"],
)
hold_batch_holds = Histogram(
    "cleave_ticketing_hold_batch_holds",
    "Holds written by one batch statement (its depth).",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
)
hold_batch_fallbacks = Counter(
    "cleave_ticketing_hold_batch_fallbacks_total",
    "Holds that went to a lane's batches and were then written alone, by reason: no_room (no "
    "unlocked shard had room: a category selling out), database (the batch failed), redis "
    "(Redis failed), timeout (no answer within the wait), stale (the request outlived the wait).",
    ["reason"],
)
