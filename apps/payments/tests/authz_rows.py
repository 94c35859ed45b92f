"""payments' rows of the authorization matrix (tests/security/test_authz_matrix.py merges the
rows of every installed context): route → (anonymous, user, other_user, moderator, staff,
admin), a cell "<status>", "<status> <error code>", or {scenario: cell} for own/foreign."""

from django.conf import settings

NO_TOKEN = "401 token_missing"
NOT_SERVICE = "401 service_token_invalid"  # /internal/ takes service tokens only
NO_INTENT = "404 payments.intent_not_found"
# The test-mode confirmation runs with the test provider only (embedded mode's default).
TEST_CONFIRM = {
    "own": "200" if settings.CLEAVE_MODE == "embedded" else "403 payments.test_mode_only",
    "foreign": NO_INTENT,
}
# Anyone may knock; only a body signed with the webhook secret gets in.
UNSIGNED = "400 payments.webhook_signature_invalid"

ROWS = {
    "GET /api/v1/payments/intents/{intent_id}": (NO_TOKEN,)
    + ({"own": "200", "foreign": NO_INTENT},) * 5,
    "POST /api/v1/payments/intents/{intent_id}/test-confirm": (NO_TOKEN,) + (TEST_CONFIRM,) * 5,
    "POST /api/v1/payments/webhooks/stripe": (UNSIGNED,) * 6,
    **{
        f"POST /internal/payments/{call}": (NOT_SERVICE,) * 6
        for call in (
            "intent_cancel",
            "intent_capture",
            "intent_confirm",
            "intent_create",
            "intent_find",
            "intent_get",
            "refund_create",
        )
    },
}
BODIES = {
    "POST /api/v1/payments/intents/{intent_id}/test-confirm": {"payment_method": "pm_card_visa"}
}
