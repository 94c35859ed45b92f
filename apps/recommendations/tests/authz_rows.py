"""recommendations's rows of the authorization matrix (tests/security/test_authz_matrix.py merges
the rows of every installed context): route → (anonymous, user, other_user, moderator, staff,
admin), a cell "<status>" or "<status> <error code>"."""

NO_TOKEN = "401 token_missing"
NOT_SERVICE = "401 service_token_invalid"  # /internal/ takes service tokens only
# The matrix's world has no shows: feedback on one answers 404, for everyone signed in.
NO_SHOW = "404 recommendations_show_not_found"

ROWS = {
    "GET /api/v1/recommendations": (NO_TOKEN, "200", "200", "200", "200", "200"),
    # For anyone, signed in or not: the gateway caches these by cell.
    # The matrix sends no query string: lat and lon missing is what answers, for anyone.
    "GET /api/v1/recommendations/nearby": ("422 validation_error",) * 6,
    "GET /api/v1/recommendations/nearby/cells/{cell}": ("200",) * 6,
    "POST /api/v1/recommendations/feedback": (NO_TOKEN, *(NO_SHOW,) * 5),
    "POST /internal/recommendations/recommendations_get": (NOT_SERVICE,) * 6,
}
# A valid body per route, so that an allowed caller succeeds and nothing else decides.
BODIES = {"POST /api/v1/recommendations/feedback": {"show_id": 1, "kind": "click"}}
