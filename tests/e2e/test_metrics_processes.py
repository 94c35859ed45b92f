"""/metrics stays right with several worker processes behind one port (multiprocess mode),
and a Celery worker serves its own metrics port."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from cleave.testing.processes import embedded_env, free_port, wait_for
from cleave.testing.servers import running_server, web_server_command
from cleave.testing.workers import celery_worker


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


def _healthz_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "cleave_http_requests_total" and sample.labels["route"] == "healthz"
    )


def _counter_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "metrics").glob("counter_*.db"))


def test_two_web_workers_report_one_sum(tmp_path: Path) -> None:
    port = free_port()
    env = {**embedded_env(tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    command = web_server_command(port, workers=2, threads=2)
    with running_server(command, port=port, env=env) as base:
        before = _healthz_count(_get(f"{base}/metrics"))
        sent = 0
        # One connection each, until both workers have served some (on a busy machine the
        # kernel may hand one worker a long run of connections).
        while sent < 60 or (len(_counter_files(tmp_path)) < 2 and sent < 1000):
            _get(f"{base}/healthz")
            sent += 1
        # Every scrape, whichever worker answers it, sees both workers' counts.
        counts = {_healthz_count(_get(f"{base}/metrics")) for _ in range(6)}
    assert counts == {before + sent}
    assert len(_counter_files(tmp_path)) >= 2  # two processes wrote


@pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis")
def test_a_celery_worker_serves_metrics_on_its_port() -> None:
    port = free_port()
    with celery_worker(queues=["events.notifications"], env={"CLEAVE_METRICS_PORT": str(port)}):
        text = wait_for(lambda: _get(f"http://127.0.0.1:{port}/metrics"), timeout=10)
    names = {family.name for family in text_string_to_metric_families(str(text))}
    assert {"cleave_events_delivered", "cleave_contract_calls"} <= names
