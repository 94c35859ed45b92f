"""Fault-injection tests (issue #12): real processes, their own PostgreSQL and Redis, broken on
purpose. Off unless `CLEAVE_FAULTS=1`; `CLEAVE_FAULTS_BOUNDED=1` runs the short form CI uses
(smaller bursts, shorter outages, the broker's visibility timeout aged instead of waited)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENABLED = os.environ.get("CLEAVE_FAULTS") == "1"
BOUNDED = os.environ.get("CLEAVE_FAULTS_BOUNDED") == "1"
HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: fault injection against real processes (CLEAVE_FAULTS=1 to run)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="fault injection: set CLEAVE_FAULTS=1 (make test-faults)")
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)
            if not ENABLED:
                item.add_marker(skip)
