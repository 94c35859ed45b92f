"""The dashboard and alerts in deploy/observability/ query only metrics Cleave exports.

A panel or an alert on a misspelled, renamed or removed metric does not fail: it shows nothing
and never fires. These tests make it fail here instead. Every PromQL expression of the Grafana
dashboard and the alerting rules is tokenized; each series it names must be one that
`cleave.observability.metrics` declares (or a scrape-time gauge, or Prometheus's `up`), used
the way its type allows (counters and histogram buckets under rate/increase, buckets under
histogram_quantile by `le`, gauges never under rate), with declared label names. When
`promtool` is installed (CI installs Debian's `prometheus`) the rules, their unit tests, the
scrape configs and the dashboard's queries are also checked by Prometheus's own parser.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from cleave.observability import metrics

ROOT = Path(__file__).resolve().parents[3]
ASSETS = ROOT / "deploy" / "observability"
DASHBOARD = ASSETS / "grafana-dashboard.json"
RULES = ASSETS / "alerts.yml"
RULE_TESTS = ASSETS / "alerts.test.yml"
SCRAPE_CONFIG = ASSETS / "prometheus.yml"
RUNBOOKS = (ROOT / "docs" / "operations.md",)

# Gauges read from the database at scrape time, not declared in metrics.py: they are built by
# cleave/observability/collectors.py (EventBusCollector). Keep this list in step with it
# (test_scrape_time_gauges_are_what_the_collector_yields checks that).
SCRAPE_TIME_GAUGES = {
    "cleave_outbox_lag_seconds": ("database",),
    "cleave_outbox_pending": ("database",),
    "cleave_events_dead_letters": ("database",),
    "cleave_events_parked": ("database",),
    "cleave_events_held": ("database",),
    "cleave_events_oldest_hold_seconds": ("database",),
}
# …and ProjectionLagCollector's, per event-store projection.
PROJECTION_GAUGES = {
    "cleave_projection_lag_events": ("projection",),
    "cleave_projection_lag_seconds": ("projection",),
    "cleave_projection_parked": ("projection",),
}
# Labels Prometheus attaches to every scraped series: its own, and those deploy/observability's
# scrape configs add (prometheus.yml, prometheus-kubernetes.yml).
TARGET_LABELS = ("job", "instance", "process", "namespace", "pod")
UNDER_RATE = ("rate(", "increase(")  # irate( ends with rate( too
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def declared_series() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every series name Cleave exports → (kind, label names): `_bucket` for a histogram's
    buckets, `counter` for counters and histogram sums and counts, `gauge` otherwise."""
    series: dict[str, tuple[str, tuple[str, ...]]] = {"up": ("gauge", ())}
    series |= {name: ("gauge", labels) for name, labels in SCRAPE_TIME_GAUGES.items()}
    series |= {name: ("gauge", labels) for name, labels in PROJECTION_GAUGES.items()}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        labels = tuple(value._labelnames)
        assert value._type is not None, value  # every metric class declares its type
        for suffix in SUFFIXES[value._type]:
            if suffix == "_bucket":
                series[value._name + suffix] = ("_bucket", (*labels, "le"))
            else:
                kind = "gauge" if value._type == "gauge" else "counter"
                series[value._name + suffix] = (kind, labels)
    return series


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# An identifier that is not a function call, a duration (5m) or a Grafana variable ($context).
_NAME = re.compile(r"(?<![\w:$])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def metric_names(expr: str) -> list[str]:
    """The series an expression reads: `cleave_*` names and `up`, in order."""
    code = _STRING.sub('""', expr)
    return [
        m.group()
        for m in _NAME.finditer(code)
        if m.group().startswith("cleave_") or m.group() == "up"
    ]


def problems(expr: str) -> list[str]:
    """What is wrong with the series an expression reads; empty when nothing is."""
    declared = declared_series()
    code = _STRING.sub('""', expr)
    found: list[str] = []
    for match in _NAME.finditer(code):
        name = match.group()
        if not (name.startswith("cleave_") or name == "up"):
            continue
        if name not in declared:
            found.append(f"{name} is not declared in cleave.observability.metrics")
            continue
        kind, labels = declared[name]
        under_rate = code[: match.start()].rstrip().endswith(UNDER_RATE)
        if kind in ("counter", "_bucket") and not under_rate:
            found.append(f"{name} is a counter: read it through rate() or increase()")
        if kind == "gauge" and under_rate:
            found.append(f"{name} is a gauge: rate() and increase() are for counters")
        if kind == "_bucket" and not (
            "histogram_quantile(" in code
            and any("le" in _split(group) for group in _GROUPING.findall(code))
        ):
            found.append(f"{name} needs histogram_quantile(…, sum by (le, …) (rate(…)))")
        selector = re.match(r"\s*\{([^}]*)\}", code[match.end() :])
        for label in _MATCHER.findall(selector.group(1) if selector else ""):
            if label not in (*labels, *TARGET_LABELS):
                found.append(f"{name} has no label {label!r} (it has {', '.join(labels)})")
    return found


def _split(group: str) -> list[str]:
    return [label.strip() for label in group.split(",")]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def dashboard_queries() -> dict[str, str]:
    """Every PromQL query of the dashboard's panels, by panel title and query id."""
    return {
        f"{panel['title']!r} {target['refId']}": target["expr"]
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    }


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


# --- The checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        ("rate(cleave_http_request_total[5m])", "not declared"),
        ("sum(rate(cleave_http_requests[5m]))", "not declared"),  # a counter's family name
        ('cleave_ready_total{check="database"} == 0', "not declared"),
        ("sum by (context) (cleave_http_requests_total)", "through rate()"),
        ("rate(cleave_ready[5m])", "is a gauge"),
        (
            "histogram_quantile(0.99, sum by (route) "
            "(rate(cleave_http_request_duration_seconds_bucket[5m])))",
            "histogram_quantile",
        ),
        ('rate(cleave_http_requests_total{contxt="identity"}[5m])', "no label 'contxt'"),
        ('up{jbo="cleave"} == 0', "no label 'jbo'"),
    ],
)
def test_the_checker_catches_a_wrong_expression(expr: str, complaint: str) -> None:
    assert any(complaint in problem for problem in problems(expr)), problems(expr)


def test_the_checker_reads_names_past_strings_durations_and_variables() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, context) (rate(cleave_http_request_duration_seconds"
        '_bucket{context="$context", route!~"cleave_not_a_metric"}[$__rate_interval])))'
        " > 1 and sum by (context) (rate(cleave_http_requests_total[5m] offset 1h)) > 0.1"
        " or max by (job) (cleave_outbox_lag_seconds) > 60 or up == 0"
    )
    assert metric_names(expr) == [
        "cleave_http_request_duration_seconds_bucket",
        "cleave_http_requests_total",
        "cleave_outbox_lag_seconds",
        "up",
    ]
    assert problems(expr) == []


# --- The dashboard and the rules ---------------------------------------------------------------


def test_every_dashboard_query_reads_declared_metrics_correctly() -> None:
    queries = dashboard_queries()
    assert len(queries) > 30
    found = {where: problems(expr) for where, expr in queries.items()}
    assert {where: p for where, p in found.items() if p} == {}
    # Variables use Grafana's label_values(series, label): declared names, no PromQL rules.
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            assert set(metric_names(variable["definition"])) <= set(declared_series())


def test_every_alert_reads_declared_metrics_correctly() -> None:
    found = {rule["alert"]: problems(rule["expr"]) for rule in alerting_rules()}
    assert {alert: p for alert, p in found.items() if p} == {}


def test_every_alert_has_a_severity_a_for_its_annotations_and_a_unit_test() -> None:
    rules = alerting_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert set(names) - tested == set(), "every alert needs a case in alerts.test.yml"
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule.get("for"), rule["alert"]
        assert set(rule["annotations"]) >= {"summary", "description", "runbook"}, rule["alert"]


def test_every_runbook_annotation_points_at_a_heading_of_the_operations_docs() -> None:
    headings = {
        _anchor(line.lstrip("#"))
        for path in RUNBOOKS
        if path.exists()
        for line in path.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in alerting_rules():
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor in headings, f"{rule['alert']}: no heading #{anchor} in {RUNBOOKS}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.django_db
def test_scrape_time_gauges_are_what_the_collector_yields() -> None:
    from cleave.observability.collectors import EventBusCollector

    families = {family.name: family for family in EventBusCollector().collect()}
    assert set(families) == set(SCRAPE_TIME_GAUGES)
    for name, family in families.items():
        assert family.type == "gauge"
        assert {tuple(sample.labels) for sample in family.samples} <= {SCRAPE_TIME_GAUGES[name]}


def test_projection_gauges_are_what_their_collector_yields() -> None:
    from cleave.observability.collectors import ProjectionLagCollector

    families = {family.name: family for family in ProjectionLagCollector().collect()}
    assert set(families) == set(PROJECTION_GAUGES)
    for name, family in families.items():
        assert family.type == "gauge"
        assert {tuple(sample.labels) for sample in family.samples} <= {PROJECTION_GAUGES[name]}


# --- The dashboard's shape ---------------------------------------------------------------------

# What each row must show, as the series its panels read.
ROWS = {
    "Context: $context": {
        "cleave_http_requests_total",
        "cleave_http_request_duration_seconds_bucket",
        "cleave_contract_calls_total",
        "cleave_contract_call_duration_seconds_bucket",
        "cleave_flag_evaluations_total",
    },
    "Event bus": {
        "cleave_events_published_total",
        "cleave_events_delivered_total",
        "cleave_events_retried_total",
        "cleave_events_dead_lettered_total",
        "cleave_events_inbox_duplicates_total",
        "cleave_event_delivery_duration_seconds_bucket",
        *SCRAPE_TIME_GAUGES,
    },
    "Sagas": {
        "cleave_sagas_started_total",
        "cleave_sagas_completed_total",
        "cleave_sagas_compensated_total",
        "cleave_sagas_stuck_total",
        "cleave_sagas_failed_total",
        "cleave_saga_steps_total",
        "cleave_saga_step_duration_seconds_bucket",
    },
    "Realtime": {
        "cleave_ws_open_sockets",
        "cleave_ws_frames_total",
        "cleave_ws_fanout_duration_seconds_bucket",
        "cleave_ws_resumes_total",
    },
    "Resilience": {
        "cleave_breaker_state",
        "cleave_breaker_opens_total",
        "cleave_contract_retries_total",
        "cleave_throttled_total",
        "cleave_ready",
        "up",
    },
}


def test_the_dashboard_has_a_row_per_context_and_one_per_subsystem() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    read: dict[str, set[str]] = {}
    row = None
    for panel in dashboard_panels():
        if panel["type"] == "row":
            row = panel["title"]
            read[row] = set()
            continue
        assert row is not None, f"{panel['title']!r} is above the first row"
        for target in panel["targets"]:
            read[row].update(metric_names(target["expr"]))
    for title, needed in ROWS.items():
        assert needed <= read.get(title, set()), (title, needed - read.get(title, set()))
    first = board["panels"][0]
    assert (first["type"], first.get("repeat")) == ("row", "context")
    context = next(v for v in board["templating"]["list"] if v["name"] == "context")
    assert context["definition"] == "label_values(cleave_http_requests_total, context)"


def test_the_dashboard_names_its_datasource_only_through_the_variable() -> None:
    board = dashboard()
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    variable = next(v for v in board["templating"]["list"] if v["name"] == "DS_PROMETHEUS")
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    allowed = {"${DS_PROMETHEUS}", "-- Grafana --"}  # the variable, or Grafana's annotations
    uids = list(_datasource_uids(board))
    assert len(uids) > 30
    assert set(uids) <= allowed


def _datasource_uids(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value["uid"] if isinstance(value, dict) else str(value)
            else:
                yield from _datasource_uids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_uids(item)


# --- promtool ----------------------------------------------------------------------------------

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; CI installs it)",
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


@needs_promtool
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_promtool_accepts_the_scrape_configs_of_both_local_layouts(tmp_path: Path) -> None:
    checked = promtool("check", "config", SCRAPE_CONFIG)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The `make split` jobs are commented out between markers: check them too.
    text = SCRAPE_CONFIG.read_text()
    start, end = text.index("# >>> make split\n"), text.index("# <<< make split")
    block = re.sub(r"(?m)^  # ", "  ", text[start:end])
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / "prometheus.yml").write_text(text[:start] + block + text[end:])
    split = promtool("check", "config", tmp_path / "prometheus.yml")
    assert split.returncode == 0, split.stdout + split.stderr
    assert "cleave-messaging" in block


@needs_promtool
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    # Grafana's variables take sample values; each query becomes a recording rule to parse.
    exprs = [
        expr.replace("$__rate_interval", "1m").replace("$context", "identity")
        for expr in dashboard_queries().values()
    ]
    rules = [{"record": f"cleave:dashboard:{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
