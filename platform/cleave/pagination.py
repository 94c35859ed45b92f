"""Cursor (keyset) pagination for every list endpoint of the mobile API.

A list endpoint takes `?cursor=&limit=` and answers `{"items": [...], "next_cursor": "..."}`
(`next_cursor` is null on the last page). Pages are found with a keyset filter on the ordering
values of the previous page's last item, never OFFSET, so rows inserted or deleted behind the
cursor neither repeat nor skip the rows still ahead. One query per page: it fetches limit + 1
rows to learn whether another page follows.

    from ninja.pagination import paginate
    from cleave.pagination import CursorPagination

    @router.get("/sessions", response=list[SessionOut])
    @paginate(CursorPagination, ordering=("-last_seen_at", "-id"))
    def sessions_list(request: HttpRequest) -> QuerySet[Session]:
        return selectors.session_list(user_id=request.auth.id)

Rules for `ordering` (ascending, descending and mixed directions all work):
- it must end in a unique, non-null model field (`id`/`pk`), or page boundaries would be
  ambiguous; a string instead of a tuple is a TypeError when decorating, an ordering the model
  cannot satisfy a ValueError on the first request;
- nullable fields are out of scope (SQL orders NULLs per database and `>` never matches them),
  so nullable model fields are refused; an annotation may lead the ordering but must never be NULL;
- fields are direct: a model field, its attname (`author_id`) or an annotation, not `a__b`.

The view returns a QuerySet of model instances (sync or async view). The cursor is urlsafe
base64 of `{"v": 1, "k": [...]}`, the last item's ordering values. It is not signed: it only
picks a position inside the queryset the view already scoped. One that does not decode to
values of the right types answers 400 `invalid_cursor`. `limit` defaults to
`settings.CLEAVE_PAGE_SIZE` (20) and is capped by `settings.CLEAVE_MAX_PAGE_SIZE` (100).
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field as ModelField
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Schema
from ninja.pagination import AsyncPaginationBase

from cleave.errors import BadRequest

__all__ = [
    "CursorPage",
    "CursorPagination",
    "InvalidCursor",
    "PageQuery",
    "decode_cursor",
    "encode_cursor",
]

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 1024  # far above any real cursor; refuse before decoding a huge blob
PAGE_SIZE: int = getattr(settings, "CLEAVE_PAGE_SIZE", 20)
MAX_PAGE_SIZE: int = getattr(settings, "CLEAVE_MAX_PAGE_SIZE", 100)


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    message_template = "The cursor is not valid; start again from the first page."


def _jsonable(value: Any) -> str | int | float:
    # Not DjangoJSONEncoder: it cuts datetimes to milliseconds, which would repeat rows.
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, str | int | float):
        return value
    raise TypeError(f"CursorPagination cannot put a {type(value).__name__} in a cursor")


def encode_cursor(values: Sequence[Any]) -> str:
    """The opaque cursor for a row whose ordering values are `values`."""
    payload = json.dumps({"v": CURSOR_VERSION, "k": [_jsonable(v) for v in values]})
    return base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, fields: Sequence[ModelField[Any, Any]]) -> list[Any]:
    """The ordering values in `cursor`, converted by `fields`; raises `InvalidCursor`."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
        if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
            raise ValueError("unknown layout")
        raw = payload.get("k")
        if not isinstance(raw, list):
            raise ValueError("no values")
        if len(raw) != len(fields) or not all(isinstance(v, str | int | float) for v in raw):
            raise ValueError("wrong values")
        values = [field.to_python(value) for field, value in zip(fields, raw, strict=True)]
        if settings.USE_TZ and any(_is_naive_datetime(value) for value in values):
            raise ValueError("naive datetime")  # ours are always aware; Django would warn
    except (ValueError, TypeError, DjangoValidationError) as exc:
        raise InvalidCursor() from exc
    return values


def _is_naive_datetime(value: Any) -> bool:
    return isinstance(value, datetime.datetime) and timezone.is_naive(value)


def _checked_ordering(ordering: Any) -> tuple[tuple[str, bool], ...]:
    """`("-total", "id")` as `(("total", True), ("id", False))`; TypeError when malformed."""
    if isinstance(ordering, str) or not isinstance(ordering, Sequence) or not ordering:
        raise TypeError(f"CursorPagination needs ordering=(..., 'id'), a tuple; got {ordering!r}")
    parsed = []
    for item in ordering:
        if not isinstance(item, str) or not item.lstrip("-") or item.startswith("--"):
            raise TypeError(f"CursorPagination ordering entries are field names; got {item!r}")
        parsed.append((item.lstrip("-"), item.startswith("-")))
    names = [name for name, _ in parsed]
    if len(set(names)) != len(names):
        raise TypeError(f"CursorPagination ordering repeats a field: {tuple(ordering)!r}")
    return tuple(parsed)


class CursorPage(Schema):
    """The paged response shape; `@paginate` makes a `Paged<Item>` subclass of it per endpoint."""

    items: list[Any]
    next_cursor: str | None = Field(
        ..., description="Pass as `cursor` for the next page; null on the last page."
    )


class PageQuery(Schema):
    """`?cursor=&limit=` of every list endpoint."""

    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page.")


class CursorPagination(AsyncPaginationBase):
    """Keyset pagination for ninja's `@paginate(CursorPagination, ordering=(..., "id"))`.

    Not ninja's own CursorPagination: that one keys on the first ordering field only and walks
    ties with an OFFSET (so inserts among ties repeat or skip rows), clamps an oversize page
    instead of refusing it, answers garbage cursors with 422, and returns URLs, not cursors.
    """

    # ninja looks for `Input`; the document calls the schema `PageQuery` (stubs type `Input` as
    # ninja's own class, which ours replaces rather than subclasses).
    Input = PageQuery  # type: ignore[assignment]

    class Output(CursorPage):
        pass

    items_attribute = "items"

    def __init__(self, *, ordering: Sequence[str], **kwargs: Any) -> None:
        self._keys = _checked_ordering(ordering)
        self.ordering = tuple(ordering)
        self._fields_by_model: dict[type[Any], list[ModelField[Any, Any]]] = {}
        super().__init__(**kwargs)

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: PageQuery, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        page = self._page_queryset(queryset, pagination)
        return self._result(list(page), pagination.limit)

    async def apaginate_queryset(
        self, queryset: QuerySet[Any], pagination: PageQuery, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        page = self._page_queryset(queryset, pagination)
        return self._result([row async for row in page], pagination.limit)

    def _page_queryset(self, queryset: QuerySet[Any], pagination: PageQuery) -> QuerySet[Any]:
        """limit + 1 rows after the cursor, in order: one query, not yet run."""
        if not isinstance(queryset, QuerySet):
            raise TypeError(
                f"A view under CursorPagination must return a QuerySet, not {type(queryset)}"
            )
        fields = self._fields_for(queryset)
        queryset = queryset.order_by(*self.ordering)
        if pagination.cursor:
            queryset = queryset.filter(self._after(decode_cursor(pagination.cursor, fields)))
        return queryset[: pagination.limit + 1]

    def _result(self, rows: list[Any], limit: int) -> dict[str, Any]:
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor([getattr(items[-1], name) for name, _ in self._keys])
        return {"items": items, "next_cursor": next_cursor}

    def _after(self, values: list[Any]) -> Q:
        """Rows strictly after `values` in this ordering, as a lexicographic keyset filter.

        Spelled as an OR of prefixes rather than a row comparison so mixed directions work;
        the leading range on the first field lets the database use an index on it.
        """
        (first, first_desc), first_value = self._keys[0], values[0]
        condition = Q()
        for position, (name, descending) in enumerate(self._keys):
            step = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[position]})
            for (prior, _), prior_value in zip(
                self._keys[:position], values[:position], strict=True
            ):
                step &= Q(**{prior: prior_value})
            condition |= step
        return Q(**{f"{first}__{'lte' if first_desc else 'gte'}": first_value}) & condition

    def _fields_for(self, queryset: QuerySet[Any]) -> list[ModelField[Any, Any]]:
        """The field that converts each ordering value; ValueError if the ordering cannot page."""
        model = queryset.model
        if model in self._fields_by_model:
            return self._fields_by_model[model]
        fields: list[ModelField[Any, Any]] = []
        annotations = queryset.query.annotations
        for name, _ in self._keys:
            try:
                field = model._meta.pk if name == "pk" else model._meta.get_field(name)
            except FieldDoesNotExist:
                if name not in annotations:
                    raise ValueError(
                        f"CursorPagination ordering {self.ordering!r}: {model.__name__} has no "
                        f"field or annotation {name!r} (related lookups are not supported)"
                    ) from None
                field = annotations[name].output_field
            if (
                not isinstance(field, ModelField)
                or field.null
                or name == field.name != field.attname
            ):
                raise ValueError(
                    f"CursorPagination ordering {self.ordering!r}: {name!r} is nullable or a "
                    "relation (order by its attname, e.g. 'author_id'); neither is supported"
                )
            fields.append(field)
        last = self._keys[-1][0]
        if last in annotations or not fields[-1].unique:
            raise ValueError(
                f"CursorPagination ordering {self.ordering!r} must end in a unique field such "
                f"as 'id', or pages would split ties unpredictably; {last!r} is not unique"
            )
        self._fields_by_model[model] = fields
        return fields
