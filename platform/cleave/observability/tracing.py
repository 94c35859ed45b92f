"""OpenTelemetry tracing: configured from the standard environment, nothing when it is unset.

Tracing is on when an exporter is configured — `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or `CLEAVE_TRACE_FILE` (JSON lines, for tests and local
debugging) — and `OTEL_TRACES_EXPORTER` is not `none`. Then the maintained instrumentations
(psycopg, redis, Celery, httpx) are installed, with our own lean server-span middleware for
Django (`CLEAVE_TRACING_DJANGO=maintained` uses opentelemetry-instrumentation-django instead;
see `_instrument` for why it is not the default) and the SDK samples per
`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (parent-based ratio recommended). Off, no
instrumentation is installed and our own spans go to OpenTelemetry's no-op tracer, so the cost
is a function call per span.

Context crosses every boundary as W3C trace context: HTTP requests in (Django) and out (httpx,
so contract calls over HTTP), the outbox row (`headers["traceparent"]`, read by the consumer),
and stream frames (`trace_id`/`span_id`, read by the fan-out and quotable by apps).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cleave.observability import traceparent

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("cleave")
_propagator = TraceContextTextMapPropagator()
_configured = False
_lock = threading.Lock()
MAX_LINKS = 32


def enabled_by(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("CLEAVE_TRACE_FILE")
    )


def configure_from_env(service_name: str) -> bool:
    """Install tracing if the environment asks for it; once per process. True if on."""
    if not enabled_by(os.environ):
        return False
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SimpleSpanProcessor,
        SpanProcessor,
    )

    processors: list[SpanProcessor] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if os.environ.get("CLEAVE_TRACE_FILE"):
        processors.append(SimpleSpanProcessor(_file_exporter(os.environ["CLEAVE_TRACE_FILE"])))
    return configure(service_name, processors)


def configure(service_name: str, processors: Sequence[Any]) -> bool:
    """Install the SDK tracer provider with `processors` and the instrumentations."""
    global _configured  # one tracer provider per process
    with _lock:
        if _configured:
            return True
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}
        )
        # Sampler from OTEL_TRACES_SAMPLER; trace ids may be chosen ahead (see root_sampled).
        provider = TracerProvider(resource=resource, id_generator=_PresetTraceIds())
        for processor in processors:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _set_root_bound(os.environ)
        _instrument()
        _configured = True
    return True


def _instrument() -> None:
    from django.conf import settings
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    if os.environ.get("CLEAVE_TRACING_DJANGO", "lean") == "maintained":
        before = list(settings.MIDDLEWARE)
        DjangoInstrumentor().instrument()
        # The instrumentor adds its middleware to MIDDLEWARE; the lean API stack (cleave.wsgi)
        # is a separate list and needs it too.
        added = [path for path in settings.MIDDLEWARE if path not in before]
    else:
        # Measured (bench/observability): the maintained Django middleware spends ~150 µs on
        # every request, sampled or not (a second URL resolve, WSGI attribute collection),
        # which cost 37 % of GET /api/v1/me's throughput at 1 % sampling. Ours starts the
        # server span from the incoming traceparent and fills it in only when it is recorded.
        added = ["cleave.observability.http.TracingMiddleware"]
        settings.MIDDLEWARE = [*added, *settings.MIDDLEWARE]
    settings.CLEAVE_API_MIDDLEWARE = [*added, *settings.CLEAVE_API_MIDDLEWARE]
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()


def _file_exporter(path: str) -> Any:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    return ConsoleSpanExporter(
        out=_AppendedLines(path),  # type: ignore[arg-type]  # it uses write() and flush() only
        formatter=lambda span: json.dumps(json.loads(span.to_json())) + "\n",
    )


class _AppendedLines:
    """One span, one write(2) on an O_APPEND descriptor, so the processes that share the file
    never interleave their lines. A text file object would not do: it splits a line longer than
    its buffer (a span with many attributes) into several writes, and another process's span
    lands between them."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, text: str) -> int:
        data = text.encode()
        os.write(self._fd, data)  # one call: a regular file takes the whole line at once
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


# --- cheap unsampled roots ----------------------------------------------------------------------
# The SDK spends ~13 µs creating even a span it will not record. For a request that starts a
# trace under a ratio sampler, the server middleware draws the trace id itself and applies the
# same rule as the SDK's TraceIdRatioBased (the low 64 bits under a bound): unsampled, it only
# sets a non-recording context (children follow it, as ParentBased would); sampled, it hands the
# id to the SDK (below), whose sampler then reaches the same decision on the same id.
_preset_trace_id: ContextVar[int | None] = ContextVar("cleave_preset_trace_id", default=None)
_root_bound: int | None = None  # sampled iff trace_id & 2**64-1 < bound; None: the SDK decides


def _root_rate(env: Mapping[str, str]) -> float | None:
    """The ratio at which new traces are sampled, when the sampler is a (parent-based) ratio,
    always-on or always-off one; None for anything else (the SDK then decides alone)."""
    name = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if name in {"always_on", "parentbased_always_on"}:
        return 1.0
    if name in {"always_off", "parentbased_always_off"}:
        return 0.0
    if name in {"traceidratio", "parentbased_traceidratio"}:
        try:
            return min(max(float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")), 0.0), 1.0)
        except ValueError:
            return 1.0  # what the SDK does with a bad argument
    return None


def new_root_trace() -> int | None:
    """A trace id for a new root span if it is to be sampled, else None (see above)."""
    trace_id = random.getrandbits(128)  # as the SDK's RandomIdGenerator draws them
    if _root_bound is None or trace_id & 0xFFFFFFFFFFFFFFFF < _root_bound:
        return trace_id
    return None


def _set_root_bound(env: Mapping[str, str]) -> None:
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    global _root_bound  # fixed once, when tracing is configured
    rate = _root_rate(env)
    _root_bound = None if rate is None else TraceIdRatioBased.get_bound_for_rate(rate)


@contextmanager
def preset_trace_id(trace_id: int) -> Iterator[None]:
    token = _preset_trace_id.set(trace_id)
    try:
        yield
    finally:
        _preset_trace_id.reset(token)


_UNSAMPLED = TraceFlags(0)


def unsampled_root() -> otel_context.Context:
    # Valid ids, unsampled: children follow this parent (as ParentBased does), recording nothing.
    span_context = SpanContext(
        random.getrandbits(128), random.getrandbits(64), is_remote=False, trace_flags=_UNSAMPLED
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


def _preset_generator_base() -> type:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    return RandomIdGenerator


# The base comes from a call (the SDK is imported lazily), which mypy cannot type as a class.
class _PresetTraceIds(_preset_generator_base()):  # type: ignore[misc]
    def generate_trace_id(self) -> int:
        preset = _preset_trace_id.get()
        return preset if preset is not None else int(super().generate_trace_id())


# --- carrying context -------------------------------------------------------------------------
def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the current span, if it is being recorded."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"


def inject() -> dict[str, str]:
    """The current context as W3C headers: the current span's, else the app's incoming
    `traceparent` passed on as it came (tracing off), else {}."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        _propagator.inject(carrier)
        return carrier
    return traceparent.headers()


def extracted(headers: Mapping[str, Any] | None) -> SpanContext | None:
    """The span context stored in `headers` (an outbox row's), if any."""
    if not headers or "traceparent" not in headers:
        return None
    ctx = _propagator.extract({"traceparent": str(headers["traceparent"])})
    span_context = trace.get_current_span(ctx).get_span_context()
    return span_context if span_context.is_valid else None


def remote_context(trace_id: str, span_id: str) -> SpanContext | None:
    try:
        span_context = SpanContext(
            int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(1)
        )
    except (TypeError, ValueError):
        return None
    return span_context if span_context.is_valid else None


@contextmanager
def span_from(
    name: str,
    parent: SpanContext | None,
    *,
    links: Sequence[SpanContext] = (),
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """A span whose parent is `parent` (a context carried across a process or a queue), linked
    to it and to `links` too — so it is in the publisher's trace and marked as asynchronous."""
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent else None
    all_links = [Link(parent)] if parent else []
    all_links += [Link(link) for link in links[:MAX_LINKS] if link != parent]
    token = otel_context.attach(ctx) if ctx is not None else None
    try:
        with tracer.start_as_current_span(
            name, kind=kind, links=all_links, attributes=dict(attributes or {})
        ) as span:
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)


def connection_span(scope: dict[str, Any]) -> trace.Span:
    """The socket's span, from the handshake to the close; continues the app's trace when the
    handshake carried a `traceparent` header."""
    headers = {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope.get("headers", [])
        if key in (b"traceparent", b"tracestate")
    }
    parent = extracted(headers)
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent else None
    return tracer.start_span(
        "ws connection", context=ctx, kind=SpanKind.SERVER, attributes={"cleave.ws.path": "/ws/v1"}
    )


class TraceLogFilter(logging.Filter):
    """Adds `trace_id` and `span_id` to every log record: the recorded span's, else the app's
    incoming trace id (with no span of ours, span_id "-"), else "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            ids = current_ids()
            record.trace_id, record.span_id = ids if ids else (traceparent.trace_id() or "-", "-")
        return True
