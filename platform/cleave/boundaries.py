"""System check: no ForeignKey, OneToOne or ManyToMany from one context into another.

import-linter catches imports; a string model reference ("messaging.Conversation") is not an
import, so this check walks the model graph itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.core import checks
from django.db.models import Model

from cleave.databases import context_labels

ERROR_ID = "cleave.E001"


def cross_context_relations(
    models: Iterable[type[Model]], is_context: Callable[[str], bool]
) -> list[checks.Error]:
    errors = []
    for model in models:
        source = model._meta.app_label
        if not is_context(source):
            continue
        for field in model._meta.get_fields(include_hidden=False):
            if not field.is_relation or field.auto_created or field.related_model is None:
                continue
            related = field.related_model
            target = (
                related._meta.app_label if not isinstance(related, str) else related.split(".")[0]
            )
            if is_context(target) and target != source:
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} relates to {target}'s model "
                        f"{related if isinstance(related, str) else related._meta.label}.",
                        hint=(
                            "Contexts never hold a foreign key into another context: keep the "
                            "id in a plain field and learn what you need from its events."
                        ),
                        obj=model,
                        id=ERROR_ID,
                    )
                )
    return errors


@checks.register(checks.Tags.models)
def check_context_boundaries(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    labels = context_labels()
    return cross_context_relations(apps.get_models(), labels.__contains__)
