"""Liveness always answers; readiness names what is unreachable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_every_dependency(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"draining", "database", "cache", "realtime", "broker"}


def test_readyz_is_503_while_the_instance_drains_and_healthz_stays_ok(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "draining"
    monkeypatch.setenv("CLEAVE_DRAIN_FILE", str(flag))
    assert client.get("/readyz").status_code == 200  # the file's path alone changes nothing
    flag.touch()  # what a restart does first
    response = client.get("/readyz")
    assert (response.status_code, response.json()["failing"]) == (503, ["draining"])
    assert client.get("/healthz").status_code == 200  # alive: it finishes what it has


def test_readyz_is_503_and_names_an_unreachable_cache(client: Client) -> None:
    dead_redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    with override_settings(CACHES=dead_redis):
        try:
            response = client.get("/readyz")
        finally:
            caches["default"].close()
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["cache"]
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_is_503_and_names_an_unreachable_realtime_redis(client: Client) -> None:
    """The hub's Redis (fan-out, stream history) is checked with redis-py itself."""
    dead_realtime = replace(settings.CONFIG, redis_url="redis://127.0.0.1:9/0")  # discard port
    with override_settings(CONFIG=dead_realtime):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert "realtime" in body["failing"]
    assert body["checks"]["realtime"]["error"].startswith("ConnectionError")
