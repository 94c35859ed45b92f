"""Which app is calling: `X-Client-Version: <platform>/<version>`, e.g. `ios/2.4.1`.

The one header an app sends on every request (and the socket's handshake) to say its platform
and version. The app-version policy (cleave.app_versions), flag evaluation and the access log
all read it from here. Without it, or with a value that does not parse, the version is unknown:
such a request is never refused for its version, so curl, tests and old clients keep working.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest

from cleave.flags.bucketing import SemVer

HEADER = "X-Client-Version"
META_KEY = "HTTP_X_CLIENT_VERSION"
PLATFORMS = ("ios", "android", "web")
# A platform, a slash and a strict semantic version (cleave.flags.bucketing.SemVer).
_VALUE = re.compile(r"^(ios|android|web)/([0-9A-Za-z.+-]{5,64})$")


@dataclass(frozen=True, slots=True)
class ClientVersion:
    platform: str
    version: str

    def __str__(self) -> str:
        return f"{self.platform}/{self.version}"


# The calling app of the current request ("unknown" is None); set by ClientVersionMiddleware.
current_client_version: ContextVar[ClientVersion | None] = ContextVar(
    "cleave_client_version", default=None
)


def parse(raw: str | None) -> ClientVersion | None:
    """The header's value as a ClientVersion, or None when missing or malformed."""
    if not raw:
        return None
    match = _VALUE.match(raw.strip())
    if match is None or SemVer.parse(match.group(2)) is None:
        return None
    return ClientVersion(platform=match.group(1), version=match.group(2))


def client_version_of(request: HttpRequest) -> ClientVersion | None:
    """The calling app's platform and version, parsed once per request."""
    cached = getattr(request, "_cleave_client_version", False)
    if cached is None or isinstance(cached, ClientVersion):
        return cached
    found = parse(request.META.get(META_KEY))
    request._cleave_client_version = found  # type: ignore[attr-defined]  # per-request cache
    return found
