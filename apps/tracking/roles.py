"""The `auditor` role tracking declares: after `migrate`, where the edge (the accounts and
their groups) is hosted, its group may view the kernel's event browser and projections."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db import router

from cleave import contexts

AUDITOR = "auditor"


def grant_auditor(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group

    from cleave.eventstore.admin import grant_event_browser

    if contexts.edge_of(contexts.installed()) is None or not router.allow_migrate_model(
        using, Group
    ):
        return
    # The kernel's permissions are made by its own post_migrate, which may come after ours.
    create_permissions(apps.get_app_config("cleave"), verbosity=0, using=using)
    grant_event_browser(AUDITOR, using=using)
