"""Apple Push Notification service over HTTP/2 with token-based auth (iOS devices).

Auth: a provider token, a JWT signed with the team's .p8 key (ES256, `kid` = key id, `iss` =
team id), reused for up to 50 minutes (Apple refuses tokens older than an hour and ones renewed
more often than every 20 minutes). Send: POST {base}/3/device/{token} with `apns-topic` (the
app's bundle id) and `apns-push-type: alert`. 410 Unregistered or 400 BadDeviceToken: dead token.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import jwt

from apps.notifications.providers import Outcome, Push

_DEAD_TOKEN_REASONS = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"}
_TOKEN_REUSE_SECONDS = 50 * 60


class ApnsProvider:
    name = "apns"

    def __init__(
        self,
        *,
        key_path: str,
        key_id: str,
        team_id: str,
        topic: str,
        base_url: str,
        timeout: float = 10.0,
    ) -> None:
        self._key = Path(key_path).read_text()
        self._key_id, self._team_id, self._topic = key_id, team_id, topic
        self._base_url = base_url.rstrip("/")
        # HTTP/2 is required by APNs; over plain http (local fakes) with prior knowledge.
        self._http = httpx.Client(
            http2=True, http1=self._base_url.startswith("https"), timeout=timeout
        )
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def _provider_token(self) -> str:
        with self._lock:
            if self._token and time.time() - self._token[1] < _TOKEN_REUSE_SECONDS:
                return self._token[0]
            now = int(time.time())
            token = jwt.encode(
                {"iss": self._team_id, "iat": now},
                self._key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
            self._token = (token, now)
            return token

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        body = {
            "aps": {"alert": {"title": push.title, "body": push.body}, "sound": "default"},
            **push.data,
        }
        headers = {
            "authorization": f"bearer {self._provider_token()}",
            "apns-topic": self._topic,
            "apns-push-type": "alert",
            "apns-priority": "10",
        }
        try:
            response = self._http.post(
                f"{self._base_url}/3/device/{token}", json=body, headers=headers
            )
        except httpx.HTTPError as error:
            return Outcome(ok=False, response=f"{type(error).__name__}: {error}")
        if response.status_code == 200:
            return Outcome(ok=True, status=200, response=response.headers.get("apns-id", ""))
        try:
            reason = response.json().get("reason", "")
        except ValueError:
            reason = ""
        return Outcome(
            ok=False,
            token_invalid=reason in _DEAD_TOKEN_REASONS,
            status=response.status_code,
            response=response.text,
        )
