"""Who called whom and who consumed which events — observed in the metrics, beside what the
contracts declare; an edge seen at run time that no contract declares is flagged.

Observed edges come from Prometheus (`CLEAVE_PROMETHEUS_URL`: `increase()` over a window, every
process of every service) or, without it, from this process group's own counters since it
started. Declared edges come from the code: `client(CONTRACT, …)` calls in `apps/` (the same
reading as docs/contracts.md) and the deployment's event routing table.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

KERNEL = "kernel"  # the shared kernel's own calls (e.g. flags) are declared by the platform


@dataclass(frozen=True)
class Edge:
    kind: str  # "call" or "event"
    source: str  # calling context, or publishing context
    target: str  # called context, or consuming context
    detail: str  # call name, or event type
    observed: float  # calls or deliveries in the window (0: declared, not seen)
    declared: bool

    @property
    def flagged(self) -> bool:
        return self.observed > 0 and not self.declared


@dataclass(frozen=True)
class ContextMap:
    source: str  # where the observations came from
    window: str
    edges: list[Edge]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "window": self.window,
            "edges": [{**asdict(edge), "flagged": edge.flagged} for edge in self.edges],
            "flagged": sum(edge.flagged for edge in self.edges),
        }


def declared_calls() -> set[tuple[str, str]]:
    from cleave.contracts.docs import callers

    return callers()


def declared_events() -> set[tuple[str, str]]:
    """(event type, consuming context) from the routing table and this process's subscribers."""
    from cleave.events.routes import recorded
    from cleave.events.subscribers import subscribers

    pairs = {(event, context) for event, contexts in recorded().items() for context in contexts}
    pairs |= {(s.event.event_type, s.context) for s in subscribers.all()}
    return pairs


def observed_local() -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], float]]:
    """Counts since this process group started, from its own registry."""
    calls: dict[tuple[str, str, str], float] = defaultdict(float)
    events: dict[tuple[str, str], float] = defaultdict(float)
    for family in _counter_families():
        for sample in family.samples:
            if sample.name == "cleave_contract_calls_total":
                labels = sample.labels
                calls[(labels["caller"], labels["callee"], labels["call"])] += sample.value
            elif sample.name == "cleave_events_delivered_total":
                events[(sample.labels["event_type"], sample.labels["context"])] += sample.value
    return dict(calls), dict(events)


def _counter_families() -> list[Any]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # every process of the group
        return list(registry.collect())
    from cleave.observability import metrics

    return [*metrics.contract_calls.collect(), *metrics.events_delivered.collect()]


def observed_prometheus(
    url: str, window: str
) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], float]]:
    calls = {
        (m["caller"], m["callee"], m["call"]): value
        for m, value in _query(
            url, f"sum by (caller, callee, call) (increase(cleave_contract_calls_total[{window}]))"
        )
    }
    events = {
        (m["event_type"], m["context"]): value
        for m, value in _query(
            url, f"sum by (event_type, context) (increase(cleave_events_delivered_total[{window}]))"
        )
    }
    return calls, events


def _query(url: str, promql: str) -> list[tuple[dict[str, str], float]]:
    endpoint = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError("CLEAVE_PROMETHEUS_URL must be an http(s):// URL")
    with urllib.request.urlopen(endpoint, timeout=10) as response:  # noqa: S310 - checked above
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus answered {body.get('error', body)}")
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def build(window: str = "1h", prometheus_url: str | None = None) -> ContextMap:
    url = prometheus_url if prometheus_url is not None else settings.CLEAVE_PROMETHEUS_URL
    if url:
        calls, events = observed_prometheus(url, window)
        source = f"prometheus {url}"
    else:
        calls, events = observed_local()
        source, window = "this process group, since it started", "process lifetime"
    return assemble(source, window, calls, events, declared_calls(), declared_events())


def assemble(
    source: str,
    window: str,
    calls: dict[tuple[str, str, str], float],
    events: dict[tuple[str, str], float],
    calls_declared: set[tuple[str, str]],
    events_declared: set[tuple[str, str]],
) -> ContextMap:
    edges: list[Edge] = []
    seen_pairs = set()
    for (caller, callee, call), count in sorted(calls.items()):
        if count <= 0 or caller == callee:
            continue
        seen_pairs.add((caller, callee))
        declared = caller == KERNEL or (caller, callee) in calls_declared
        edges.append(Edge("call", caller, callee, call, count, declared))
    for caller, callee in sorted(calls_declared - seen_pairs):
        edges.append(Edge("call", caller, callee, "*", 0, True))
    for (event_type, context), count in sorted(events.items()):
        if count > 0:
            publisher = event_type.split(".", 1)[0]
            declared = (event_type, context) in events_declared
            edges.append(Edge("event", publisher, context, event_type, count, declared))
    observed_events = {(e.detail, e.target) for e in edges if e.kind == "event"}
    for event_type, context in sorted(events_declared - observed_events):
        edges.append(Edge("event", event_type.split(".", 1)[0], context, event_type, 0, True))
    return ContextMap(source, window, edges)


def render(context_map: ContextMap) -> str:
    lines = [f"Observed: {context_map.source} ({context_map.window})", ""]
    lines.append(f"{'kind':<6} {'from':<14} {'to':<14} {'what':<34} {'seen':>8}  declared")
    for edge in context_map.edges:
        mark = "yes" if edge.declared else "NO  <- not in the contracts"
        lines.append(
            f"{edge.kind:<6} {edge.source:<14} {edge.target:<14} {edge.detail:<34} "
            f"{edge.observed:>8.0f}  {mark}"
        )
    flagged = sum(edge.flagged for edge in context_map.edges)
    lines += ["", f"{flagged} edge(s) seen at run time but not declared."]
    return "\n".join(lines)
