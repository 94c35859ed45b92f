"""What the kernel does with the contexts' declarations (cleave.contexts) once Django runs.

System checks keep each declaration true, because the tools route and deploy by it rather than
by the code: a route outside the context's declared URL prefixes (cleave.E020), encrypted
fields other than the declared ones (cleave.E021), stream families the context registers but
does not declare, or declares but does not register (cleave.E022). And the roles contexts
declare exist as groups wherever the edge's accounts live, so staff can grant them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks

from cleave import contexts
from cleave.contexts import Context
from cleave.route_owners import view_modules

ROUTE_OUTSIDE_PREFIXES = "cleave.E020"
ENCRYPTED_FIELDS_UNDECLARED = "cleave.E021"
STREAMS_UNDECLARED = "cleave.E022"


def under(path: str, prefixes: Iterable[str]) -> bool:
    """`path` is one of `prefixes` or below one (by whole segments: /api/v1/me ≠ /api/v1/meta)."""
    path = path.rstrip("/") or "/"
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def served_paths() -> list[tuple[str, str]]:
    """(public path, owning context label) of every route a context serves."""
    from cleave.route_owners import API_BASE, KERNEL, api_routes, owner_of_module
    from cleave.routing import context_urlpatterns

    paths = [(f"{API_BASE}/{route}", owner) for route, owner in api_routes() if owner != KERNEL]
    for pattern in context_urlpatterns:
        for module in view_modules(pattern):
            owner = owner_of_module(module)
            if owner != KERNEL:
                paths.append(("/" + str(pattern.pattern), owner))
    return paths


def routes_outside_prefixes(
    declared: Iterable[Context], paths: Iterable[tuple[str, str]]
) -> list[checks.Error]:
    prefixes = {context.label: context.url_prefixes for context in declared}
    return [
        checks.Error(
            f"{owner} serves {path}, outside its declared url_prefixes {list(prefixes[owner])}.",
            hint="Add the prefix to the context's declaration (apps/<context>/context.py): the "
            "gateway and the split topology route by it.",
            id=ROUTE_OUTSIDE_PREFIXES,
        )
        for path, owner in sorted(set(paths))
        if owner in prefixes and not under(path, prefixes[owner])
    ]


def encrypted_fields_mismatch(declared: Iterable[Context]) -> list[checks.Error]:
    from cleave.crypto.fields import EncryptedTextField

    errors = []
    for context in declared:
        config = apps.get_app_config(context.label)
        found = {
            f"{model.__name__}.{field.name}"
            for model in config.get_models()
            for field in model._meta.get_fields()
            if isinstance(field, EncryptedTextField)
        }
        if found != set(context.encrypted_fields):
            errors.append(
                checks.Error(
                    f"{context.label} declares encrypted_fields "
                    f"{sorted(context.encrypted_fields)} but its models have {sorted(found)}.",
                    hint="Keep encrypted_fields in apps/<context>/context.py equal to its "
                    "EncryptedTextFields (key rotation and the data move report by them).",
                    id=ENCRYPTED_FIELDS_UNDECLARED,
                )
            )
    return errors


def stream_families_mismatch(declared: Iterable[Context]) -> list[checks.Error]:
    from cleave.realtime.registry import stream_families
    from cleave.route_owners import KERNEL, owner_of_module

    registered: dict[str, set[str]] = {}
    for prefix, family in stream_families.items():
        owner = owner_of_module(family.initial.__module__)
        if owner != KERNEL:
            registered.setdefault(owner, set()).add(prefix)
    errors = []
    for context in declared:
        said = set(context.realtime.stream_families) if context.realtime else set()
        if said != registered.get(context.label, set()):
            errors.append(
                checks.Error(
                    f"{context.label} registers stream families "
                    f"{sorted(registered.get(context.label, set()))} but declares {sorted(said)}.",
                    hint="Declare them: Context(realtime=Realtime(stream_families=(…))); the "
                    "realtime process hosts the contexts that do.",
                    id=STREAMS_UNDECLARED,
                )
            )
    return errors


@checks.register(checks.Tags.urls)
def check_url_prefixes(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    return routes_outside_prefixes(contexts.installed(), served_paths())


@checks.register(checks.Tags.models)
def check_encrypted_fields(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    return encrypted_fields_mismatch(contexts.installed())


@checks.register()
def check_stream_families(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    return stream_families_mismatch(contexts.installed())


def create_role_groups(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After `migrate`: a group for every role a context declares, where the edge is hosted
    (tokens carry a user's groups as roles). Existing groups are kept."""
    from django.contrib.auth.models import Group
    from django.db import router

    if contexts.edge_of(contexts.installed()) is None or not router.allow_migrate_model(
        using, Group
    ):
        return
    for role in sorted(contexts.declared_roles()):
        Group.objects.using(using).get_or_create(name=role)
