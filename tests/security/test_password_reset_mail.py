"""Password reset: the mail never leaves on the request's thread, and a request for an unknown
account runs the same code as one for a known account up to the hand-off (issue 16, finding
11: in embedded mode the mail used to be sent inside the request, 4.1 ms vs 3.4 ms median).

Structure, not timing: the identity code each request runs is recorded with a profiler and
compared, and the thread that sends the mail is compared with the request's.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client, override_settings

from apps.identity import tasks
from apps.identity.tests.factories import user_create
from cleave import background
from cleave.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)
IDENTITY = str(Path(tasks.__file__).resolve().parent)
HAND_OFF = str(Path(background.__file__).resolve())
_sent_on: list[int] = []


class ThreadRecordingBackend(EmailBackend):
    """Django's in-memory outbox, noting which thread sent each mail."""

    def send_messages(self, messages: Any) -> int:
        _sent_on.append(threading.get_ident())
        return super().send_messages(messages)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    # Embedded mode's setting in every mode: no broker, tasks run in this process.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    _sent_on.clear()
    with override_settings(EMAIL_BACKEND=f"{__name__}.ThreadRecordingBackend"):
        yield
    celery_app.conf.task_always_eager = previous


def _reset(email: str) -> Any:
    return Client(REMOTE_ADDR="10.0.0.7").post(
        "/api/v1/auth/password-reset", {"email": email}, content_type="application/json"
    )


def _wait_for_mail(count: int) -> None:
    deadline = time.monotonic() + 10
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_reset_mail_is_not_sent_on_the_requests_thread(eager_tasks: None) -> None:
    user_create(email="ada@example.com")
    response = _reset("ada@example.com")
    assert response.status_code == 202
    _wait_for_mail(1)
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert _sent_on, "no mail was sent"
    assert threading.get_ident() not in _sent_on, "the mail was sent inside the request"


def _identity_calls(email: str) -> list[str]:
    """The identity functions the request's thread runs, in order (module:function), and the
    kernel's hand-off (`cleave.background`) they end in."""
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        if frame.f_code.co_filename.startswith(IDENTITY):
            name = frame.f_code.co_filename[len(IDENTITY) :]
            calls.append(f"{name}:{frame.f_code.co_name}")
        elif frame.f_code.co_filename == HAND_OFF:
            calls.append(f"cleave.background:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        response = _reset(email)
    finally:
        sys.setprofile(None)
    assert response.status_code == 202
    return calls


def test_known_and_unknown_accounts_run_the_same_code_up_to_the_hand_off(
    eager_tasks: None,
) -> None:
    user_create(email="ada@example.com")
    _reset("warm-up@example.com")  # first-call imports and caches out of the way
    known = _identity_calls("ada@example.com")
    unknown = _identity_calls("nobody@example.com")
    assert known == unknown
    assert "cleave.background:task_enqueue" in known, known  # the hand-off is on the path
    _wait_for_mail(1)
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
