"""Every Prometheus metric Cleave exports, in one place: names, help and bounded labels.

Labels never carry raw paths, ids or user input: routes are URL templates, contexts and calls
come from the contracts, event types and subscribers from code, flag names from operators, and
frame types from the documented set (anything else is "other").

With several processes behind one port (granian workers, Celery's prefork pool) set
`PROMETHEUS_MULTIPROC_DIR` to an empty folder per process group before it starts (the Procfile
does): prometheus_client then keeps each process's values in files there and /metrics sums
them. Without it (embedded mode, one process) values live in memory.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds. Loopback contract calls sit around a millisecond; requests and deliveries in tens.
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# --- HTTP --------------------------------------------------------------------------------------
http_requests = Counter(
    "cleave_http_requests_total",
    "HTTP requests answered, by owning context, route template, method and status.",
    ["context", "route", "method", "status"],
)
http_duration = Histogram(
    "cleave_http_request_duration_seconds",
    "Time to answer an HTTP request, by owning context and route template.",
    ["context", "route", "method"],
    buckets=_FAST,
)
throttled = Counter(
    "cleave_throttled_total",
    "Requests refused with 429 by a rate limit, by limit scope.",
    ["scope"],
)
auth_delayed = Counter(
    "cleave_auth_delayed_total",
    "Sign-in and password-reset attempts slowed down (not refused) because their account saw "
    "more than CLEAVE_AUTH_ACCOUNT_FAILURES_PER_HOUR failures within an hour, by scope.",
    ["scope"],
)
readiness = Gauge(
    "cleave_ready",
    "1 when the last /readyz check of a dependency passed, 0 when it failed.",
    ["check"],
    multiprocess_mode="livemin",
)

# --- Contracts ---------------------------------------------------------------------------------
contract_calls = Counter(
    "cleave_contract_calls_total",
    "Contract calls, by calling and called context, call, transport and outcome "
    "(ok, typed_error, unavailable, failed).",
    ["caller", "callee", "call", "transport", "outcome"],
)
contract_duration = Histogram(
    "cleave_contract_call_duration_seconds",
    "Time of a contract call as the caller saw it (retries included).",
    ["caller", "callee", "call", "transport"],
    buckets=_FAST,
)
contract_retries = Counter(
    "cleave_contract_retries_total",
    "Retries of idempotent remote calls after the target failed.",
    ["callee", "call"],
)
breaker_state = Gauge(
    "cleave_breaker_state",
    "Circuit breaker per target context: 0 closed, 1 half-open, 2 open.",
    ["target"],
    multiprocess_mode="livemax",
)
breaker_opens = Counter(
    "cleave_breaker_opens_total",
    "Times a target context's circuit breaker opened.",
    ["target"],
)

# --- Events ------------------------------------------------------------------------------------
events_published = Counter(
    "cleave_events_published_total",
    "Events written to the outbox, by publishing context and event type.",
    ["context", "event_type"],
)
events_delivered = Counter(
    "cleave_events_delivered_total",
    "Events applied by a subscriber, by consuming context, subscriber and event type.",
    ["context", "subscriber", "event_type"],
)
events_retried = Counter(
    "cleave_events_retried_total",
    "Failed deliveries scheduled for another attempt.",
    ["context", "subscriber", "event_type"],
)
events_dead_lettered = Counter(
    "cleave_events_dead_lettered_total",
    "Deliveries given up (dead letters).",
    ["context", "subscriber", "event_type"],
)
events_arrived_late = Counter(
    "cleave_events_arrived_late_total",
    "Events that arrived after later events of their aggregate were applied, parked.",
    ["context", "subscriber", "event_type"],
)
events_hold_timeouts = Counter(
    "cleave_events_hold_timeouts_total",
    "Streams that gave up waiting for a missing earlier event (the hold timed out).",
    ["context", "subscriber"],
)
inbox_duplicates = Counter(
    "cleave_events_inbox_duplicates_total",
    "Redelivered events the inbox absorbed (already applied), by subscriber.",
    ["context", "subscriber"],
)
relay_handoffs = Counter(
    "cleave_events_relayed_total",
    "Events handed from the outbox to a consuming context's queue.",
    ["context"],
)
event_delivery_duration = Histogram(
    "cleave_event_delivery_duration_seconds",
    "Time a subscriber took to apply a delivery (a batch counts once).",
    ["context", "subscriber"],
    buckets=_FAST,
)
# Read from the database when /metrics is scraped (see cleave.observability.collectors):
# cleave_outbox_lag_seconds{database}, cleave_outbox_pending{database},
# cleave_events_dead_letters{database}, cleave_events_parked{database},
# cleave_events_held{database}, cleave_events_oldest_hold_seconds{database}.

# --- Sagas (cleave.sagas): labels are saga and step names from code -------------------------
sagas_started = Counter("cleave_sagas_started_total", "Sagas started, by saga type.", ["saga"])
sagas_completed = Counter(
    "cleave_sagas_completed_total", "Sagas whose every step completed, by saga type.", ["saga"]
)
sagas_compensated = Counter(
    "cleave_sagas_compensated_total",
    "Sagas undone to the end, by saga type and reason (declined, failed, timeout, cancelled, "
    "operator).",
    ["saga", "reason"],
)
sagas_stuck = Counter(
    "cleave_sagas_stuck_total",
    "Sagas found past a step's deadline (then compensated), by saga type and step.",
    ["saga", "step"],
)
sagas_failed = Counter(
    "cleave_sagas_failed_total",
    "Sagas whose compensation gave up after its tries (an operator must act), by saga type and "
    "step.",
    ["saga", "step"],
)
saga_steps = Counter(
    "cleave_saga_steps_total",
    "Tries of saga steps, by saga type, step, phase (action, compensation) and outcome (done, "
    "retried, failed).",
    ["saga", "step", "phase", "outcome"],
)
saga_step_duration = Histogram(
    "cleave_saga_step_duration_seconds",
    "Time of one try of a saga step (its action or compensation and its bookkeeping).",
    ["saga", "step", "phase"],
    buckets=_FAST,
)

# --- Realtime ----------------------------------------------------------------------------------
sockets_open = Gauge(
    "cleave_ws_open_sockets",
    "WebSockets open on this process group.",
    multiprocess_mode="livesum",
)
frames = Counter(
    "cleave_ws_frames_total",
    "WebSocket frames, by direction (in, out) and frame type.",
    ["direction", "type"],
)
fanout_duration = Histogram(
    "cleave_ws_fanout_duration_seconds",
    "Time to hand one stream event to every local socket on it, by stream family.",
    ["family"],
    buckets=_FAST,
)
resumes = Counter(
    "cleave_ws_resumes_total",
    "Stream resumes after a reconnect, by outcome (recovered, resync_required).",
    ["outcome"],
)

# --- Flags -------------------------------------------------------------------------------------
flag_evaluations = Counter(
    "cleave_flag_evaluations_total",
    "Flag evaluations, by flag and reason (STATIC, TARGETING_MATCH, SPLIT, DISABLED, DEFAULT, "
    "ERROR).",
    ["flag", "reason"],
)

# The frame types a client may send or receive; anything else is counted as "other".
FRAME_TYPES = frozenset(
    {
        "auth", "ready", "ping", "pong", "subscribe", "unsubscribe", "resume", "resumed",
        "typing", "presence", "event", "ack", "error", "message.send", "resync_required",
    }
)  # fmt: skip


def frame_type(kind: object) -> str:
    return kind if isinstance(kind, str) and kind in FRAME_TYPES else "other"
