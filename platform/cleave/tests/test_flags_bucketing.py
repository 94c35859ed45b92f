"""cleave.flags.bucketing answers Unleash's own client-specification cases, and keeps its promises.

The spec cases (``data/unleash/``, see its README) are driven through a deliberately small
interpreter of Unleash's feature JSON that only wires fields to the functions under test; a
case needing something we do not implement is set aside with a reason, and the number of those
is asserted so that a new upstream case cannot be skipped silently.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import mmh3
import pytest

from cleave.flags.bucketing import (
    VARIANT_HASH_SEED,
    SemVer,
    SemverOperator,
    Variant,
    VariantPayload,
    gradual_rollout,
    normalized_hash,
    rollout_identifier,
    select_variant,
    semver_matches,
    variant_identifier,
)

DATA = Path(__file__).parent / "data" / "unleash"
SPEC_FILES = (
    "03-gradual-rollout-user-id-strategy.json",
    "04-gradual-rollout-session-id-strategy.json",
    "05-gradual-rollout-random-strategy.json",
    "10-flexible-rollout-strategy.json",
    "14-constraint-semver-operators.json",
    "16-strategy-variants.json",
)
STRATEGIES = {
    "default",
    "gradualRolloutUserId",
    "gradualRolloutSessionId",
    "gradualRolloutRandom",
    "flexibleRollout",
}
DISABLED = {"name": "disabled", "enabled": False}
Json = dict[str, Any]


# --- A minimal interpreter of Unleash's feature JSON -------------------------------------------


def _fields(context: Json) -> dict[str, str]:
    """Unleash reads a field from the context first, then from its properties."""
    fields = dict(context.get("properties", {}))
    fields.update({key: value for key, value in context.items() if key != "properties"})
    return fields


def _unsupported(feature: Json | None) -> str | None:
    for strategy in feature["strategies"] if feature else []:
        if strategy["name"] not in STRATEGIES:
            return f"strategy {strategy['name']}"
        for constraint in strategy.get("constraints", []):
            if constraint["operator"] not in set(SemverOperator):
                return f"constraint operator {constraint['operator']}"
    return None


def _strategy_enabled(strategy: Json, *, feature_name: str, fields: dict[str, str]) -> bool:
    for constraint in strategy.get("constraints", []):
        matched = semver_matches(
            operator=SemverOperator(constraint["operator"]),
            context_value=fields.get(constraint["contextName"]),
            constraint_value=constraint["value"],
        )
        if matched == constraint.get("inverted", False):
            return False
    params = strategy.get("parameters", {})
    group_id = params.get("groupId") or feature_name
    match strategy["name"]:
        case "default":
            return True
        case "gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom":
            field = {"gradualRolloutUserId": "userId", "gradualRolloutSessionId": "sessionId"}
            stickiness = field.get(strategy["name"], "random")
            percentage = int(params["percentage"])
        case _:  # flexibleRollout
            stickiness = params.get("stickiness", "default")
            percentage = int(params["rollout"])
    identifier = rollout_identifier(stickiness=stickiness, context=fields)
    return gradual_rollout(percentage=percentage, identifier=identifier, group_id=group_id)


def _enabled_strategy(feature: Json | None, fields: dict[str, str]) -> Json | None:
    """The first strategy that enables ``feature`` ({} when it has none), or None when off."""
    if feature is None or not feature["enabled"]:
        return None
    if not feature["strategies"]:
        return {}
    for strategy in feature["strategies"]:
        if _strategy_enabled(strategy, feature_name=feature["name"], fields=fields):
            return strategy
    return None


def _variant_result(feature: Json | None, fields: dict[str, str]) -> Json:
    strategy = _enabled_strategy(feature, fields)
    if feature is None or strategy is None:
        return DISABLED
    raw, group_id = feature.get("variants", []), feature["name"]
    if strategy.get("variants"):  # Strategy variants win, hashed within the strategy's group.
        raw, group_id = strategy["variants"], strategy["parameters"].get("groupId", group_id)
    variants = [
        Variant(
            name=item["name"],
            weight=item["weight"],
            payload=VariantPayload(**item["payload"]) if "payload" in item else None,
            stickiness=item.get("stickiness", "default"),
        )
        for item in raw
    ]
    if not variants:
        return DISABLED
    identifier = variant_identifier(stickiness=variants[0].stickiness, context=fields)
    chosen = select_variant(variants, identifier=identifier, group_id=group_id)
    if chosen is None:
        return DISABLED
    result: Json = {"name": chosen.name}
    if chosen.payload is not None:
        result["payload"] = {"type": chosen.payload.type, "value": chosen.payload.value}
    return result | {"enabled": True}


def _load_cases() -> tuple[list[Any], list[tuple[str, str]]]:
    runnable: list[Any] = []
    skipped: list[tuple[str, str]] = []
    for name in SPEC_FILES:
        spec = json.loads((DATA / name).read_text(encoding="utf-8"))
        features = {feature["name"]: feature for feature in spec["state"]["features"]}
        for kind in ("tests", "variantTests"):
            for index, case in enumerate(spec.get(kind, [])):
                feature = features.get(case["toggleName"])
                case_id = f"{name.split('-')[0]}-{kind}-{index}"
                reason = _unsupported(feature)
                if reason is None:
                    param = (kind, feature, case["context"], case["expectedResult"])
                    runnable.append(pytest.param(*param, id=case_id))
                else:
                    skipped.append((f"{case_id}: {case['description']}", reason))
    return runnable, skipped


RUNNABLE, SKIPPED = _load_cases()


@pytest.mark.parametrize(("kind", "feature", "context", "expected"), RUNNABLE)
def test_unleash_spec_case_gets_the_expected_result(
    kind: str, feature: Json | None, context: Json, expected: Any
) -> None:
    fields = _fields(context)
    if kind == "tests":
        assert (_enabled_strategy(feature, fields) is not None) is expected
    else:
        assert _variant_result(feature, fields) == expected


def test_only_the_known_unsupported_spec_cases_are_set_aside() -> None:
    # Unleash's IN operator (environment constraints in 16-strategy-variants) is not ours yet.
    assert len(RUNNABLE) == 67
    assert Counter(reason for _, reason in SKIPPED) == {"constraint operator IN": 3}


# --- Hashing -----------------------------------------------------------------------------------


def test_mmh3_gives_the_published_murmur3_x86_32_vector_with_a_seed() -> None:
    # Appleby's MurmurHash3_x86_32 reference vector; guards the library and the seed argument.
    text = "The quick brown fox jumps over the lazy dog"
    assert mmh3.hash(text, 0x9747B28C, signed=False) == 0x2FA826CD


def test_normalized_hash_buckets_group_then_identifier_and_needs_a_range() -> None:
    # Buckets behind the 03-gradual-rollout-user-id cases (50 % rollout in group AB12A).
    assert normalized_hash("122", "AB12A") == 23
    assert normalized_hash("155", "AB12A") == 100
    assert normalized_hash("5", "a", normalizer=2, seed=VARIANT_HASH_SEED) == 1
    with pytest.raises(ValueError, match="normalizer"):
        normalized_hash("1", "g", normalizer=0)


# --- Rollout properties ------------------------------------------------------------------------

IDS = [f"user-{n}" for n in range(10_000)]


def _enabled(percentage: int, group_id: str = "checkout-v2") -> set[str]:
    return {
        i for i in IDS if gradual_rollout(percentage=percentage, identifier=i, group_id=group_id)
    }


def test_twenty_percent_rollout_enables_about_a_fifth_of_ten_thousand_ids() -> None:
    assert 1_850 <= len(_enabled(20)) <= 2_150


def test_ramping_up_never_disables_anyone_already_enabled() -> None:
    at_10, at_20 = _enabled(10), _enabled(20)
    assert at_10 < at_20
    assert all(_enabled(p) <= _enabled(p + 1) for p in range(0, 100, 9))


def test_rollout_answer_is_sticky_for_the_same_id_and_group() -> None:
    first = [gradual_rollout(percentage=37, identifier=i, group_id="g") for i in IDS[:500]]
    again = [gradual_rollout(percentage=37, identifier=i, group_id="g") for i in IDS[:500]]
    assert first == again


def test_different_groups_enable_different_audiences() -> None:
    assert _enabled(20, "feature-a") != _enabled(20, "feature-b")


def test_zero_percent_enables_nobody_and_hundred_enables_everybody() -> None:
    assert _enabled(0) == set()
    assert _enabled(100) == set(IDS)


@pytest.mark.parametrize("identifier", [None, ""])
def test_rollout_without_an_identifier_is_off_even_at_hundred_percent(
    identifier: str | None,
) -> None:
    assert gradual_rollout(percentage=100, identifier=identifier, group_id="g") is False


def test_rollout_identifier_follows_unleash_stickiness() -> None:
    both = {"userId": "u1", "sessionId": "s1"}
    assert rollout_identifier(stickiness="default", context=both) == "u1"
    assert rollout_identifier(stickiness="default", context={"sessionId": "s1"}) == "s1"
    assert rollout_identifier(stickiness="sessionId", context=both) == "s1"
    assert rollout_identifier(stickiness="tenantId", context=both) is None
    assert rollout_identifier(stickiness="default", context={}) != rollout_identifier(
        stickiness="default", context={}
    )


def test_variant_identifier_falls_back_to_remote_address_then_random() -> None:
    address = {"remoteAddress": "10.0.0.1"}
    assert variant_identifier(stickiness="default", context=address) == "10.0.0.1"
    assert variant_identifier(stickiness="tenantId", context={"tenantId": "t9"}) == "t9"
    assert variant_identifier(stickiness="tenantId", context={})  # random, never empty


# --- Variants ----------------------------------------------------------------------------------


def test_variants_split_by_weight_and_stick_per_identifier() -> None:
    variants = [
        Variant(name=name, weight=weight) for name, weight in (("a", 1), ("b", 3), ("c", 0))
    ]
    picks = [select_variant(variants, identifier=i, group_id="exp") for i in IDS]
    counts = Counter(v.name for v in picks if v is not None)
    assert counts["c"] == 0
    assert 2_300 <= counts["a"] <= 2_700
    assert picks == [select_variant(variants, identifier=i, group_id="exp") for i in IDS]


def test_variant_buckets_do_not_follow_rollout_buckets() -> None:
    # Why Unleash seeds variants: without it a 10 % rollout would only ever see variant "a".
    variants = [Variant(name="a", weight=50), Variant(name="b", weight=50)]
    rolled_out = _enabled(10)
    picks = {select_variant(variants, identifier=i, group_id="checkout-v2") for i in rolled_out}
    assert picks == set(variants)


@pytest.mark.parametrize("variants", [[], [Variant(name="a", weight=0)]])
def test_no_variant_without_weight(variants: list[Variant]) -> None:
    assert select_variant(variants, identifier="u1", group_id="g") is None


def test_negative_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="negative weight"):
        Variant(name="a", weight=-1)


# --- Semver ------------------------------------------------------------------------------------

# semver.org 2.0, section 11, then releases; each version is below the next one.
SEMVER_ORDER = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2"]
SEMVER_ORDER += ["1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"]


def test_semver_precedence_follows_semver_2() -> None:
    parsed = [SemVer.parse(text) for text in SEMVER_ORDER]
    keys = [version.precedence() for version in parsed if version is not None]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(SEMVER_ORDER)


@pytest.mark.parametrize(
    ("lower", "higher"), list(zip(SEMVER_ORDER, SEMVER_ORDER[1:], strict=False))
)
def test_semver_operators_agree_on_each_neighbouring_pair(lower: str, higher: str) -> None:
    def check(op: SemverOperator, left: str, right: str) -> bool:
        return semver_matches(operator=op, context_value=left, constraint_value=right)

    assert check(SemverOperator.SEMVER_LT, lower, higher)
    assert check(SemverOperator.SEMVER_GT, higher, lower)
    assert check(SemverOperator.SEMVER_LTE, lower, higher)
    assert not check(SemverOperator.SEMVER_GTE, lower, higher)
    assert not check(SemverOperator.SEMVER_EQ, lower, higher)
    assert check(SemverOperator.SEMVER_EQ, f"{lower}+build.7", lower)


@pytest.mark.parametrize(
    "invalid",
    [None, "", "1.2", "v1.2.3", "01.2.3", "1.2.3-01", "1.2.3 ", "1.2.3\n", "1.2.3-", "١.٢.٣"],
)
@pytest.mark.parametrize("operator", list(SemverOperator))
def test_invalid_versions_never_match_and_never_raise(
    invalid: str | None, operator: SemverOperator
) -> None:
    assert not semver_matches(operator=operator, context_value=invalid, constraint_value="1.2.3")
    if invalid is not None:
        assert not semver_matches(
            operator=operator, context_value="1.2.3", constraint_value=invalid
        )
