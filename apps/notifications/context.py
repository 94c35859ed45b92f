"""notifications declares itself: the in-app inbox and pushes to devices."""

from cleave.contexts import Context

CONTEXT = Context(
    label="notifications",
    app="apps.notifications",
    url_prefixes=("/api/v1/notifications",),
    encrypted_fields=("Device.push_token",),
)
