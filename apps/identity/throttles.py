"""identity's limits: strict on anything that guesses passwords or sends mail.

Back-off is keyed by (account, client address), never by the account alone: wrong passwords
from many addresses must not lock the owner out (issue 16, finding 6). What an account sees
from everywhere together only slows attempts down (`AccountPressure`), it never refuses one.
"""

from __future__ import annotations

import contextlib
import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from cleave.gateway.throttling import Backoff, RateLimit, client_ip
from cleave.observability import metrics

register_limit = RateLimit("10/h", scope="register", key="ip")
login_limit = RateLimit("20/m", scope="login", key="ip")
refresh_limit = RateLimit("60/m", scope="refresh", key="ip")
reset_limit = RateLimit("10/h", scope="password-reset", key="ip")
# Verification links are HMAC-signed (nothing to guess); the limit only bounds the work.
verify_limit = RateLimit("30/m", scope="verify-email", key="ip")
# Each resend is a mail to someone's inbox: a few an hour per account.
verification_resend_limit = RateLimit("5/h", scope="verification-resend", key="user")
# Changing the address checks the password: bounded per account like a login.
email_change_limit = RateLimit("10/h", scope="email-change", key="user")
# Past 5 wrong passwords for an account from one address: that address waits 1 s, 2 s, 4 s …
# up to 15 min before its next try; other addresses are not affected.
login_backoff = Backoff(scope="login", free_failures=5, base_seconds=1, max_seconds=900)
# Past 3 reset mails for an address asked from one client address within a day: growing
# waits, up to an hour.
reset_backoff = Backoff(scope="password-reset", free_failures=3, base_seconds=60, max_seconds=3600)

_HOUR = 3600


def attempt_key(account: str, request: HttpRequest) -> str:
    """The back-off key of an attempt on `account` (as submitted, normalised) from this
    request's client address (`client_ip`: X-Forwarded-For only as deep as trusted)."""
    return f"account:{account}|ip:{client_ip(request)}"


class AccountPressure:
    """Failures of one account within the last hour, from every address together; past
    `CLEAVE_AUTH_ACCOUNT_FAILURES_PER_HOUR` each attempt waits `CLEAVE_AUTH_ACCOUNT_DELAY_SECONDS`
    (counted in `cleave_auth_delayed_total`, which alerts) and then proceeds as usual.

    The hour slides: the previous clock hour's count is weighted by how much of it still
    falls within the last 60 minutes, so an attack across a boundary does not start afresh.
    """

    def __init__(self, *, scope: str) -> None:
        self.scope = scope

    def _key(self, account: str, window: int) -> str:
        digest = hashlib.sha256(account.encode()).hexdigest()  # no address in key names
        return f"cleave:rl:pressure:{self.scope}:{window}:{digest}"

    def failures(self, account: str) -> float:
        now = time.time()
        window = int(now // _HOUR)
        current, previous = self._key(account, window), self._key(account, window - 1)
        counts = cache.get_many([current, previous])
        left_of_previous = 1 - (now % _HOUR) / _HOUR
        return float(counts.get(current, 0)) + float(counts.get(previous, 0)) * left_of_previous

    def wait(self, account: str) -> None:
        if self.failures(account) >= settings.CLEAVE_AUTH_ACCOUNT_FAILURES_PER_HOUR:
            metrics.auth_delayed.labels(self.scope).inc()
            time.sleep(settings.CLEAVE_AUTH_ACCOUNT_DELAY_SECONDS)

    def failure(self, account: str) -> None:
        key = self._key(account, int(time.time() // _HOUR))
        cache.add(key, 0, timeout=2 * _HOUR + 5)  # read as "the previous hour" for another hour
        with contextlib.suppress(ValueError):  # evicted between add and incr: one lost count
            cache.incr(key)


login_pressure = AccountPressure(scope="login")
reset_pressure = AccountPressure(scope="password-reset")
