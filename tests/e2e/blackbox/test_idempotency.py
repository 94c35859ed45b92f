"""`Idempotency-Key`: a retried write is answered again, never done twice — whether the retry
comes after the answer or races the first attempt."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from client import Api, User, error_of, expect


def _direct(api: Api, one: User, other: User) -> int:
    created = api.as_(one).post("/api/v1/conversations", {"kind": "direct", "members": [other.id]})
    assert created.status_code in {200, 201}, created.text
    return int(created.json()["id"])


def _texts(api: Api, who: User, conversation: int) -> list[str]:
    page = expect(api.as_(who).get(f"/api/v1/conversations/{conversation}/messages"), 200)
    return [item["text"] for item in page["items"]]


def test_a_retried_send_replays_the_first_answer_and_stores_one_message(
    api: Api, bob: User, erin: User
) -> None:
    conversation = _direct(api, bob, erin)
    path = f"/api/v1/conversations/{conversation}/messages"
    text = f"once {uuid.uuid4().hex[:8]}"
    body = {"text": text, "client_msg_id": uuid.uuid4().hex}
    key = {"Idempotency-Key": uuid.uuid4().hex}

    first = api.as_(bob).post(path, body, headers=key)
    retry = api.as_(bob).post(path, body, headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _texts(api, bob, conversation).count(text) == 1


def test_the_same_key_for_another_body_is_refused(api: Api, bob: User, erin: User) -> None:
    conversation = _direct(api, bob, erin)
    path = f"/api/v1/conversations/{conversation}/messages"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    expect(
        api.as_(bob).post(path, {"text": "a", "client_msg_id": uuid.uuid4().hex}, headers=key), 201
    )

    reused = api.as_(bob).post(path, {"text": "b", "client_msg_id": uuid.uuid4().hex}, headers=key)

    assert error_of(reused, 422)["code"] == "idempotency_key_reused"


def test_racing_retries_write_once_and_each_gets_the_answer_or_in_progress(
    api: Api, base_url: str, bob: User, erin: User
) -> None:
    conversation = _direct(api, bob, erin)
    path = f"/api/v1/conversations/{conversation}/messages"
    text = f"raced {uuid.uuid4().hex[:8]}"
    body = {"text": text, "client_msg_id": uuid.uuid4().hex}
    headers = {"Idempotency-Key": uuid.uuid4().hex, "Authorization": f"Bearer {bob.access}"}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=10.0) as http:
            return http.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))

    done = [answer for answer in answers if answer.status_code == 201]
    busy = [answer for answer in answers if answer.status_code == 409]
    assert len(done) + len(busy) == len(answers), [a.text for a in answers]
    assert done, "at least the first attempt completes"
    assert len({answer.json()["id"] for answer in done}) == 1
    assert {error_of(answer, 409)["code"] for answer in busy} <= {"idempotency_key_in_progress"}
    assert _texts(api, bob, conversation).count(text) == 1
    retry = api.as_(bob).post(path, body, headers={"Idempotency-Key": headers["Idempotency-Key"]})
    assert expect(retry, 201)["id"] == done[0].json()["id"]


def test_sign_in_is_not_replayed_since_its_answer_holds_secrets(api: Api, bob: User) -> None:
    body = {
        "email": bob.email,
        "password": bob.password,
        "device": {
            "device_id": f"e2e-idem-{uuid.uuid4().hex[:8]}",
            "platform": "ios",
            "app_version": "2.4.0",
        },
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}

    first = expect(api.post("/api/v1/auth/login", body, headers=key), 200)
    second = api.post("/api/v1/auth/login", body, headers=key)

    assert "Idempotent-Replayed" not in second.headers
    assert expect(second, 200)["access"] != first["access"]
