"""Push tokens and signing keys are encrypted in their columns; staff never see a whole token."""

from __future__ import annotations

import pytest
from django.db import connections
from django.db.models import Model
from django.test import Client

from apps.identity.models import Device, SigningKey
from apps.identity.tests.factories import PASSWORD, device, user_create
from cleave.databases import database_for

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "apns-0f1e2d3c4b5a69788796a5b4c3d2e1f0-c0de"


def _column(model: type[Model], field: str, pk: int) -> str:
    connection = connections[database_for("identity")]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - ours
        return str(cursor.fetchone()[0])


def _register_with_token(client: Client) -> Device:
    response = client.post(
        "/api/v1/auth/register",
        {
            "email": "ada@example.com",
            "password": PASSWORD,
            "display_name": "Ada",
            "device": device(push_token=TOKEN),
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return Device.objects.get()


def test_push_token_and_private_signing_key_are_ciphertext_in_their_columns(client: Client) -> None:
    row = _register_with_token(client)
    assert row.push_token == TOKEN
    assert _column(Device, "push_token", row.pk).startswith("enc:v1:")
    assert TOKEN not in _column(Device, "push_token", row.pk)
    key = SigningKey.objects.get()  # made by the first access token
    assert "PRIVATE KEY" in key.private_key_pem
    assert _column(SigningKey, "private_key_pem", key.pk).startswith("enc:v1:")


def test_staff_see_whether_a_device_has_a_token_and_its_tail_only(client: Client) -> None:
    row = _register_with_token(client)
    staff = Client()
    staff.force_login(user_create(email="root@example.com", is_staff=True, is_superuser=True))
    for path in ("/admin/identity/device/", f"/admin/identity/device/{row.pk}/change/"):
        page = staff.get(path).content.decode()
        assert TOKEN not in page, path
    assert "…c0de" in staff.get(f"/admin/identity/device/{row.pk}/change/").content.decode()
