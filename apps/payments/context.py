"""payments declares itself: payment intents over a provider (Stripe, or the test provider)."""

from collections.abc import Mapping
from typing import Any

from cleave.contexts import Context


def _settings(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        # "test" (the in-process simulator: embedded mode's default, no account anywhere) or
        # "stripe" (the PaymentIntents API at CLEAVE_STRIPE_API_BASE: real mode's default).
        "CLEAVE_PAYMENTS_PROVIDER": env.get("CLEAVE_PAYMENTS_PROVIDER", ""),
        "CLEAVE_STRIPE_API_BASE": env.get("CLEAVE_STRIPE_API_BASE", "https://api.stripe.com"),
        "CLEAVE_STRIPE_SECRET_KEY": env.get("CLEAVE_STRIPE_SECRET_KEY", ""),
        "CLEAVE_STRIPE_PUBLISHABLE_KEY": env.get("CLEAVE_STRIPE_PUBLISHABLE_KEY", ""),
        "CLEAVE_STRIPE_WEBHOOK_SECRET": env.get("CLEAVE_STRIPE_WEBHOOK_SECRET", ""),
        # A saga step waits for the provider at most this long per try: Stripe answers in well
        # under a second; 10 s, times (1 + retries), stays inside a step's deadline.
        "CLEAVE_STRIPE_TIMEOUT_SECONDS": float(env.get("CLEAVE_STRIPE_TIMEOUT_SECONDS", "10")),
        # Retries of a connection error, timeout, 409 or 5xx, with the same Idempotency-Key.
        "CLEAVE_STRIPE_MAX_RETRIES": int(env.get("CLEAVE_STRIPE_MAX_RETRIES", "2")),
        # Stripe's own default: a signature older than 5 minutes is a replay.
        "CLEAVE_STRIPE_WEBHOOK_TOLERANCE": int(env.get("CLEAVE_STRIPE_WEBHOOK_TOLERANCE", "300")),
        # The test-mode confirmation endpoint: on with the test provider; with "stripe" only
        # when set to 1 and the secret key is a test key (sk_test_…).
        "CLEAVE_PAYMENTS_TEST_CONFIRM": env.get("CLEAVE_PAYMENTS_TEST_CONFIRM", "") == "1",
    }


CONTEXT = Context(
    label="payments",
    app="apps.payments",
    url_prefixes=("/api/v1/payments",),
    encrypted_fields=("PaymentIntent.client_secret",),
    settings=_settings,
)
