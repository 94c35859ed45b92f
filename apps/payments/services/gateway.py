"""The provider this process talks to, built once from the settings.

"test" is the simulator in this process (embedded mode's default: `make run` takes payments
with no account anywhere); "stripe" is the PaymentIntents API at CLEAVE_STRIPE_API_BASE (real
mode's default; tests and benchmarks point it at the fake server). The test provider keeps its
state in the process, which is why real mode, with many processes, does not default to it.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings

from apps.payments.gateways.simulator import StripeSimulator
from apps.payments.gateways.stripe_gateway import StripeGateway

TEST_SECRET_KEY = "sk_test_inprocess"  # noqa: S105 - the in-process simulator's own key
TEST_WEBHOOK_SECRET = "whsec_inprocess"  # noqa: S105 - the in-process simulator's own secret


def _setting(name: str) -> Any:
    # payments' own settings come from its declaration (context.py), unknown to the stubs.
    return getattr(settings, name)


def publishable_key() -> str:
    """The provider key the app's SDK is set up with (public by design)."""
    return str(_setting("CLEAVE_STRIPE_PUBLISHABLE_KEY"))


def provider_name() -> str:
    configured = str(_setting("CLEAVE_PAYMENTS_PROVIDER"))
    if configured:
        return configured
    return "test" if settings.CLEAVE_MODE == "embedded" else "stripe"


def test_confirm_allowed() -> bool:
    """Whether the test-mode confirmation may run: with the test provider, or when asked for
    against Stripe with a test key (never a live one)."""
    if provider_name() == "test":
        return True
    return bool(_setting("CLEAVE_PAYMENTS_TEST_CONFIRM")) and str(
        _setting("CLEAVE_STRIPE_SECRET_KEY")
    ).startswith("sk_test_")


def current() -> StripeGateway:
    return _build(
        provider_name(),
        str(_setting("CLEAVE_STRIPE_API_BASE")),
        str(_setting("CLEAVE_STRIPE_SECRET_KEY")),
        str(_setting("CLEAVE_STRIPE_WEBHOOK_SECRET")),
        float(_setting("CLEAVE_STRIPE_TIMEOUT_SECONDS")),
        int(_setting("CLEAVE_STRIPE_MAX_RETRIES")),
        int(_setting("CLEAVE_STRIPE_WEBHOOK_TOLERANCE")),
    )


@functools.cache
def _build(
    name: str,
    api_base: str,
    secret_key: str,
    webhook_secret: str,
    timeout: float,
    max_retries: int,
    tolerance: int,
) -> StripeGateway:
    if name == "test":
        return StripeGateway(
            secret_key=TEST_SECRET_KEY,
            api_base="https://inprocess.invalid",
            webhook_secret=TEST_WEBHOOK_SECRET,
            timeout=timeout,
            max_retries=max_retries,
            webhook_tolerance=tolerance,
            simulator=StripeSimulator(secret_key=TEST_SECRET_KEY),
        )
    if name != "stripe":
        raise ValueError(f"CLEAVE_PAYMENTS_PROVIDER must be 'test' or 'stripe', not {name!r}")
    return StripeGateway(
        secret_key=secret_key,
        api_base=api_base,
        webhook_secret=webhook_secret,
        timeout=timeout,
        max_retries=max_retries,
        webhook_tolerance=tolerance,
    )
