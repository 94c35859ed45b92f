"""Accounts and signed-in clients for identity's tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.test import Client

from apps.identity.models import User

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def user_create(*, email: str | None = None, roles: tuple[str, ...] = (), **fields: Any) -> User:
    email = email or f"user{next(_numbers)}@example.com"
    fields.setdefault("display_name", email.split("@")[0].title())
    user = User.objects.create_user(email, PASSWORD, **fields)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def device(device_id: str = "phone-1", **overrides: Any) -> dict[str, Any]:
    return {"device_id": device_id, "platform": "ios", "app_version": "1.4.2", **overrides}


@dataclass
class Signed:
    """A client signed in on one device, with the tokens it was given."""

    client: Client
    access: str
    refresh: str
    session_id: str
    user_id: int

    def headers(self) -> dict[str, Any]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.access}"}

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **self.headers(), **extra)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        call = getattr(self.client, method)
        return call(path, data=body, content_type="application/json", **self.headers())


def login(email: str, *, password: str = PASSWORD, device_id: str = "phone-1") -> Signed:
    client = Client(REMOTE_ADDR="10.0.0.1")
    response = client.post(
        "/api/v1/auth/login",
        {"email": email, "password": password, "device": device(device_id)},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    return Signed(client, body["access"], body["refresh"], body["session_id"], body["user"]["id"])
