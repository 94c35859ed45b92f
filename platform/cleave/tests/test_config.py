"""Settings come from the environment; real mode refuses what would be unsafe."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from cleave.config import Mode, load
from cleave.testing.processes import ROOT

GOOD_SECRET = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
REAL = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cleave",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": GOOD_SECRET,
}


def test_no_environment_means_embedded_mode_with_sqlite_under_var() -> None:
    config = load({})
    assert config.mode is Mode.EMBEDDED
    assert config.debug is True
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"
    assert config.database["NAME"].endswith("var/cleave.sqlite3")
    assert config.redis_url is None
    assert config.log_format == "text"


def test_database_url_switches_to_real_mode_with_postgres() -> None:
    config = load(REAL)
    assert config.mode is Mode.REAL
    assert config.debug is False
    assert config.database["ENGINE"] == "django.db.backends.postgresql"
    assert config.database["HOST"] == "127.0.0.1"
    assert config.database["NAME"] == "cleave"
    assert config.log_format == "json"
    assert config.allowed_hosts == []


def test_lists_and_booleans_are_parsed() -> None:
    config = load({**REAL, "ALLOWED_HOSTS": "api.example.com, .example.org", "DEBUG": "yes"})
    assert config.allowed_hosts == ["api.example.com", ".example.org"]
    assert config.debug is True


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "SECRET_KEY is not set"),
        ("django-insecure-" + "x" * 60, "starts with 'django-insecure'"),
        ("short-but-random-7f3a", "shorter than 50"),
        ("ab" * 40, "fewer than 5 distinct"),
    ],
)
def test_real_mode_without_debug_refuses_an_insecure_secret(
    secret: str | None, reason: str
) -> None:
    env = {key: value for key, value in REAL.items() if key != "SECRET_KEY"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(ImproperlyConfigured, match=reason):
        load(env)


def test_real_mode_with_debug_on_refuses_a_development_secret_too() -> None:
    # Issue 16: DEBUG is for tracebacks, never a way around the checks (tests/security has more).
    with pytest.raises(ImproperlyConfigured, match="shorter than 50"):
        load({**REAL, "SECRET_KEY": "dev", "DEBUG": "true"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLEAVE_MODE": "cloud"}, "CLEAVE_MODE must be"),
        ({**REAL, "DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({**REAL, "DB_POOL_MAX": "ten"}, "DB_POOL_MAX must be an integer"),
        ({**REAL, "DATABASE_URL": "mysql://root@localhost/x"}, "PostgreSQL"),
        ({key: v for key, v in REAL.items() if key != "REDIS_URL"}, "needs REDIS_URL"),
        (
            {"CLEAVE_MODE": "real", "REDIS_URL": "redis://x", "SECRET_KEY": GOOD_SECRET},
            "DATABASE_URL",
        ),
        ({**REAL, "CLEAVE_JWKS_URL": "file:///etc/passwd"}, "CLEAVE_JWKS_URL must be an http"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        load(env)


def test_a_real_process_refuses_to_start_with_an_insecure_secret() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": REAL["DATABASE_URL"],
        "REDIS_URL": REAL["REDIS_URL"],
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Refusing to start in real mode: SECRET_KEY is not set" in done.stderr


def test_cleave_contexts_chooses_the_hosted_contexts() -> None:
    available = ["apps.identity", "apps.messaging"]
    assert load({}).hosted(available) == available
    assert load({"CLEAVE_CONTEXTS": "messaging"}).hosted(available) == ["apps.messaging"]
    with pytest.raises(ImproperlyConfigured, match="unknown context"):
        load({"CLEAVE_CONTEXTS": "billing"}).hosted(available)


def test_service_urls_are_read_for_contexts_only_and_must_be_http() -> None:
    from cleave.config import Config

    env = {"CLEAVE_IDENTITY_URL": "http://identity:8000/", "CLEAVE_WEBSOCKET_URL": "ws://x"}
    assert Config.service_urls(env, ["identity", "messaging"]) == {
        "identity": "http://identity:8000"
    }
    with pytest.raises(ImproperlyConfigured, match="CLEAVE_MESSAGING_URL must be an http"):
        Config.service_urls({"CLEAVE_MESSAGING_URL": "messaging:8000"}, ["messaging"])


def test_the_access_token_life_is_fifteen_minutes_unless_set_within_bounds() -> None:
    assert load({}).access_token_seconds == 900
    assert load({"CLEAVE_ACCESS_TOKEN_SECONDS": "3"}).access_token_seconds == 3
    for wrong in ("0", "86400", "soon"):
        with pytest.raises(ImproperlyConfigured, match="CLEAVE_ACCESS_TOKEN_SECONDS"):
            load({"CLEAVE_ACCESS_TOKEN_SECONDS": wrong})
