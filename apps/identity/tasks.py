"""identity's background tasks, and how its services hand them off.

A password reset must not tell, by its timing, whether the account exists (issue 16, finding
11), so the request only hands the e-mail address off; the task looks the account up, and
mails a link only if there is one. With a broker (real mode) the hand-off is `delay()`.
Without one (embedded mode, `task_always_eager`), Celery would run the task right there, on
the request's thread, so `task_enqueue` gives it to a background thread of this process
instead: the request returns after the same work either way.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import connections
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.identity import selectors
from apps.identity.verification import verification_token

logger = logging.getLogger(__name__)
# One thread: embedded mode is one process for development and tests, and mails are rare.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="identity-tasks")


def task_enqueue(task: Task, *args: Any) -> None:
    """Queue `task(*args)` to the broker, or with no broker to this process's background
    thread — never run it on the caller's thread."""
    if task.app.conf.task_always_eager:
        _background.submit(_run_here, task, args)
    else:
        task.delay(*args)


def _run_here(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        logger.exception("background task %s failed", task.name)
    finally:
        # This thread's database connections: tasks are rare here, and a connection kept open
        # by an idle thread would hold the database (a test database cannot be dropped).
        connections.close_all()


def background_drain(timeout: float = 10.0) -> None:
    """Wait until the background thread has run what was handed to it (tests)."""
    done: Future[None] = _background.submit(lambda: None)
    done.result(timeout=timeout)


# Named anew: a queued message of the old task (email, uid, token) must not reach this one.
@shared_task(name="identity.password_reset_mail", ignore_result=True)
def password_reset_mail_send(email: str) -> None:
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


@shared_task(name="identity.email_verification_mail_send", ignore_result=True)
def email_verification_mail_send(user_id: int, email: str) -> None:
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
