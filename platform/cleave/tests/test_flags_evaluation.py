"""Flag evaluation: rules, reasons, stickiness, kill switches, caching without queries."""

from __future__ import annotations

import logging

import pytest
from pytest_django import DjangoAssertNumQueries
from waffle.models import Switch

from cleave.flags.definitions import bump_version, forget_definitions
from cleave.flags.evaluation import FlagContext, evaluate
from cleave.flags.models import Flag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_definitions()


def _flag(name: str, **fields: object) -> Flag:
    flag = Flag(name=name, **fields)
    flag.save()
    bump_version()
    return flag


def test_an_unknown_flag_is_the_default_with_an_error_code() -> None:
    result = evaluate("nope", FlagContext(user_id=1), default=True)
    assert (result.value, result.reason, result.error_code) == (True, "ERROR", "FLAG_NOT_FOUND")


def test_everyone_on_and_off_are_static_and_disabled() -> None:
    _flag("on", everyone=True)
    _flag("off", everyone=False)
    assert evaluate("on", FlagContext()).reason == "STATIC"
    assert (
        evaluate("off", FlagContext(user_id=1)).value,
        evaluate("off", FlagContext()).reason,
    ) == (False, "DISABLED")


def test_the_kill_switch_overrides_every_rule() -> None:
    _flag("risky", everyone=True, user_ids=[1])
    Switch.objects.create(name="kill:risky", active=True)
    bump_version()
    assert (
        evaluate("risky", FlagContext(user_id=1)).value,
        evaluate("risky", FlagContext(user_id=1)).reason,
    ) == (
        False,
        "DISABLED",
    )


def test_targeting_by_user_role_platform_and_app_version() -> None:
    _flag(
        "beta",
        percent=0,
        user_ids=[7],
        roles=["staff"],
        platforms=["ios"],
        min_app_version="2.0.0",
        max_app_version="3.0.0",
    )
    assert evaluate("beta", FlagContext(user_id=7)).reason == "TARGETING_MATCH"
    assert evaluate("beta", FlagContext(user_id=8, roles=frozenset({"staff"}))).value is True
    assert (
        evaluate("beta", FlagContext(user_id=9, platform="android", app_version="2.1.0")).reason
        == "DEFAULT"
    )
    assert (
        evaluate("beta", FlagContext(user_id=9, platform="ios", app_version="1.9.9")).value is False
    )
    missing = evaluate("beta", FlagContext(user_id=9, platform="ios"))
    assert (missing.reason, missing.error_code) == ("ERROR", "TARGETING_KEY_MISSING")
    in_range = evaluate("beta", FlagContext(user_id=9, platform="ios", app_version="2.5.0"))
    assert (in_range.value, in_range.reason) == (
        False,
        "SPLIT",
    )  # 0 %: in range but not in the split


def test_a_percentage_is_sticky_distributed_and_only_adds_users_when_raised() -> None:
    flag = _flag("ramp", percent=10)
    ids = range(1, 10_001)
    at_10 = {u for u in ids if evaluate("ramp", FlagContext(user_id=u)).value}
    assert at_10 == {u for u in ids if evaluate("ramp", FlagContext(user_id=u)).value}  # sticky
    flag.percent = 20
    flag.save()
    bump_version()
    at_20 = {u for u in ids if evaluate("ramp", FlagContext(user_id=u)).value}
    assert at_10 <= at_20
    assert 1850 <= len(at_20) <= 2150


def test_before_login_the_device_id_buckets_and_without_one_it_is_an_error() -> None:
    _flag("anon", percent=50)
    assert evaluate("anon", FlagContext(device_id="d-1")).reason == "SPLIT"
    assert evaluate("anon", FlagContext(), default=False).error_code == "TARGETING_KEY_MISSING"


def test_variants_are_sticky_per_user() -> None:
    _flag(
        "color",
        everyone=True,
        variants=[{"name": "red", "weight": 50}, {"name": "blue", "weight": 50}],
    )
    chosen = {evaluate("color", FlagContext(user_id=u)).variant for u in range(1, 200)}
    assert chosen == {"red", "blue"}
    assert (
        evaluate("color", FlagContext(user_id=3)).variant
        == evaluate("color", FlagContext(user_id=3)).variant
    )


def test_the_environment_limits_a_flag() -> None:
    _flag("staging-only", everyone=None, environments=["staging"])
    assert evaluate("staging-only", FlagContext(user_id=1, environment="prod")).reason == "DISABLED"
    assert evaluate("staging-only", FlagContext(user_id=1, environment="staging")).value is True


def test_steady_state_evaluation_makes_no_query(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    _flag("hot", percent=50)
    evaluate("hot", FlagContext(user_id=1))  # loads the definitions
    with django_assert_num_queries(0):
        for user in range(100):
            evaluate("hot", FlagContext(user_id=user))


def test_a_broken_rule_is_an_error_not_an_exception() -> None:
    _flag("broken", everyone=True, variants=[{"weight": 5}])  # a variant without a name
    result = evaluate("broken", FlagContext(user_id=1), default=True)
    assert (result.value, result.reason, result.error_code) == (True, "ERROR", "GENERAL")


def test_a_failure_repeated_on_every_request_logs_its_traceback_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from cleave.flags import evaluation

    _flag("broken", everyone=True, variants=[{"weight": 5}])
    evaluation._failure_logged_at[0] = -evaluation.FAILURE_LOG_SECONDS  # none logged lately
    with caplog.at_level(logging.ERROR, logger="cleave.flags.evaluation"):
        for _ in range(50):
            assert evaluate("broken", FlagContext(user_id=1)).error_code == "GENERAL"
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_the_same_user_gets_the_same_bucket_in_another_process() -> None:
    import subprocess
    import sys

    from cleave.flags.bucketing import gradual_rollout
    from cleave.testing.processes import ROOT, process_env

    script = (
        "from cleave.flags.bucketing import gradual_rollout as g\n"
        "print(''.join('1' if g(percentage=30, identifier=str(u), group_id='x') else '0'"
        " for u in range(500)))"
    )
    there = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = "".join(
        "1" if gradual_rollout(percentage=30, identifier=str(u), group_id="x") else "0"
        for u in range(500)
    )
    assert there == here
    assert 100 < here.count("1") < 200
