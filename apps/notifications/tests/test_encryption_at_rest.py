"""Push tokens are credentials: encrypted in their column, masked for staff and in logs."""

from __future__ import annotations

import logging

import pytest
from django.db import connections, transaction
from django.test import Client

from apps.notifications.models import Device
from apps.notifications.providers import Push
from apps.notifications.providers.log import LogProvider
from apps.notifications.subscribers import on_push_token_changed
from cleave.databases import database_for
from contracts.identity import PushTokenChanged

pytestmark = pytest.mark.django_db
TOKEN = "fcm-dGhpcy1pcy1hLXRva2Vu-7f3a"


def _token_column(pk: int) -> str:
    connection = connections[database_for("notifications")]
    table = connection.ops.quote_name(Device._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT push_token FROM {table} WHERE id = %s", [pk])  # noqa: S608 - ours
        return str(cursor.fetchone()[0])


def _learn_token(user_id: int = 2) -> Device:
    event = PushTokenChanged(
        aggregate_id=str(user_id),
        user_id=user_id,
        device_id="phone",
        platform="ios",
        push_token=TOKEN,
    )
    with transaction.atomic(using=database_for("notifications")):
        on_push_token_changed(event)
    return Device.objects.get(user_id=user_id)


def test_the_token_column_holds_ciphertext_and_the_model_the_token() -> None:
    device = _learn_token()
    assert _token_column(device.pk).startswith("enc:v1:")
    assert TOKEN not in _token_column(device.pk)
    assert device.push_token == TOKEN


def test_staff_see_only_the_tail_of_a_token(admin_client: Client) -> None:
    device = _learn_token()
    for path in (
        "/admin/notifications/device/",
        f"/admin/notifications/device/{device.pk}/change/",
    ):
        page = admin_client.get(path).content.decode()
        assert "…7f3a" in page, path
        assert TOKEN not in page, path


def test_the_log_provider_logs_only_the_tail(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="apps.notifications.providers.log"):
        LogProvider().send(platform="ios", token=TOKEN, push=Push(title="t", body="b", data={}))
    assert "…7f3a" in caplog.text
    assert TOKEN[:8] not in caplog.text
