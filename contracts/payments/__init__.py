"""What the payments context publishes: payment intents (authorize, capture, cancel, refund) and
the facts of their lifecycle.

A caller (ticketing's purchase saga) creates an intent for an amount in minor units with a
`reference` of its own ("order:42") and an idempotency key it derives from its own state, so a
retried call after a crash finds the first answer instead of charging twice. Every write takes
an idempotency key: the same key with the same arguments returns the same result; the same key
with other arguments raises `IdempotencyKeyReused`. Every event carries the `reference`, so the
caller correlates without reading payments' tables.

Statuses follow Stripe's PaymentIntents: requires_payment_method → requires_confirmation →
requires_capture (authorized, money held) → succeeded (captured); canceled from any status
before succeeded. A refund never turns a succeeded intent back; `amount_refunded` grows.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractError, ContractModel, Event, call

IntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
]
CancellationReason = Literal["requested_by_customer", "abandoned", "duplicate", "fraudulent"]
RefundReason = Literal["requested_by_customer", "duplicate", "fraudulent"]

# An idempotency key: visible ASCII, as Stripe accepts (≤ 255), derived by the caller.
_KEY = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")


class IntentCreate(ContractModel):
    """A manual-capture intent. With `payment_method` (a saved method, or a test method such as
    "pm_card_visa" against the test provider) and `confirm=True` it is confirmed at once."""

    amount: int = Field(gt=0, le=99_999_999)
    currency: str = Field(pattern=r"^[a-z]{3}$")
    reference: str = Field(min_length=1, max_length=200)
    idempotency_key: str = _KEY
    owner_user_id: int | None = Field(default=None, gt=0)
    capture_method: Literal["manual"] = "manual"
    payment_method: str | None = Field(default=None, max_length=200)
    confirm: bool = False
    description: str = Field(default="", max_length=500)


class IntentConfirm(ContractModel):
    intent_id: int = Field(gt=0)
    idempotency_key: str = _KEY
    payment_method: str = Field(min_length=1, max_length=200)


class IntentCapture(ContractModel):
    """`amount` (≤ the authorized amount) defaults to everything authorized."""

    intent_id: int = Field(gt=0)
    idempotency_key: str = _KEY
    amount: int | None = Field(default=None, gt=0)


class IntentCancel(ContractModel):
    intent_id: int = Field(gt=0)
    idempotency_key: str = _KEY
    reason: CancellationReason = "abandoned"


class RefundCreate(ContractModel):
    """`amount` (≤ captured − already refunded) defaults to everything left."""

    intent_id: int = Field(gt=0)
    idempotency_key: str = _KEY
    amount: int | None = Field(default=None, gt=0)
    reason: RefundReason = "requested_by_customer"


class IntentGet(ContractModel):
    intent_id: int = Field(gt=0)


class IntentFind(ContractModel):
    """The intent created under `idempotency_key`, if any: how a caller that crashed between
    asking and recording learns what exists, without creating anything."""

    idempotency_key: str = _KEY


class PaymentIntent(ContractModel):
    intent_id: int
    reference: str
    owner_user_id: int | None
    amount: int
    currency: str
    status: IntentStatus
    amount_capturable: int
    amount_received: int
    amount_refunded: int
    # For the provider's mobile SDK (PaymentSheet / confirmPayment); give it only to the owner.
    client_secret: str
    provider: str
    provider_intent_id: str
    last_error_code: str | None


class PaymentIntentFound(ContractModel):
    intent: PaymentIntent | None


class Refund(ContractModel):
    refund_id: int
    intent_id: int
    amount: int
    status: str
    intent: PaymentIntent


class IntentNotFound(ContractError):
    code = "payments.intent_not_found"
    status = 404
    message_template = "Payment intent {intent_id} does not exist."


class PaymentDeclined(ContractError):
    """The provider refused the payment method; the intent is back to requires_payment_method.
    Final for this method: compensate or ask the buyer for another."""

    code = "payments.declined"
    status = 402
    message_template = "The payment was declined ({decline_code})."


class UnexpectedState(ContractError):
    """The operation does not apply to the intent's status (capture before authorization,
    cancel after capture). `details.status` is the intent's status now."""

    code = "payments.unexpected_state"
    status = 409
    message_template = "The payment intent is {status}; it cannot be {operation}."


class AmountInvalid(ContractError):
    code = "payments.amount_invalid"
    status = 422
    message_template = "{reason}"


class IdempotencyKeyReused(ContractError):
    code = "payments.idempotency_key_reused"
    status = 409
    message_template = "This idempotency key was used with other arguments."


class ProviderUnavailable(ContractError):
    """The provider did not answer (down, timed out after retries with the same key). Nothing
    is known to have happened twice: retry the same call with the same key later."""

    code = "payments.provider_unavailable"
    status = 503
    message_template = "The payment provider is unavailable; retry with the same key."


_WRITE_ERRORS = [IntentNotFound, UnexpectedState, IdempotencyKeyReused, ProviderUnavailable]


class PaymentsService(Protocol):
    @call(
        idempotent=True,
        errors=[AmountInvalid, IdempotencyKeyReused, PaymentDeclined, ProviderUnavailable],
    )
    def intent_create(self, command: IntentCreate) -> PaymentIntent: ...

    @call(idempotent=True, errors=[PaymentDeclined, *_WRITE_ERRORS])
    def intent_confirm(self, command: IntentConfirm) -> PaymentIntent: ...

    @call(idempotent=True, errors=[AmountInvalid, *_WRITE_ERRORS])
    def intent_capture(self, command: IntentCapture) -> PaymentIntent: ...

    @call(idempotent=True, errors=_WRITE_ERRORS)
    def intent_cancel(self, command: IntentCancel) -> PaymentIntent: ...

    @call(idempotent=True, errors=[AmountInvalid, *_WRITE_ERRORS])
    def refund_create(self, command: RefundCreate) -> Refund: ...

    @call(idempotent=True, errors=[IntentNotFound])
    def intent_get(self, query: IntentGet) -> PaymentIntent: ...

    @call(idempotent=True)
    def intent_find(self, query: IntentFind) -> PaymentIntentFound: ...


class _IntentEvent(Event):
    intent_id: int
    reference: str
    amount: int
    currency: str


class PaymentAuthorized(_IntentEvent):
    """Money is held (status requires_capture): the caller may capture `amount_capturable`."""

    event_type: ClassVar[str] = "payments.payment_authorized"
    amount_capturable: int


class PaymentCaptured(_IntentEvent):
    event_type: ClassVar[str] = "payments.payment_captured"
    amount_received: int


class PaymentCancelled(_IntentEvent):
    event_type: ClassVar[str] = "payments.payment_cancelled"
    reason: str


class PaymentRefunded(_IntentEvent):
    """A refund succeeded; `amount_refunded` is the intent's total refunded so far."""

    event_type: ClassVar[str] = "payments.payment_refunded"
    refund_id: int
    refund_amount: int
    amount_refunded: int


class PaymentFailed(_IntentEvent):
    """An attempt was declined; the intent may still be confirmed with another method."""

    event_type: ClassVar[str] = "payments.payment_failed"
    error_code: str
    decline_code: str


PAYMENTS = Contract(
    context="payments",
    version="1.0",
    service=PaymentsService,
    events=(PaymentAuthorized, PaymentCancelled, PaymentCaptured, PaymentFailed, PaymentRefunded),
)

__all__ = [
    "AmountInvalid",
    "CancellationReason",
    "IdempotencyKeyReused",
    "IntentCancel",
    "IntentCapture",
    "IntentConfirm",
    "IntentCreate",
    "IntentFind",
    "IntentGet",
    "IntentNotFound",
    "IntentStatus",
    "PAYMENTS",
    "PaymentAuthorized",
    "PaymentCancelled",
    "PaymentCaptured",
    "PaymentDeclined",
    "PaymentFailed",
    "PaymentIntent",
    "PaymentIntentFound",
    "PaymentRefunded",
    "PaymentsService",
    "ProviderUnavailable",
    "Refund",
    "RefundCreate",
    "RefundReason",
    "UnexpectedState",
]
