"""`manage.py contracts`: the committed snapshot and docs match the code; breaks are caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cleave.contracts import snapshot


def _current() -> dict:
    return snapshot.build(snapshot.published_contracts())


def test_the_committed_snapshot_matches_the_code() -> None:
    assert snapshot.load() == json.loads(snapshot.render(_current()))


def test_the_committed_contract_docs_are_fresh() -> None:
    call_command("contracts", "docs", "--check")


def test_a_field_removed_without_a_major_version_fails_the_check(tmp_path: Path) -> None:
    recorded = copy.deepcopy(_current())
    result = recorded["contexts"]["identity"]["calls"]["user_get"]["result"]
    result["properties"]["avatar_url"] = {"type": "string"}
    result["required"].append("avatar_url")
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(recorded))

    with pytest.raises(CommandError, match="breaking change"):
        call_command("contracts", "check", "--snapshot", str(path))

    recorded["contexts"]["identity"]["version"] = "0.9"  # the code is now 1.0: a new major
    path.write_text(json.dumps(recorded))
    call_command("contracts", "check", "--snapshot", str(path))


def test_a_new_call_is_additive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = copy.deepcopy(_current())
    del recorded["contexts"]["identity"]["calls"]["user_get"]
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(recorded))
    call_command("contracts", "check", "--snapshot", str(path))
    assert "additive" in capsys.readouterr().out
