"""The account mails (password reset, address verification), sent from identity's tasks.

The work lives here, in the services layer; `apps.identity.tasks` only binds each function to
a Celery task under the name below. Services hand work off by that name (`task_named`), since
the tasks module sits above the services (import-linter's layers contract) and the services
must not import it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.identity import selectors
from apps.identity.verification import verification_token

logger = logging.getLogger(__name__)

# Named anew: a queued message of the old task (email, uid, token) must not reach this one.
RESET_MAIL_TASK = "identity.password_reset_mail"
EMAIL_VERIFICATION_MAIL_TASK = "identity.email_verification_mail_send"


def password_reset_mail_send(*, email: str) -> None:
    """Mail a reset link if an active account with a password has this address; else nothing.
    The app opens the link and calls /auth/password-reset/confirm."""
    user = selectors.user_get_by_email(email=email)
    if user is None or not user.is_active or not user.has_usable_password():
        logger.info("password reset asked for an unknown or inactive account")
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{settings.CLEAVE_PASSWORD_RESET_URL}?uid={uid}&token={token}"
    send_mail(
        subject="Reset your Cleave password",
        message=(
            "Someone asked to reset the password of your Cleave account.\n\n"
            f"To choose a new one, open: {link}\n\n"
            f"Or use uid={uid} and token={token} in the app. The link expires in an hour "
            "and works once. If it wasn't you, ignore this mail."
        ),
        from_email=None,
        recipient_list=[user.email],
    )


def email_verification_mail_send(*, user_id: int, email: str) -> None:
    """Mail the verification link for `email`: the app opens it and calls /auth/verify-email.
    The token is made here, so it never sits in the broker or a failed task's log line."""
    user = selectors.user_get(user_id=user_id)
    if user is None or not user.is_active or user.email != email or user.email_verified:
        return  # the address changed or was proven since: this link would be no use
    token = verification_token(user)
    link = f"{settings.CLEAVE_EMAIL_VERIFICATION_URL}?token={token}"
    days = settings.CLEAVE_EMAIL_VERIFICATION_SECONDS // 86400
    send_mail(
        subject="Confirm your Cleave e-mail address",
        message=(
            "Please confirm that this is your address, so you can start conversations.\n\n"
            f"Open: {link}\n\n"
            f"Or paste this code in the app: {token}\n\n"
            f"The link expires in {days} days. If you did not sign up, ignore this mail."
        ),
        from_email=None,
        recipient_list=[email],
    )
