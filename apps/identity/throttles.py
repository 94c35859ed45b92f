"""identity's limits: strict on anything that guesses passwords or sends mail."""

from __future__ import annotations

from cleave.gateway.throttling import Backoff, RateLimit

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
# Past 5 wrong passwords for an account (or from an IP): locked 1 s, 2 s, 4 s … up to 15 min.
login_backoff = Backoff(scope="login", free_failures=5, base_seconds=1, max_seconds=900)
# Past 3 reset mails for an address (or from an IP) within a day: growing waits, up to an hour.
reset_backoff = Backoff(scope="password-reset", free_failures=3, base_seconds=60, max_seconds=3600)
