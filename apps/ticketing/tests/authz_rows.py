"""ticketing's rows of the authorization matrix (tests/security/test_authz_matrix.py merges
the rows of every installed context): route → (anonymous, user, other_user, moderator, staff,
admin), a cell "<status>" or "<status> <error code>", or own/foreign answers for a hold."""

NO_TOKEN = "401 token_missing"
NOT_SERVICE = "401 service_token_invalid"  # /internal/ takes service tokens only
ANY_USER = (NO_TOKEN, "200", "200", "200", "200", "200")
HOLD = {"own": "200", "foreign": "404 hold_not_found"}
ORDER = {"own": "200", "foreign": "404 order_not_found"}
NOT_SCANNER = "403 forbidden"  # the `scanner` role is granted to door staff only

ROWS = {
    # Shows are public to anyone signed in (drafts answer 404 to all).
    "GET /api/v1/ticketing/shows": ANY_USER,
    "GET /api/v1/ticketing/shows/{show_id}": ANY_USER,
    "GET /api/v1/ticketing/shows/{show_id}/scanner-keys": ANY_USER,
    "GET /api/v1/ticketing/shows/{show_id}/categories/{category_id}/seats": ANY_USER,
    # Anyone signed in may queue for a show; a place is read by its buyer only (a new show
    # per cell here: nobody has a place in it yet).
    "POST /api/v1/ticketing/shows/{show_id}/queue": ANY_USER,
    "GET /api/v1/ticketing/shows/{show_id}/queue": (NO_TOKEN, *("404 not_in_queue",) * 5),
    "POST /api/v1/ticketing/holds": (NO_TOKEN, "201", "201", "201", "201", "201"),
    "DELETE /api/v1/ticketing/holds/{hold_id}": (NO_TOKEN, HOLD, HOLD, HOLD, HOLD, HOLD),
    # Orders: anyone signed in buys (the matrix sends an Idempotency-Key); an order is its
    # buyer's alone (someone else's answers 404, its existence not leaked).
    "POST /api/v1/ticketing/orders": (NO_TOKEN, "201", "201", "201", "201", "201"),
    "GET /api/v1/ticketing/orders": ANY_USER,
    "GET /api/v1/ticketing/orders/{order_id}": (NO_TOKEN, ORDER, ORDER, ORDER, ORDER, ORDER),
    "POST /api/v1/ticketing/orders/{order_id}/cancel": (
        NO_TOKEN,
        ORDER,
        ORDER,
        ORDER,
        ORDER,
        ORDER,
    ),  # fmt: skip
    "GET /api/v1/ticketing/tickets": ANY_USER,
    "POST /api/v1/ticketing/checkins": (NO_TOKEN, *(NOT_SCANNER,) * 5),
    "POST /internal/ticketing/shows_get": (NOT_SERVICE,) * 6,
}
# A valid body per route, so that an allowed caller succeeds and nothing else decides (the
# hold's body names a category made in the matrix's world: see its `_body`).
BODIES = {
    "POST /api/v1/ticketing/checkins": {
        "show_id": 1,
        "scans": [{"token": "x", "gate": "A", "scanned_at": "2030-01-01T00:00:00Z"}],
    },
    "POST /internal/ticketing/shows_get": {"show_ids": [1]},
}
