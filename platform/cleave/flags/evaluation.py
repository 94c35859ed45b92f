"""Evaluate a flag for a caller: value, variant and an OpenFeature reason; never raises.

Order: unknown flag → ERROR (FLAG_NOT_FOUND); the kill switch (waffle switch
`kill:<flag>`) on → DISABLED; `everyone` off → DISABLED, on → STATIC; outside the flag's
environments → DISABLED; the user's id or role listed → TARGETING_MATCH; platform or app version
out of range → DEFAULT (off); a percentage → SPLIT by Unleash's bucketing of the user id (or the
device id before login), else TARGETING_MATCH. A variant is picked, stickily, for enabled flags.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from cleave.flags.bucketing import (
    SemverOperator,
    Variant,
    gradual_rollout,
    select_variant,
    semver_matches,
)
from cleave.flags.definitions import FlagDefinition, definitions
from cleave.observability import metrics

logger = logging.getLogger(__name__)
# While a store is down every evaluation fails the same way: its traceback is logged once per
# this many seconds (the error metric counts every one), not once per request.
FAILURE_LOG_SECONDS = 10.0
_failure_logged_at = [-FAILURE_LOG_SECONDS]
_failure_log_lock = threading.Lock()

STATIC, TARGETING_MATCH, SPLIT, DISABLED, DEFAULT, ERROR = (
    "STATIC",
    "TARGETING_MATCH",
    "SPLIT",
    "DISABLED",
    "DEFAULT",
    "ERROR",
)


@dataclass(frozen=True)
class FlagContext:
    """Who asks: a user (after login) or a device (before), and what app they run."""

    user_id: int | None = None
    device_id: str | None = None
    platform: str | None = None
    app_version: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    environment: str = "prod"

    @property
    def identifier(self) -> str | None:
        return str(self.user_id) if self.user_id is not None else self.device_id


@dataclass(frozen=True)
class Evaluation:
    flag: str
    value: bool
    reason: str
    variant: str | None = None
    error_code: str | None = None


def evaluate(name: str, context: FlagContext, *, default: bool = False) -> Evaluation:
    try:
        definition = definitions().get(name)
        if definition is None:
            # Unknown names are counted under one label: the label set stays the flags that exist.
            metrics.flag_evaluations.labels("unknown", ERROR).inc()
            return Evaluation(name, default, ERROR, error_code="FLAG_NOT_FOUND")
        evaluation = _evaluate(definition, context, default)
    except Exception:  # an evaluation never takes a request down
        _log_failure(name)
        metrics.flag_evaluations.labels("unknown", ERROR).inc()
        return Evaluation(name, default, ERROR, error_code="GENERAL")
    metrics.flag_evaluations.labels(name, evaluation.reason).inc()
    return evaluation


def _log_failure(name: str) -> None:
    now = time.monotonic()
    with _failure_log_lock:
        due = now - _failure_logged_at[0] >= FAILURE_LOG_SECONDS
        if due:
            _failure_logged_at[0] = now
    if due:
        logger.exception(
            "flag %s could not be evaluated (logged once per %.0f s)", name, FAILURE_LOG_SECONDS
        )
    else:
        logger.debug("flag %s could not be evaluated", name, exc_info=True)


def _evaluate(flag: FlagDefinition, context: FlagContext, default: bool) -> Evaluation:
    if flag.killed or flag.everyone is False:
        return Evaluation(flag.name, False, DISABLED)
    if flag.everyone is True:
        return _with_variant(flag, context, STATIC)
    if flag.environments and context.environment not in flag.environments:
        return Evaluation(flag.name, False, DISABLED)
    if (context.user_id is not None and context.user_id in flag.user_ids) or (
        flag.roles & context.roles
    ):
        return _with_variant(flag, context, TARGETING_MATCH)
    if flag.platforms and context.platform not in flag.platforms:
        return Evaluation(flag.name, False, DEFAULT)
    if flag.min_app_version or flag.max_app_version:
        if not context.app_version:
            return Evaluation(flag.name, default, ERROR, error_code="TARGETING_KEY_MISSING")
        if not _version_in_range(flag, context.app_version):
            return Evaluation(flag.name, False, DEFAULT)
    if flag.percent is None:
        return _with_variant(flag, context, TARGETING_MATCH)
    if context.identifier is None:
        return Evaluation(flag.name, default, ERROR, error_code="TARGETING_KEY_MISSING")
    if gradual_rollout(percentage=flag.percent, identifier=context.identifier, group_id=flag.name):
        return _with_variant(flag, context, SPLIT)
    return Evaluation(flag.name, False, SPLIT)


def _version_in_range(flag: FlagDefinition, version: str) -> bool:
    low = not flag.min_app_version or semver_matches(
        operator=SemverOperator.SEMVER_GTE,
        context_value=version,
        constraint_value=flag.min_app_version,
    )
    high = not flag.max_app_version or semver_matches(
        operator=SemverOperator.SEMVER_LT,
        context_value=version,
        constraint_value=flag.max_app_version,
    )
    return low and high


def _with_variant(flag: FlagDefinition, context: FlagContext, reason: str) -> Evaluation:
    if not flag.variants or context.identifier is None:
        return Evaluation(flag.name, True, reason)
    variants = [Variant(name=v["name"], weight=int(v.get("weight", 0))) for v in flag.variants]
    chosen = select_variant(variants, identifier=context.identifier, group_id=flag.name)
    return Evaluation(flag.name, True, reason, variant=chosen.name if chosen else None)
