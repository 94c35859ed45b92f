"""identity's background tasks: Celery's entry points to the account mails
(`apps.identity.services.mails`, which holds the work and the task names).

A password reset hands only the e-mail address off (`cleave.background.task_enqueue`): the task
looks the account up and mails a link only if there is one, so the request's timing does not
tell whether the account exists (issue 16, finding 11).
"""

from __future__ import annotations

from celery import shared_task

from apps.identity.services import mails


@shared_task(name=mails.RESET_MAIL_TASK, ignore_result=True)
def password_reset_mail_send(email: str) -> None:
    mails.password_reset_mail_send(email=email)


@shared_task(name=mails.EMAIL_VERIFICATION_MAIL_TASK, ignore_result=True)
def email_verification_mail_send(user_id: int, email: str) -> None:
    mails.email_verification_mail_send(user_id=user_id, email=email)
