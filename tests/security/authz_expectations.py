"""Who may call what: the expected answer of every route for every kind of caller, written once.

Read a row as "route: (anonymous, user, other_user, moderator, staff, admin)". A cell is
"<status>" for success or "<status> <error code>" for an error (the code of the envelope
`{"error": {"code": ...}}`). A route that takes an object id has cells that depend on whose
object it is: a dict from scenario to outcome (`mine(...)`, `member(...)`):

    own      the caller's own object
    foreign  someone else's object (for `user` the object of `other_user`, for everyone else the
             object of `user`): docs/api.md says this is 404, "never a hint that it exists"
    peer     inside a conversation the caller belongs to, but another member's (message) or
             led by another member (membership changes): 403 `not_sender` / `not_owner`
    mixed    the caller's own conversation with a message id taken from a foreign conversation

A plain string cell applies to every scenario of its row. `test_authz_matrix.py` walks the URL
configuration and fails on any route missing here (or listed here but gone), so the table stays
complete; it then runs every cell against the app with real tokens.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from django.conf import settings

from cleave import contexts

Cell = str | dict[str, str]

ROLES: Final = ("anonymous", "user", "other_user", "moderator", "staff", "admin")

# Documented answers to callers without the right credentials.
NO_TOKEN: Final = "401 token_missing"  # the mobile API without `Authorization: Bearer`
FORBIDDEN: Final = "403 forbidden"  # a role the route does not admit
OPS_ANON: Final = "401 unauthorized"  # DRF: no credentials at all
NOT_SERVICE: Final = "401 service_token_invalid"  # /internal/ takes service tokens only
NOT_FOUND: Final = "404 not_found"  # no such path
TO_LOGIN: Final = "302"  # the admin sends non-staff to its login page
# /metrics and the internal OpenAPI/docs: open to the process's own network in real mode (the
# gateway closes them), kept to loopback by the embedded server; the matrix calls from 10.9.x.
LOOPBACK_ONLY: Final = NOT_FOUND if settings.CLEAVE_MODE == "embedded" else "200"
METRICS: Final = "404" if settings.CLEAVE_MODE == "embedded" else "200"  # not under /api/


def mine(own: str, foreign: str) -> dict[str, str]:
    """A per-user object: the caller's own answers `own`, anyone else's answers `foreign`."""
    return {"own": own, "foreign": foreign}


def member(own: str, peer: str, foreign: str, mixed: str | None = None) -> dict[str, str]:
    """A conversation-scoped object, with the in-conversation (`peer`) case as well."""
    return {"own": own, "peer": peer, "foreign": foreign} | ({"mixed": mixed} if mixed else {})


NO_CONV: Final = "404 conversation_not_found"
CONV = mine("200", NO_CONV)
SESSION = mine("204", "404 session_not_found")
PROFILE = mine("200", "200")  # public profiles: documented as readable by anyone signed in
# Moderation acts on accounts its role outranks (someone else's plain account here), never on
# the moderator's own (equal rank: use account deletion).
DEACT = mine("403 forbidden", "204")
MEMBER_ADD = member("201", "403 not_owner", NO_CONV)  # an invitation: never a membership
MEMBER_DEL = member("204", "403 not_owner", NO_CONV)
MSG_EDIT = member("200", "403 not_sender", NO_CONV, "404 message_not_found")
MSG_DELETE = member("204", "403 not_sender", NO_CONV, "404 message_not_found")
MSG_SEND = mine("201", NO_CONV)
NOTIF = mine("200", "404 notification_not_found")
BLOCK = mine("422 cannot_block_self", "204")  # "own" is the caller themself
INVITE_ACCEPT = mine("200", "404 invitation_not_found")
INVITE_DECLINE = mine("204", "404 invitation_not_found")

VOUCH = mine("200", "200")  # staff vouch for any account's address, their own included

# Routes where someone else's object is, by design, not a 404 (see docs/api.md): reading a
# public profile, moderation, and blocking. Every other "foreign" cell of a signed-in caller
# must be 404.
FOREIGN_NOT_404_BY_DESIGN: Final = frozenset(
    {
        "GET /api/v1/users/{user_id}",
        "POST /api/v1/users/{user_id}/deactivate",
        # Blocking names another user by definition: "foreign" is the ordinary case.
        "POST /api/v1/users/{user_id}/block",
        "DELETE /api/v1/users/{user_id}/block",
        "POST /api/ops/users/{user_id}/verify-email/",  # staff vouch for any account's address
        "PUT /api/ops/users/{user_id}/roles/",  # staff grant any account the contexts' roles
    }
)

Row = tuple[Cell, Cell, Cell, Cell, Cell, Cell]

# fmt: off
CORE_ROWS: Final[dict[str, Row]] = {
    # route
    #    anonymous     user          other_user    moderator     staff         admin
    # -- plain Django: health, keys, the admin (one row: its index)
    "GET /healthz":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "GET /readyz":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "GET /.well-known/jwks.json":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    # Prometheus scrapes it unauthenticated; the gateway keeps it from the internet, and the
    # embedded server from any non-loopback client (tests/security/test_api_surface.py)
    "GET /metrics":
        (METRICS,      METRICS,      METRICS,      METRICS,      METRICS,      METRICS),
    "GET /admin/":
        (TO_LOGIN,     TO_LOGIN,     TO_LOGIN,     TO_LOGIN,     "200",        "200"),
    # -- the mobile API: public
    "GET /api/v1/":
        (NOT_FOUND,    NOT_FOUND,    NOT_FOUND,    NOT_FOUND,    NOT_FOUND,    NOT_FOUND),
    "GET /api/v1/openapi.json":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/docs":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/meta":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/flags":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/auth/register":
        ("201",        "201",        "201",        "201",        "201",        "201"),
    "POST /api/v1/auth/login":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/auth/refresh":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/auth/password-reset":
        ("202",        "202",        "202",        "202",        "202",        "202"),
    "POST /api/v1/auth/password-reset/confirm":
        ("204",        "204",        "204",        "204",        "204",        "204"),
    # the signed link is the credential: opened signed in or not
    "POST /api/v1/auth/verify-email":
        ("200",        "200",        "200",        "200",        "200",        "200"),
    # -- the mobile API: the signed-in account
    "POST /api/v1/auth/logout":
        (NO_TOKEN,     "204",        "204",        "204",        "204",        "204"),
    "GET /api/v1/me":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "PATCH /api/v1/me":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "DELETE /api/v1/me":
        (NO_TOKEN,     "204",        "204",        "204",        "204",        "204"),
    "POST /api/v1/me/password":
        (NO_TOKEN,     "204",        "204",        "204",        "204",        "204"),
    "POST /api/v1/me/email":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/me/email/verification":
        (NO_TOKEN,     "202",        "202",        "202",        "202",        "202"),
    "GET /api/v1/sessions":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "DELETE /api/v1/sessions/{session_id}":
        (NO_TOKEN,     SESSION,      SESSION,      SESSION,      SESSION,      SESSION),
    "PUT /api/v1/devices/current/push-token":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/users/{user_id}":
        (NO_TOKEN,     PROFILE,      PROFILE,      PROFILE,      PROFILE,      PROFILE),
    "POST /api/v1/users/{user_id}/deactivate":
        (NO_TOKEN,     FORBIDDEN,    FORBIDDEN,    DEACT,        DEACT,        DEACT),
    "POST /api/v1/users/{user_id}/block":
        (NO_TOKEN,     BLOCK,        BLOCK,        BLOCK,        BLOCK,        BLOCK),
    "DELETE /api/v1/users/{user_id}/block":
        (NO_TOKEN,     BLOCK,        BLOCK,        BLOCK,        BLOCK,        BLOCK),
    "GET /api/v1/blocks":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    # -- the mobile API: messaging
    "GET /api/v1/conversations":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/conversations/sync":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/conversations":
        (NO_TOKEN,     "201",        "201",        "201",        "201",        "201"),
    "GET /api/v1/conversations/{conversation_id}":
        (NO_TOKEN,     CONV,         CONV,         CONV,         CONV,         CONV),
    "POST /api/v1/conversations/{conversation_id}/members":
        (NO_TOKEN,     MEMBER_ADD,   MEMBER_ADD,   MEMBER_ADD,   MEMBER_ADD,   MEMBER_ADD),
    "DELETE /api/v1/conversations/{conversation_id}/members/{user_id}":
        (NO_TOKEN,     MEMBER_DEL,   MEMBER_DEL,   MEMBER_DEL,   MEMBER_DEL,   MEMBER_DEL),
    "GET /api/v1/conversations/{conversation_id}/messages":
        (NO_TOKEN,     CONV,         CONV,         CONV,         CONV,         CONV),
    "POST /api/v1/conversations/{conversation_id}/messages":
        (NO_TOKEN,     MSG_SEND,     MSG_SEND,     MSG_SEND,     MSG_SEND,     MSG_SEND),
    "PATCH /api/v1/conversations/{conversation_id}/messages/{message_id}":
        (NO_TOKEN,     MSG_EDIT,     MSG_EDIT,     MSG_EDIT,     MSG_EDIT,     MSG_EDIT),
    "DELETE /api/v1/conversations/{conversation_id}/messages/{message_id}":
        (NO_TOKEN,     MSG_DELETE,   MSG_DELETE,   MSG_DELETE,   MSG_DELETE,   MSG_DELETE),
    "POST /api/v1/conversations/{conversation_id}/read":
        (NO_TOKEN,     CONV,         CONV,         CONV,         CONV,         CONV),
    "GET /api/v1/invitations":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/invitations/{invitation_id}/accept":
        (NO_TOKEN,     INVITE_ACCEPT, INVITE_ACCEPT, INVITE_ACCEPT, INVITE_ACCEPT, INVITE_ACCEPT),
    "POST /api/v1/invitations/{invitation_id}/decline":
        (NO_TOKEN,     INVITE_DECLINE, INVITE_DECLINE, INVITE_DECLINE, INVITE_DECLINE,
         INVITE_DECLINE),
    # -- the mobile API: notifications
    "GET /api/v1/notifications":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/notifications/sync":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "GET /api/v1/notifications/badge":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/notifications/read-all":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "POST /api/v1/notifications/{item_id}/read":
        (NO_TOKEN,     NOTIF,        NOTIF,        NOTIF,        NOTIF,        NOTIF),
    "GET /api/v1/notifications/preferences":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    "PATCH /api/v1/notifications/preferences":
        (NO_TOKEN,     "200",        "200",        "200",        "200",        "200"),
    # -- the ops API (DRF): staff reads; writes need cleave.change_flag (the superuser has it)
    "GET /api/ops/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200",        "200"),
    "GET /api/ops/contexts/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200",        "200"),
    "GET /api/ops/app-versions/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200",        "200"),
    "GET /api/ops/app-versions/{platform}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200",        "200"),
    "PUT /api/ops/app-versions/{platform}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200"),
    "PATCH /api/ops/app-versions/{platform}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200"),
    "DELETE /api/ops/app-versions/{platform}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "204"),
    "GET /api/ops/flags/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200",        "200"),
    "GET /api/ops/flags/{name}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200",        "200"),
    "PUT /api/ops/flags/{name}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200"),
    "PATCH /api/ops/flags/{name}/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200"),
    "POST /api/ops/flags/{name}/kill/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    "200"),
    "POST /api/ops/users/{user_id}/verify-email/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    VOUCH,        VOUCH),
    "PUT /api/ops/users/{user_id}/roles/":
        (OPS_ANON,     FORBIDDEN,    FORBIDDEN,    FORBIDDEN,    VOUCH,        VOUCH),
    # -- /internal/: service-to-service contract calls; no user token opens them
    "GET /internal/":
        (NOT_FOUND,    NOT_FOUND,    NOT_FOUND,    NOT_FOUND,    NOT_FOUND,    NOT_FOUND),
    "GET /internal/openapi.json":
        (LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY),
    "GET /internal/docs":
        (LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY, LOOPBACK_ONLY),
    "POST /internal/flags/definitions_get":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/identity/user_get":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/identity/user_status":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/identity/users_get":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/sessions/sessions_revoked":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/messaging/conversation_members":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/messaging/membership_get":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    "POST /internal/messaging/memberships_get":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
    # the kernel's example context, installed by the test settings only
    "POST /internal/orders/order_get":
        (NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE,  NOT_SERVICE),
}
# fmt: on
# A realtime process's questions to the service hosting a context's streams and frames
# (cleave.realtime.hosted): the kernel serves them for every hosted context that has any.
CORE_ROWS["GET /internal/_realtime/"] = (NOT_FOUND,) * 6
CORE_ROWS.update(
    {
        f"POST /internal/_realtime/{context.label}/{question}": (NOT_SERVICE,) * 6
        for context in contexts.installed()
        if context.realtime is not None
        for question in ("initial", "readable", "replay", "frame")
    }
)


def context_rows() -> tuple[dict[str, Row], dict[str, dict[str, Any]]]:
    """The rows (and request bodies) each installed context keeps in its own
    `tests/authz_rows.py` (`ROWS`, `BODIES`): a new context brings its rows along."""
    rows: dict[str, Row] = {}
    bodies: dict[str, dict[str, Any]] = {}
    for context in contexts.installed():
        name = f"{context.app}.tests.authz_rows"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name is not None and name.startswith(missing.name):
                continue  # no rows of its own (yet): its routes fail the completeness test
            raise
        twice = sorted((rows.keys() | CORE_ROWS.keys()) & module.ROWS.keys())
        assert not twice, f"{name} repeats rows: {twice}"
        rows.update(module.ROWS)
        bodies.update(getattr(module, "BODIES", {}))
    return rows, bodies


CONTEXT_ROWS, CONTEXT_BODIES = context_rows()
MATRIX: Final[dict[str, Row]] = {**CORE_ROWS, **CONTEXT_ROWS}

# Cells whose expectation is right but the product answers otherwise today: (route, role,
# scenario) → why. The test marks exactly these xfail(strict=True), so a fix turns them red
# until the entry is removed.
KNOWN_DEVIATIONS: Final[dict[tuple[str, str, str], str]] = {}


def scenarios_of(route: str) -> tuple[str, ...]:
    """The ownership scenarios a route is checked in (just "any" for routes without objects)."""
    names = {key for cell in MATRIX[route] if isinstance(cell, dict) for key in cell}
    return tuple(sorted(names)) or ("any",)


def expected(route: str, role: str, scenario: str) -> str:
    cell = MATRIX[route][ROLES.index(role)]
    return cell if isinstance(cell, str) else cell[scenario]
