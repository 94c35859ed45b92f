"""Request metrics, labelled by owning context and route template; and the /metrics view."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.http import HttpRequest, HttpResponse
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from cleave.observability import metrics
from cleave.observability.collectors import EventBusCollector, ProjectionLagCollector

UNMATCHED = "unmatched"  # no route matched (404): never the raw path, which is unbounded


class _RouteOwners:
    """Which context owns a route template, worked out once per template."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._api: dict[str, str] | None = None
        self._lock = threading.Lock()

    def owner(self, route: str) -> str:
        owner = self._owners.get(route)
        if owner is None:
            owner = self._owners[route] = self._find(route)
        return owner

    def _find(self, route: str) -> str:
        from cleave.remote.server import PREFIX as INTERNAL
        from cleave.route_owners import KERNEL, api_routes, route_shape

        if route.startswith(INTERNAL):
            return route.removeprefix(INTERNAL).split("/", 1)[0] or KERNEL
        if not route.startswith("api/v1/"):
            return KERNEL
        with self._lock:
            if self._api is None:
                self._api = {route_shape(path): owner for path, owner in api_routes()}
        return self._api.get(route_shape(route.removeprefix("api/v1/")), KERNEL)


route_owners = _RouteOwners()


class MetricsMiddleware:
    """Counts and times every request, by (context, route template, method, status)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = match.route if match is not None else UNMATCHED
        context = route_owners.owner(route) if match is not None else "kernel"
        method = request.method if request.method in _METHODS else "OTHER"
        key = (context, route, method, response.status_code)
        children = _children.get(key)
        if children is None:  # labels() validates and locks each time: look each pair up once
            children = _children[key] = (
                metrics.http_requests.labels(context, route, method, str(response.status_code)),
                metrics.http_duration.labels(context, route, method),
            )
        children[0].inc()
        children[1].observe(elapsed)
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# (context, route, method, status) → its counter and histogram children; bounded like the labels.
_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}


class TracingMiddleware:
    """The server span of each request: continues the client's `traceparent` (W3C) or starts a
    trace; named and described (route template, status) only when it is being recorded, so an
    unsampled request costs a context extraction and a no-op span."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        from cleave.observability import tracing

        self.get_response = get_response
        self._tracing = tracing
        self._tracer = tracing.tracer
        self._propagator = TraceContextTextMapPropagator()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tracing = self._tracing
        meta = request.META
        parent = None
        preset = nullcontext()
        if "HTTP_TRACEPARENT" in meta:
            carrier = {"traceparent": meta["HTTP_TRACEPARENT"]}
            if "HTTP_TRACESTATE" in meta:
                carrier["tracestate"] = meta["HTTP_TRACESTATE"]
            parent = self._propagator.extract(carrier)
        else:
            trace_id = tracing.new_root_trace()
            if trace_id is None:  # not sampled: a non-recording context, no SDK span at all
                token = otel_context.attach(tracing.unsampled_root())
                try:
                    return self.get_response(request)
                finally:
                    otel_context.detach(token)
            preset = tracing.preset_trace_id(trace_id)
        method = request.method if request.method in _METHODS else "OTHER"
        with (
            preset,
            self._tracer.start_as_current_span(
                method, context=parent, kind=SpanKind.SERVER, record_exception=False
            ) as span,
        ):
            response = self.get_response(request)
            if span.is_recording():
                match = request.resolver_match
                route = match.route if match is not None else UNMATCHED
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "url.path": request.path,
                        "http.response.status_code": response.status_code,
                        "cleave.context": route_owners.owner(route) if match else "kernel",
                        "cleave.request_id": getattr(request, "request_id", "-"),
                    }
                )
                if response.status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
        return response


_scrape: CollectorRegistry | None = None
_scrape_lock = threading.Lock()


def scrape_registry(*, event_bus: bool = True) -> CollectorRegistry:
    """What /metrics serves: this process group's metrics (summed over its processes in
    multiprocess mode) and, with `event_bus`, the backlog gauges read from the database."""
    global _scrape  # built once per process
    if _scrape is not None:
        return _scrape
    with _scrape_lock:
        if _scrape is None:
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                registry = CollectorRegistry()
                multiprocess.MultiProcessCollector(registry)
            else:
                registry = REGISTRY
            if event_bus:
                registry.register(EventBusCollector())
                registry.register(ProjectionLagCollector())
            _scrape = registry
    return _scrape


def exposition() -> bytes:
    """The /metrics body. Gauges that only change on use (readiness: when /readyz runs; a
    breaker: when a call tries it) are brought up to date first, so an idle process does not
    report a stale "not ready" or "open" for ever."""
    from cleave import health
    from cleave.remote import breakers

    health.run_checks()
    breakers.refresh_gauges()
    return generate_latest(scrape_registry(event_bus=_event_bus_here()))


def _event_bus_here() -> bool:
    # A process sharing another's database (realtime beside messaging) leaves the backlog
    # gauges to that one, or every alert on them would fire twice.
    return os.environ.get("CLEAVE_METRICS_EVENT_BUS", "true").lower() not in {"0", "false", "no"}


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics through Django (the test client); real servers answer it in cleave.wsgi."""
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def metrics_wsgi(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
    """GET /metrics before any middleware: Prometheus scrapes a pod by its IP, which is not in
    ALLOWED_HOSTS, and the gateway never routes this path."""
    body = exposition()
    start_response(
        "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))]
    )
    return [body]
