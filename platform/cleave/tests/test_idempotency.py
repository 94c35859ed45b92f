"""`Idempotency-Key` on unsafe /api/v1 requests: a retry replays, another body is refused, a key
still running answers 409, and a failed attempt leaves nothing behind to replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cleave.auth.testing import Signer, token_signer
from cleave.events.models import OutboxEvent
from cleave.idempotency import store
from cleave.idempotency.models import IdempotentRequest
from cleave.idempotency.tasks import purge
from cleave.tests.example.orders.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cleave.tests.idempotency_urls")]

ORDERS = "/api/v1/test/orders"


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


def _post(token: str | None, body: dict[str, Any], key: str | None, path: str = ORDERS) -> Any:
    headers: dict[str, Any] = {}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return Client().post(path, data=body, content_type="application/json", **headers)


def test_a_retry_with_the_same_key_replays_the_first_answer_without_writing_again(
    sign: Signer,
) -> None:
    token = sign(user_id=1)
    first = _post(token, {"total": 5}, "k-1")
    again = _post(token, {"total": 5}, "k-1")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.count() == 1  # the event was published once too


def test_the_same_key_with_another_body_is_refused(sign: Signer) -> None:
    token = sign(user_id=1)
    _post(token, {"total": 5}, "k-2")

    reused = _post(token, {"total": 6}, "k-2")

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_keys_are_each_users_own(sign: Signer) -> None:
    _post(sign(user_id=1), {"total": 5}, "shared")

    other = _post(sign(user_id=2), {"total": 5}, "shared")

    assert other.status_code == 201
    assert not other.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 2


def test_without_a_key_every_request_writes(sign: Signer) -> None:
    token = sign(user_id=1)
    _post(token, {"total": 5}, None)
    _post(token, {"total": 5}, None)
    assert Order.objects.count() == 2


def test_a_key_still_held_by_a_running_request_answers_409(sign: Signer) -> None:
    token = sign(user_id=1)
    if connection.vendor == "postgresql":
        # Another server process running that request: a second session holds the lock.
        params = connection.get_connection_params()
        other = psycopg.connect(
            **{k: v for k, v in params.items() if k not in {"cursor_factory", "context"}}
        )
        other.execute("SELECT pg_advisory_lock(%s)", [store.lock_id("principal:1", "busy")])
        try:
            busy = _post(token, {"total": 5}, "busy")
        finally:
            other.close()
    else:
        # Embedded mode: one process, whose other thread is running that request.
        with store.held("default", "principal:1", "busy") as mine:
            assert mine
            busy = _post(token, {"total": 5}, "busy")

    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency_key_in_progress"
    assert Order.objects.count() == 0
    assert _post(token, {"total": 5}, "busy").status_code == 201  # once it is let go


def test_a_failed_attempt_is_rolled_back_whole_and_the_retry_runs_again(sign: Signer) -> None:
    token = sign(user_id=1)
    failed = _post(token, {"total": 5, "fail_after_write": True}, "k-500")

    assert failed.status_code == 500
    assert Order.objects.count() == 0  # the service had committed its savepoint: undone too
    assert OutboxEvent.objects.count() == 0
    assert not IdempotentRequest.objects.exists()


def test_an_expired_key_runs_again_and_the_purge_deletes_old_answers(sign: Signer) -> None:
    token = sign(user_id=1)
    _post(token, {"total": 5}, "old")
    IdempotentRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    again = _post(token, {"total": 5}, "old")

    assert again.status_code == 201
    assert Order.objects.count() == 2
    IdempotentRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert purge() == 1
    assert not IdempotentRequest.objects.exists()


def test_answers_expire_after_24_hours(sign: Signer) -> None:
    _post(sign(user_id=1), {"total": 5}, "ttl")
    stored = IdempotentRequest.objects.get()
    assert stored.expires_at - stored.created_at == timedelta(hours=24)


def test_anonymous_requests_ignore_the_key_since_their_answers_hold_secrets() -> None:
    _post(None, {"total": 5}, "anon", path=f"{ORDERS}/anonymous")
    _post(None, {"total": 5}, "anon", path=f"{ORDERS}/anonymous")
    assert Order.objects.count() == 2
    assert not IdempotentRequest.objects.exists()


def test_a_malformed_key_is_a_validation_error(sign: Signer) -> None:
    response = _post(sign(user_id=1), {"total": 5}, "with space")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["header", "Idempotency-Key"]
    assert Order.objects.count() == 0


def test_validation_errors_are_replayed_too(sign: Signer) -> None:
    token = sign(user_id=1)
    first = _post(token, {"total": "many"}, "k-422")
    again = _post(token, {"total": "many"}, "k-422")
    assert first.status_code == again.status_code == 422
    assert again["Idempotent-Replayed"] == "true"
