"""One database alias per context, and a router that keeps contexts' data apart.

Every context's alias is `default` until the environment gives it a database of its own
(`DATABASE_URL_<CONTEXT>`, e.g. `DATABASE_URL_MESSAGING`); then its tables, migrations and
its outbox/inbox live there. Sharing one connection by default keeps one transaction per request
and one pool per process; the router still refuses what would stop a context from moving out.
"""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.db.models import Model
from django.dispatch import receiver

DEFAULT = "default"
# The kernel's outbox/inbox tables exist in every context's database.
KERNEL_APP = "cleave"


@functools.cache
def context_labels() -> frozenset[str]:
    """App labels of the installed contexts (settings.CLEAVE_CONTEXTS); cached, on a hot path."""
    hosted = set(settings.CLEAVE_CONTEXTS)
    return frozenset(config.label for config in apps.get_app_configs() if config.name in hosted)


@receiver(setting_changed)
def _forget_contexts(*, setting: str, **kwargs: Any) -> None:
    if setting in {"CLEAVE_CONTEXTS", "INSTALLED_APPS"}:
        context_labels.cache_clear()


def database_for(context: str) -> str:
    """The alias holding `context`'s tables: its own if configured, else `default`."""
    return context if context in settings.DATABASES else DEFAULT


def context_of(model: type[Model] | Model) -> str | None:
    label = model._meta.app_label
    return label if label in context_labels() else None


class ContextRouter:
    """Routes each context's models to its alias and refuses cross-context relations."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        context = context_of(model)
        return database_for(context) if context else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        first, second = context_of(obj1), context_of(obj2)
        if first and second and first != second:
            return False
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == KERNEL_APP:
            return True
        if app_label in context_labels():
            return db == database_for(app_label)
        return db == DEFAULT
