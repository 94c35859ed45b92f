"""System check: no ForeignKey, OneToOne or ManyToMany from one context into another, nor from
the kernel into any context.

import-linter catches imports; a string model reference ("messaging.Conversation") is not an
import, so this check walks the model graph itself. The kernel's tables live in every database
(cleave.databases): a relation from one of them into a context would pin them to that context's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.core import checks
from django.db.models import Model

from cleave.databases import KERNEL_APP, context_labels

ERROR_ID = "cleave.E001"


CONTEXT_HINT = (
    "Contexts never hold a foreign key into another context: keep the id in a plain field and "
    "learn what you need from its events."
)
KERNEL_HINT = (
    "The kernel never holds a foreign key into a context: keep the id in a plain field (or what "
    "the access token says, such as roles)."
)


def cross_context_relations(
    models: Iterable[type[Model]],
    is_context: Callable[[str], bool],
    is_kernel: Callable[[str], bool] | None = None,
) -> list[checks.Error]:
    """E001 for every relation of a context's model into another context, and of a kernel model
    (app label `cleave` unless `is_kernel` says otherwise) into any context."""
    is_kernel = is_kernel or KERNEL_APP.__eq__
    errors = []
    for model in models:
        source = model._meta.app_label
        kernel = is_kernel(source)
        if not kernel and not is_context(source):
            continue
        for field in model._meta.get_fields(include_hidden=False):
            if not field.is_relation or field.auto_created or field.related_model is None:
                continue
            related = field.related_model
            target = (
                related._meta.app_label if not isinstance(related, str) else related.split(".")[0]
            )
            if is_context(target) and (kernel or target != source):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} relates to {target}'s model "
                        f"{related if isinstance(related, str) else related._meta.label}.",
                        hint=KERNEL_HINT if kernel else CONTEXT_HINT,
                        obj=model,
                        id=ERROR_ID,
                    )
                )
    return errors


@checks.register(checks.Tags.models)
def check_context_boundaries(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    labels = context_labels()
    return cross_context_relations(apps.get_models(), labels.__contains__)
