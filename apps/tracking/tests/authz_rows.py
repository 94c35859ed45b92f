"""tracking's rows of the authorization matrix (tests/security/test_authz_matrix.py merges
the rows of every installed context): route → (anonymous, user, other_user, moderator, staff,
admin), a cell "<status>" or "<status> <error code>"."""

NO_TOKEN = "401 token_missing"
NOT_SERVICE = "401 service_token_invalid"  # /internal/ takes service tokens only
NO_CONSENT = "403 tracking_consent_required"  # the matrix's users never opted in
# The matrix's world records no trips and opens no shares (its users never opted in), so the
# caller's own id is as unknown as someone else's: both 404, and never a hint either exists.
NO_TRIP = {"own": "404 trip_not_found", "foreign": "404 trip_not_found"}
NO_SHARE = {"own": "404 share_not_found", "foreign": "404 share_not_found"}

ROWS = {
    "GET /api/v1/tracking/consent": (NO_TOKEN, "200", "200", "200", "200", "200"),
    "PUT /api/v1/tracking/consent": (NO_TOKEN, "200", "200", "200", "200", "200"),
    "POST /api/v1/tracking/batches": (NO_TOKEN, *(NO_CONSENT,) * 5),
    "GET /api/v1/tracking/location": (NO_TOKEN, *("404 location_not_found",) * 5),
    "GET /api/v1/tracking/trips": (NO_TOKEN, "200", "200", "200", "200", "200"),
    "GET /api/v1/tracking/trips/{trip_id}": (NO_TOKEN, *(NO_TRIP,) * 5),
    "GET /api/v1/tracking/areas/{cell}": (NO_TOKEN, "200", "200", "200", "200", "200"),
    "POST /api/v1/tracking/shares": (NO_TOKEN, *(NO_CONSENT,) * 5),
    "GET /api/v1/tracking/shares": (NO_TOKEN, "200", "200", "200", "200", "200"),
    "DELETE /api/v1/tracking/shares/{share_id}": (NO_TOKEN, *(NO_SHARE,) * 5),
    "POST /internal/tracking/consent_get": (NOT_SERVICE,) * 6,
}
# A valid body per route, so that an allowed caller succeeds and nothing else decides.
BODIES = {
    "PUT /api/v1/tracking/consent": {"granted": False},
    "POST /api/v1/tracking/batches": {
        "batch_id": "authz",
        "device_time": "2026-01-01T00:00:00Z",
        "points": [],
    },
    "POST /api/v1/tracking/shares": {"user_id": 99, "minutes": 5},
}
