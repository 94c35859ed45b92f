"""Every registered admin screen opens: each changelist (with its search and filters), each
add form where adding is allowed, and the change form of a real row — for every context and
the kernel, found from the admin registry rather than listed, so a new screen is covered."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.urls import reverse

from tests.admin.world import PASSWORD, STAFF_EMAIL, World, world_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world() -> World:
    return world_make()


@pytest.fixture
def staff() -> Client:
    client = Client()
    assert client.login(email=STAFF_EMAIL, password=PASSWORD)
    return client


def _registered() -> list[tuple[type[models.Model], admin.ModelAdmin]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_changelist_add_and_change_form_opens(world: World, staff: Client) -> None:
    without_rows = []
    opened = 0
    for model, model_admin in _registered():
        meta = model._meta
        name = f"admin:{meta.app_label}_{meta.model_name}"
        changelist = staff.get(reverse(f"{name}_changelist"))
        assert changelist.status_code == 200, (meta.label, changelist.status_code)
        if model_admin.search_fields:
            searched = staff.get(reverse(f"{name}_changelist"), {"q": "ada"})
            assert searched.status_code == 200, meta.label
        opened += 1
        request = changelist.wsgi_request
        if model_admin.has_add_permission(request):
            add = staff.get(reverse(f"{name}_add"))
            assert add.status_code == 200, (meta.label, "add")
        row = model_admin.get_queryset(request).first()
        if row is None:
            without_rows.append(meta.label)
            continue
        change = staff.get(reverse(f"{name}_change", args=[row.pk]))
        assert change.status_code == 200, (meta.label, "change", change.status_code)
    assert opened >= 15
    # The world puts a row in every screen; one left empty would hide a broken change form.
    assert without_rows == [], without_rows


def test_every_screen_sends_anyone_but_staff_to_the_sign_in(world: World) -> None:
    member = Client()
    member.force_login(get_user_model().objects.get(email="ada@example.com"))  # not staff
    for model, _ in _registered():
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        for client in (Client(), member):
            page = client.get(url)
            assert page.status_code == 302, meta.label
            assert page["Location"].startswith("/admin/login/"), meta.label
