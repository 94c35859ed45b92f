"""New traces are sampled at the configured ratio, decided once, the SDK's way."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from cleave.observability import tracing


@pytest.fixture
def ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    monkeypatch.setattr(tracing, "_root_bound", None)
    tracing._set_root_bound(env)


@pytest.mark.usefixtures("ratio")
def test_about_the_ratio_of_new_traces_is_sampled_and_the_sdk_would_agree() -> None:
    sampler = TraceIdRatioBased(0.1)
    drawn = [tracing.new_root_trace() for _ in range(20_000)]
    sampled = [trace_id for trace_id in drawn if trace_id is not None]
    assert 1_600 < len(sampled) < 2_400  # 10 % of 20,000, give or take
    # The SDK's own sampler, given the same ids, samples every one of them.
    for trace_id in sampled[:200]:
        assert sampler.should_sample(None, trace_id, "x").decision.is_sampled()


def test_the_sdk_uses_the_preset_trace_id() -> None:
    generator = tracing._PresetTraceIds()
    with tracing.preset_trace_id(0xABC):
        assert generator.generate_trace_id() == 0xABC
    assert generator.generate_trace_id() != 0xABC


@pytest.mark.parametrize(
    ("env", "rate"),
    [
        ({}, 1.0),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, 0.0),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, 0.25),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "x"}, 1.0),
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, None),
    ],
)
def test_the_root_rate_follows_the_standard_variables(
    env: dict[str, str], rate: float | None
) -> None:
    assert tracing._root_rate(env) == rate
