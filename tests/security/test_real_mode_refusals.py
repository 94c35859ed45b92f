"""Issue 16, findings 5 and 10: real mode refuses development keys and `ALLOWED_HOSTS=*`
whatever DEBUG says.

`DEBUG=true` used to be a way around every check: real mode then started on the public embedded
SECRET_KEY, accepted any Host header and derived its encryption keys from that public key.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cleave.config import load
from cleave.crypto import keys
from cleave.crypto.checks import check_encryption_keys
from cleave.testing.processes import ROOT

GOOD_SECRET = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
REAL = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cleave",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": GOOD_SECRET,
    "ALLOWED_HOSTS": "api.example.com",
}
EMBEDDED_SECRET = "django-insecure-embedded-mode-only-never-used-in-real-mode"


@pytest.mark.parametrize("debug", ["true", "false"])
@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "SECRET_KEY is not set"),
        (EMBEDDED_SECRET, "starts with 'django-insecure'"),
        ("dev", "shorter than 50"),
    ],
)
def test_real_mode_refuses_a_development_secret_whatever_debug_says(
    debug: str, secret: str | None, reason: str
) -> None:
    env = {**REAL, "DEBUG": debug}
    env.pop("SECRET_KEY")
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(ImproperlyConfigured, match=f"{reason}.*Set a random SECRET_KEY"):
        load(env)


@pytest.mark.parametrize("debug", ["true", "false"])
@pytest.mark.parametrize("hosts", ["*", "api.example.com,*"])
def test_real_mode_refuses_any_host(debug: str, hosts: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS.*explicit host names"):
        load({**REAL, "DEBUG": debug, "ALLOWED_HOSTS": hosts})


def test_real_mode_with_debug_on_no_longer_defaults_to_any_host() -> None:
    env = {key: value for key, value in REAL.items() if key != "ALLOWED_HOSTS"}
    assert "*" not in load({**env, "DEBUG": "true"}).allowed_hosts


def test_embedded_mode_keeps_its_zero_configuration_defaults() -> None:
    config = load({})
    assert config.allowed_hosts == ["*"]
    assert config.secret_key == EMBEDDED_SECRET


def test_real_mode_with_debug_on_refuses_development_encryption_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(keys.ENCRYPTION_KEYS_SETTING, raising=False)
    monkeypatch.delenv(keys.HASH_KEY_SETTING, raising=False)
    with override_settings(
        CLEAVE_MODE="real", DEBUG=True, CLEAVE_ENCRYPTION_KEYS=None, CLEAVE_HASH_KEY=None
    ):
        problems = check_encryption_keys()
        with pytest.raises(keys.KeyConfigError, match="CLEAVE_ENCRYPTION_KEYS and CLEAVE_HASH"):
            keys.load_keyring()
    assert [problem.id for problem in problems] == ["cleave.E010"]
    assert problems[0].is_serious()


def _real_process(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **REAL, "DEBUG": "true"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_real_process_with_debug_on_refuses_to_start_without_encryption_keys() -> None:
    done = _real_process([sys.executable, "manage.py", "check"])
    assert done.returncode != 0
    assert "cleave.E010" in done.stderr
    assert "CLEAVE_ENCRYPTION_KEYS and CLEAVE_HASH_KEY" in done.stderr


def test_the_servers_entry_point_refuses_to_load_without_encryption_keys() -> None:
    # What granian (cleave.wsgi) and uvicorn (cleave.asgi) import first: no system checks run.
    code = "import sys; sys.path[:0] = ['.', 'platform']; import cleave.asgi"
    done = _real_process([sys.executable, "-c", code])
    assert done.returncode != 0
    assert "CLEAVE_ENCRYPTION_KEYS and CLEAVE_HASH_KEY" in done.stderr
