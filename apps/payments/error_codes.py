"""payments' error codes: the contract's (what callers and the app may see) and the API's own."""

from __future__ import annotations

from cleave.errors import BadRequest, Forbidden
from contracts.payments import (
    AmountInvalid,
    IdempotencyKeyReused,
    IntentNotFound,
    PaymentDeclined,
    ProviderUnavailable,
    UnexpectedState,
)


class TestModeOnly(Forbidden):
    """The test-mode confirmation exists only with the test provider (or a test key)."""

    __test__ = False  # not a pytest class, whatever its name
    code = "payments.test_mode_only"
    message_template = "Test-mode confirmation is not available with this payment provider."


class WebhookSignatureInvalid(BadRequest):
    code = "payments.webhook_signature_invalid"
    message_template = "The webhook's signature does not verify ({reason})."


__all__ = [
    "AmountInvalid",
    "IdempotencyKeyReused",
    "IntentNotFound",
    "PaymentDeclined",
    "ProviderUnavailable",
    "TestModeOnly",
    "UnexpectedState",
    "WebhookSignatureInvalid",
]
