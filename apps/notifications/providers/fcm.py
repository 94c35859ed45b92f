"""Firebase Cloud Messaging, HTTP v1 API (android and web devices).

Auth: a service account's key signs a JWT assertion (RS256) that the token endpoint
(`token_uri` in the credentials) trades for a bearer token, cached until shortly before it
expires. Send: POST {base}/v1/projects/{project_id}/messages:send with {"message": {...}}.
A 404 NOT_FOUND / UNREGISTERED, or a 400 naming the token invalid, means the token is dead.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from apps.notifications.providers import Outcome, Push

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_DEAD_TOKEN_CODES = {"UNREGISTERED", "INVALID_ARGUMENT"}


class FcmProvider:
    name = "fcm"

    def __init__(self, *, credentials_path: str, base_url: str, timeout: float = 10.0) -> None:
        self._credentials: dict[str, Any] = json.loads(Path(credentials_path).read_text())
        self._base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def _bearer(self) -> str:
        with self._lock:
            if self._token and self._token[1] > time.time() + 60:
                return self._token[0]
            now = int(time.time())
            assertion = jwt.encode(
                {
                    "iss": self._credentials["client_email"],
                    "scope": SCOPE,
                    "aud": self._credentials["token_uri"],
                    "iat": now,
                    "exp": now + 3600,
                },
                self._credentials["private_key"],
                algorithm="RS256",
                headers={"kid": self._credentials.get("private_key_id", "")},
            )
            response = self._http.post(
                self._credentials["token_uri"],
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
            response.raise_for_status()
            body = response.json()
            self._token = (body["access_token"], now + float(body.get("expires_in", 3600)))
            return self._token[0]

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        url = f"{self._base_url}/v1/projects/{self._credentials['project_id']}/messages:send"
        message = {
            "message": {
                "token": token,
                "notification": {"title": push.title, "body": push.body},
                "data": push.data,
            }
        }
        try:
            response = self._http.post(
                url, json=message, headers={"Authorization": f"Bearer {self._bearer()}"}
            )
        except httpx.HTTPError as error:
            return Outcome(ok=False, response=f"{type(error).__name__}: {error}")
        if response.status_code == 200:
            return Outcome(ok=True, status=200, response=response.text)
        return Outcome(
            ok=False,
            token_invalid=_dead_token(response),
            status=response.status_code,
            response=response.text,
        )


def _dead_token(response: httpx.Response) -> bool:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return False
    codes = {detail.get("errorCode") for detail in error.get("details", [])} | {error.get("status")}
    if response.status_code == 404:
        return True
    return (
        response.status_code == 400
        and bool(codes & _DEAD_TOKEN_CODES)
        and "token" in error.get("message", "").lower()
    )
