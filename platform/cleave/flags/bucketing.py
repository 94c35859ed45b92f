"""Unleash-compatible bucketing: who falls inside a rollout, which variant they get, semver checks.

Cleave evaluates its flags the way Unleash's SDKs do so that a flag keeps the same audience if we
later move it to an Unleash server (or an Unleash SDK in a mobile app evaluates it): the same
user lands in the same bucket and the same variant on both sides. The rules below follow
github.com/Unleash/client-specification and are checked against its cases in
``cleave/tests/test_flags_bucketing.py``:

* Rollouts hash ``f"{group_id}:{identifier}"`` with MurmurHash3 x86 32-bit (unsigned, seed 0)
  into 1..100; an identifier is in when its bucket is ``<= percentage``.
* Variants hash the same string with seed 86028157 into 1..total weight and walk the cumulative
  weights; the seed differs so that variant buckets are independent of the rollout bucket.
  ``group_id`` is the feature's name for feature variants and the strategy's ``groupId``
  parameter for strategy variants; the stickiness of the first variant names the context field
  whose value is the identifier.
* Semver operators compare per semver 2.0 (pre-releases below their release, build metadata
  ignored); a value that is not strict semver 2.0 (``v1.2.3``, ``1.2``) never matches.

Semver is implemented here rather than taken from the ``semver`` package: the comparison is a
few dozen lines of a frozen specification, Unleash wraps it in its own rules anyway (invalid
never matches, never raises), and one dependency less is one upgrade less. ``packaging`` is not
an option: it implements PEP 440, which orders pre-releases differently.

This module is pure (no Django, no I/O) but for one corner: where Unleash hashes a random value
(stickiness "random", or "default" without any id), so does ``rollout_identifier``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import mmh3

__all__ = [
    "VARIANT_HASH_SEED",
    "SemVer",
    "SemverOperator",
    "Variant",
    "VariantPayload",
    "gradual_rollout",
    "normalized_hash",
    "rollout_identifier",
    "select_variant",
    "semver_matches",
    "variant_identifier",
]

VARIANT_HASH_SEED: Final = 86028157
"""Seed Unleash uses for variant buckets since October 2023 (client specification PR #69)."""

# Context fields that stickiness "default" tries, in order; variants also try remoteAddress.
_ROLLOUT_DEFAULT_STICKINESS: Final = ("userId", "sessionId")
_VARIANT_DEFAULT_STICKINESS: Final = ("userId", "sessionId", "remoteAddress")


def normalized_hash(identifier: str, group_id: str, normalizer: int = 100, seed: int = 0) -> int:
    """Bucket of ``identifier`` within ``group_id``: 1..normalizer, stable across Unleash SDKs."""
    if normalizer < 1:
        raise ValueError(f"normalizer must be positive, got {normalizer}")
    return mmh3.hash(f"{group_id}:{identifier}", seed, signed=False) % normalizer + 1


def gradual_rollout(*, percentage: int, identifier: str | None, group_id: str) -> bool:
    """Whether ``identifier`` is inside a ``percentage`` rollout; no identifier is never inside.

    Ids enabled at a percentage stay enabled at every higher one (the bucket does not move), so
    ramping a rollout up never takes a feature away from anybody.
    """
    if not identifier:
        return False
    return normalized_hash(identifier, group_id) <= percentage


def rollout_identifier(*, stickiness: str, context: Mapping[str, str]) -> str | None:
    """The value a flexibleRollout hashes for ``stickiness``; None means the rollout is off.

    As in Unleash: "default" is userId, else sessionId, else a random value; "random" is always
    random; any other name is that context field, and without it the rollout stays disabled.
    """
    if stickiness == "random":
        return _random_identifier()
    if stickiness == "default":
        return _first_present(context, _ROLLOUT_DEFAULT_STICKINESS) or _random_identifier()
    return context.get(stickiness) or None


def variant_identifier(*, stickiness: str, context: Mapping[str, str]) -> str:
    """The value variant selection hashes for ``stickiness`` (the first variant's).

    As in Unleash: "default" is userId, else sessionId, else remoteAddress; a missing field or
    "random" gives a random value, so a variant is always chosen.
    """
    if stickiness == "random":
        return _random_identifier()
    fields = _VARIANT_DEFAULT_STICKINESS if stickiness == "default" else (stickiness,)
    return _first_present(context, fields) or _random_identifier()


def _first_present(context: Mapping[str, str], fields: Sequence[str]) -> str | None:
    return next((context[field] for field in fields if context.get(field)), None)


def _random_identifier() -> str:
    # The one impure corner, kept because Unleash hashes a random value here too.
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class VariantPayload:
    """Data a variant hands to the client; Unleash types are "string", "json", "csv", "number"."""

    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Variant:
    """One weighted option of a feature or strategy (Unleash weights are 0..1000 per feature)."""

    name: str
    weight: int
    payload: VariantPayload | None = None
    stickiness: str = "default"

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"variant {self.name!r} has a negative weight: {self.weight}")


def select_variant(
    variants: Sequence[Variant], *, identifier: str, group_id: str
) -> Variant | None:
    """The variant ``identifier`` gets, or None when there are none (or all weigh nothing).

    ``group_id`` is the feature name for feature variants and the strategy's groupId for strategy
    variants; ``identifier`` is ``variant_identifier`` of the first variant's stickiness.
    Unleash's per-variant overrides are not handled here: the caller applies them first.
    """
    total_weight = sum(variant.weight for variant in variants)
    if total_weight <= 0:
        return None
    target = normalized_hash(identifier, group_id, normalizer=total_weight, seed=VARIANT_HASH_SEED)
    cumulative = 0
    for variant in variants:
        cumulative += variant.weight
        if cumulative >= target:
            return variant
    return None  # Unreachable: target <= total_weight. Kept so the return type stays honest.


# semver.org's recommended pattern, with [0-9] rather than \d so non-ASCII digits are refused.
_NUMERIC = r"0|[1-9][0-9]*"
_PRE_ID = r"0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*"
_SEMVER = re.compile(
    rf"(?P<major>{_NUMERIC})\.(?P<minor>{_NUMERIC})\.(?P<patch>{_NUMERIC})"
    rf"(?:-(?P<pre>(?:{_PRE_ID})(?:\.(?:{_PRE_ID}))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)

# Sort key of one pre-release identifier: numeric ones sort numerically and below alphanumeric
# ones, which sort by ASCII (semver 2.0, rule 11.4).
_PreKey = tuple[int, int, str]


def _pre_key(identifier: str) -> _PreKey:
    return (0, int(identifier), "") if identifier.isdigit() else (1, 0, identifier)


@dataclass(frozen=True, slots=True)
class SemVer:
    """A strict semver 2.0 version; ordering follows semver 2.0 and ignores build metadata."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        """The version ``text`` spells, or None if it is not strict semver 2.0."""
        match = _SEMVER.fullmatch(text)
        if match is None:
            return None
        pre = match["pre"]
        return cls(
            major=int(match["major"]),
            minor=int(match["minor"]),
            patch=int(match["patch"]),
            prerelease=tuple(pre.split(".")) if pre else (),
            build=match["build"] or "",
        )

    def precedence(self) -> tuple[int, int, int, int, tuple[_PreKey, ...]]:
        """Key whose order is semver precedence: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0."""
        # The fourth slot puts a release (1) above all of its pre-releases (0); tuples of
        # identifier keys compare element-wise with a shorter prefix first, as semver asks.
        if not self.prerelease:
            return (self.major, self.minor, self.patch, 1, ())
        keys = tuple(_pre_key(part) for part in self.prerelease)
        return (self.major, self.minor, self.patch, 0, keys)


class SemverOperator(StrEnum):
    """Unleash's semver constraint operators; GTE and LTE are the client specification's newest."""

    SEMVER_EQ = "SEMVER_EQ"
    SEMVER_GT = "SEMVER_GT"
    SEMVER_GTE = "SEMVER_GTE"
    SEMVER_LT = "SEMVER_LT"
    SEMVER_LTE = "SEMVER_LTE"


def semver_matches(
    *, operator: SemverOperator, context_value: str | None, constraint_value: str
) -> bool:
    """Whether ``context_value <operator> constraint_value``; never raises.

    A missing or non-semver value on either side never matches. Unleash's ``inverted`` flag is
    applied by the caller on top of this result, as the SDKs do.
    """
    if not context_value:
        return False
    left, right = SemVer.parse(context_value), SemVer.parse(constraint_value)
    if left is None or right is None:
        return False
    a, b = left.precedence(), right.precedence()
    match operator:
        case SemverOperator.SEMVER_EQ:
            return a == b
        case SemverOperator.SEMVER_GT:
            return a > b
        case SemverOperator.SEMVER_GTE:
            return a >= b
        case SemverOperator.SEMVER_LT:
            return a < b
        case SemverOperator.SEMVER_LTE:
            return a <= b
    return False  # Unreachable for a SemverOperator; refuses anything else without raising.
