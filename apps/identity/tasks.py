"""identity's background tasks."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(name="identity.password_reset_mail_send", ignore_result=True)
def password_reset_mail_send(email: str, uid: str, token: str) -> None:
    """Mail the reset link: the app opens it and calls /auth/password-reset/confirm."""
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
        recipient_list=[email],
    )
