"""identity declares itself: the edge — accounts, sessions, the keys tokens are signed with."""

from cleave.contexts import Context, Edge

CONTEXT = Context(
    label="identity",
    app="apps.identity",
    # Argon2id with OWASP's minimum (19 MiB, 2 passes, 1 lane) instead of Django's 100 MiB × 8
    # lanes: bounded memory per login on 2-core machines; measured in bench/identity.
    edge=Edge(
        user_model="identity.User",
        password_hasher="apps.identity.hashers.Argon2idHasher",  # noqa: S106 - a class path
    ),
    url_prefixes=(
        "/.well-known/jwks.json",
        "/api/v1/auth",
        "/api/v1/blocks",
        "/api/v1/devices",
        "/api/v1/me",
        "/api/v1/sessions",
        "/api/v1/users",
    ),
    # The kernel asks the owner of the sessions when its revocation cache does not know one.
    provides=("sessions",),
    encrypted_fields=("Device.push_token", "SigningKey.private_key_pem"),
    roles=("user", "moderator", "staff", "admin"),
)
