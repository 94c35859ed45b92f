"""A new context's first files (`manage.py context_new <label>`), as docs/adding-a-context.md
describes them: its declaration, app, one model with a service, a selector, a paginated API, an
admin, a contract with one call and one event, its provider, a factory, a scenario test and its
rows of the authorization matrix. The kernel and the tools pick it up from its declaration;
nothing outside `apps/<label>/` and `contracts/<label>/` is written.

The files are a starting point that already passes its checks (its tests alone, the matrix, the
contract snapshot); the steps the doc lists after this one (migrations, snapshot, docs,
subscribers, roles, error codes) are the context's own.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

LABEL = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


class ScaffoldError(Exception):
    pass


def class_name(label: str) -> str:
    return "".join(part.capitalize() for part in label.split("_"))


def files_for(label: str) -> dict[str, str]:
    """Relative path → content of every file of the new context `label`."""
    if not LABEL.match(label) or keyword.iskeyword(label):
        raise ScaffoldError(f"{label!r}: a context label is lower_snake_case, 2 to 31 characters")
    values = {"label": label, "Name": class_name(label), "LABEL": label.upper()}
    public = [label.upper(), "ItemCount", "ItemCreated", "ItemTotal", f"{class_name(label)}Service"]
    values["public"] = "".join(f'    "{name}",\n' for name in sorted(public))
    # isort's order: constants, then classes.
    names = [label.upper(), f"{class_name(label)}Service", "ItemCount", "ItemCreated"]
    values["test_imports"] = ", ".join(sorted(names, key=lambda name: (not name.isupper(), name)))
    return {
        path.replace("LABEL", label): Template(text).substitute(values)
        for path, text in _TEMPLATES.items()
    }


def write(label: str, root: Path) -> list[Path]:
    """Write the context under `root` (apps/<label>/, contracts/<label>/); refuse to overwrite."""
    files = files_for(label)
    existing = [root / "apps" / label, root / "contracts" / label]
    for folder in existing:
        if folder.exists():
            raise ScaffoldError(f"{folder} exists already")
    # Another repository's apps/ and contracts/ join this one's (pkgutil namespaces).
    for package in ("apps", "contracts"):
        if not (root / package / "__init__.py").exists():
            files[f"{package}/__init__.py"] = _NAMESPACE
    written = []
    for relative, text in sorted(files.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


_NAMESPACE = '''\
"""Contexts (or their contracts) kept outside the main repository; they join its own."""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
'''

_TEMPLATES: dict[str, str] = {
    "apps/LABEL/__init__.py": '''\
"""The $label context."""
''',
    "apps/LABEL/context.py": '''\
"""$label declares itself: what the kernel and the tools need to know (cleave.contexts)."""

from cleave.contexts import Context

CONTEXT = Context(
    label="$label",
    app="apps.$label",
    url_prefixes=("/api/v1/$label",),
)
''',
    "apps/LABEL/apps.py": """\
from django.apps import AppConfig


class ${Name}Config(AppConfig):
    name = "apps.$label"
    label = "$label"
    verbose_name = "$Name"

    def ready(self) -> None:
        from apps.$label.api import router
        from apps.$label.provider import ${Name}Provider
        from cleave.api import register_router
        from cleave.contracts.registry import provide
        from contracts.$label import $LABEL

        provide($LABEL, ${Name}Provider())
        register_router("/$label", router)
""",
    "apps/LABEL/models.py": '''\
"""$label's tables: another context's entities by id only, never a foreign key."""

from __future__ import annotations

from django.db import models


class Item(models.Model):
    user_id = models.BigIntegerField(db_index=True)  # the account's id: no relation out
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title
''',
    "apps/LABEL/migrations/__init__.py": "",
    "apps/LABEL/services.py": '''\
"""$label's writes: each owns its transaction and publishes its events inside it."""

from __future__ import annotations

from django.db import transaction

from apps.$label.models import Item
from cleave.databases import database_for
from cleave.events import publish
from contracts.$label import ItemCreated

DB = database_for("$label")


def item_create(*, user_id: int, title: str) -> Item:
    with transaction.atomic(using=DB):
        item = Item.objects.using(DB).create(user_id=user_id, title=title)
        publish(ItemCreated(aggregate_id=str(item.pk), item_id=item.pk, user_id=user_id))
    return item


def user_erase(*, user_id: int) -> int:
    """Forget everything of a deleted account; the number of items removed."""
    with transaction.atomic(using=DB):
        deleted, _ = Item.objects.using(DB).filter(user_id=user_id).delete()
    return deleted
''',
    "apps/LABEL/selectors.py": '''\
"""$label's reads."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.$label.models import Item
from cleave.databases import database_for

DB = database_for("$label")


def item_list(*, user_id: int) -> QuerySet[Item]:
    return Item.objects.using(DB).filter(user_id=user_id)


def item_count(*, user_id: int) -> int:
    return item_list(user_id=user_id).count()
''',
    "apps/LABEL/api.py": '''\
"""$label's mobile API under /api/v1/$label."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from apps.$label import selectors, services
from apps.$label.models import Item
from cleave.api import RequestSchema
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.pagination import CursorPagination

router = Router(auth=bearer, tags=["$label"])


class ItemOut(Schema):
    id: int
    title: str
    created_at: datetime.datetime


class ItemCreateIn(RequestSchema):
    title: str = Field(min_length=1, max_length=200)


@router.get("", response=list[ItemOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def item_list(request: HttpRequest) -> QuerySet[Item]:
    return selectors.item_list(user_id=principal_of(request).user_id)


@router.post("", response={201: ItemOut})
def item_create(request: HttpRequest, payload: ItemCreateIn) -> Status[Item]:
    item = services.item_create(user_id=principal_of(request).user_id, title=payload.title)
    return Status(201, item)
''',
    "apps/LABEL/admin.py": '''\
"""$label's admin: read-only lists; changes go through the services, like the API's."""

from __future__ import annotations

from django.contrib import admin

from apps.$label.models import Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("id", "user_id", "title", "created_at")
    search_fields = ("user_id",)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
''',
    "apps/LABEL/provider.py": '''\
"""$label's implementation of its contract: contract models in, contract models out."""

from __future__ import annotations

from apps.$label import selectors
from contracts.$label import ItemCount, ItemTotal


class ${Name}Provider:
    def item_count(self, query: ItemCount) -> ItemTotal:
        return ItemTotal(count=selectors.item_count(user_id=query.user_id))
''',
    "apps/LABEL/tests/__init__.py": "",
    "apps/LABEL/tests/factories.py": '''\
"""$label's test data, made through its services (so events are published as in use)."""

from __future__ import annotations

import itertools

from apps.$label import services
from apps.$label.models import Item

_numbers = itertools.count(1)


def item(*, user_id: int = 1, title: str | None = None) -> Item:
    return services.item_create(user_id=user_id, title=title or f"item {next(_numbers)}")
''',
    "apps/LABEL/tests/test_items.py": '''\
"""A user keeps items in $label; the contract counts them; a deleted account's go."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.$label import services
from apps.$label.models import Item
from apps.$label.tests import factories
from cleave.auth.testing import token_signer
from cleave.contracts.registry import client
from cleave.events import captured_events
from contracts.$label import $test_imports

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_created_item_is_listed_for_its_owner_only_and_published() -> None:
    with token_signer() as sign, captured_events() as events:
        created = Client().post(
            "/api/v1/$label",
            {"title": "first"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {sign(user_id=7)}",
        )
        mine = Client().get("/api/v1/$label", HTTP_AUTHORIZATION=f"Bearer {sign(user_id=7)}")
        theirs = Client().get("/api/v1/$label", HTTP_AUTHORIZATION=f"Bearer {sign(user_id=8)}")
    assert created.status_code == 201, created.content
    assert [item["title"] for item in mine.json()["items"]] == ["first"]
    assert theirs.json()["items"] == []
    assert [(type(event), event.user_id) for event in events] == [(ItemCreated, 7)]


def test_the_contract_counts_a_users_items() -> None:
    factories.item(user_id=3)
    factories.item(user_id=3)
    answer = client($LABEL, ${Name}Service).item_count(ItemCount(user_id=3))
    assert answer.count == 2


def test_erasing_a_user_removes_only_their_items() -> None:
    factories.item(user_id=3)
    kept = factories.item(user_id=4)
    assert services.user_erase(user_id=3) == 1
    assert [item.pk for item in Item.objects.all()] == [kept.pk]
''',
    "apps/LABEL/tests/authz_rows.py": '''\
"""$label's rows of the authorization matrix (tests/security/test_authz_matrix.py merges
the rows of every installed context): route → (anonymous, user, other_user, moderator, staff,
admin), a cell "<status>" or "<status> <error code>"."""

NO_TOKEN = "401 token_missing"
NOT_SERVICE = "401 service_token_invalid"  # /internal/ takes service tokens only

ROWS = {
    "GET /api/v1/$label": (NO_TOKEN, "200", "200", "200", "200", "200"),
    "POST /api/v1/$label": (NO_TOKEN, "201", "201", "201", "201", "201"),
    "POST /internal/$label/item_count": (NOT_SERVICE,) * 6,
}
# A valid body per route, so that an allowed caller succeeds and nothing else decides.
BODIES = {"POST /api/v1/$label": {"title": "authz"}}
''',
    "contracts/LABEL/__init__.py": '''\
"""What $label publishes: its calls, events and errors (docs/adding-a-context.md)."""

from __future__ import annotations

from typing import ClassVar, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, Event, call


class ItemCount(ContractModel):
    user_id: int = Field(gt=0)


class ItemTotal(ContractModel):
    count: int


class ItemCreated(Event):
    event_type: ClassVar[str] = "$label.item_created"
    item_id: int
    user_id: int


class ${Name}Service(Protocol):
    @call(idempotent=True)
    def item_count(self, query: ItemCount) -> ItemTotal: ...


$LABEL = Contract(context="$label", version="1.0", service=${Name}Service, events=(ItemCreated,))

__all__ = [
$public]
''',
}
