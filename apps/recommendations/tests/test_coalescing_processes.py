"""Coalescing across processes (real mode: the shared cache is Redis): two processes missing
the same key at the same moment compute it once, and every caller gets that one result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from apps.recommendations.services.cache import computed_count

pytestmark = pytest.mark.skipif(
    settings.CLEAVE_MODE != "real", reason="processes share a cache only through Redis"
)


def test_two_processes_missing_one_key_compute_it_once() -> None:
    key = f"recs:test:{uuid.uuid4().hex}"
    before = computed_count(key)
    start_at = time.time() + 6  # both processes have imported Django by then, on a busy machine
    command = [sys.executable, "-m", "apps.recommendations.tests.stampede_process"]
    processes = [
        subprocess.Popen(
            [*command, key, str(start_at), "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    answers = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        answers += [json.loads(line) for line in out.splitlines()]

    assert time.time() > start_at  # they did meet at the start time
    assert len(answers) == 6
    assert len({json.dumps(answer["value"]) for answer in answers}) == 1  # one result for all
    sources = [answer["source"] for answer in answers]
    assert sources.count("computed") == 1
    # The others waited for it; on a busy machine a thread woken late finds it stored already.
    assert set(sources) - {"computed"} <= {"coalesced", "shared"}
    assert "coalesced" in sources
    assert computed_count(key) - before == 1
