"""Cursor pagination: every row once, in order, one query a page, stable while rows change."""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.test import Client
from ninja.pagination import paginate

from cleave.pagination import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    CursorPagination,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)
from cleave.tests.example.orders.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cleave.tests.pagination_urls")]

ORDERINGS = {
    "/api/test/orders": ("id",),
    "/api/test/orders/by-total": ("-total", "id"),
    "/api/test/orders/by-note": ("note", "-total", "-pk"),
    "/api/test/orders/async": ("-id",),
}


@pytest.fixture
def orders() -> list[Order]:
    # Few distinct totals and notes, so most page boundaries fall inside a run of ties.
    return Order.objects.bulk_create(
        Order(total=(i * 7) % 4 * 10, note="ab"[i % 2] * (i % 3 + 1)) for i in range(23)
    )


def _ids_in(ordering: tuple[str, ...]) -> list[int]:
    return list(Order.objects.order_by(*ordering).values_list("id", flat=True))


def _get(client: Client, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    return body


def _walk(client: Client, url: str, limit: int, django_assert_num_queries: Any) -> list[int]:
    """Every id the endpoint lists, following next_cursor; each page must cost one query."""
    ids: list[int] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(Order.objects.count() + 1):  # a cursor that never advances must not hang
        with django_assert_num_queries(1):
            page = _get(client, url, **params)
        assert 0 < len(page["items"]) <= limit
        ids += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            return ids
        params["cursor"] = page["next_cursor"]
    pytest.fail(f"{url} never reached a last page")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


@pytest.mark.parametrize(("url", "ordering"), ORDERINGS.items())
@pytest.mark.parametrize("limit", [1, 4, 23, 100])
def test_walking_all_pages_lists_every_row_once_in_order(
    client: Client,
    orders: list[Order],
    django_assert_num_queries: Any,
    url: str,
    ordering: tuple[str, ...],
    limit: int,
) -> None:
    assert _walk(client, url, limit, django_assert_num_queries) == _ids_in(ordering)


def test_last_page_has_no_next_cursor_even_when_rows_divide_evenly(client: Client) -> None:
    Order.objects.bulk_create(Order(total=i) for i in range(10))
    first = _get(client, "/api/test/orders", limit=5)
    assert first["next_cursor"] is not None
    last = _get(client, "/api/test/orders", limit=5, cursor=first["next_cursor"])
    assert len(last["items"]) == 5
    assert last["next_cursor"] is None


def test_empty_list_is_one_empty_page(client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        assert _get(client, "/api/test/orders") == {"items": [], "next_cursor": None}


def test_limit_defaults_to_the_configured_page_size(client: Client) -> None:
    Order.objects.bulk_create(Order(total=i) for i in range(PAGE_SIZE + 1))
    page = _get(client, "/api/test/orders")
    assert len(page["items"]) == PAGE_SIZE
    assert page["next_cursor"] is not None


def test_rows_inserted_or_deleted_behind_the_cursor_do_not_repeat_or_skip_rows(
    client: Client, orders: list[Order], django_assert_num_queries: Any
) -> None:
    url, ordering = "/api/test/orders/by-total", ORDERINGS["/api/test/orders/by-total"]
    before = _ids_in(ordering)
    first = _get(client, url, limit=5)
    assert [item["id"] for item in first["items"]] == before[:5]

    # Given rows appear before the cursor (higher totals) and a seen row goes away,
    # which would shift every OFFSET page, and one row appears after the cursor.
    Order.objects.bulk_create(Order(total=1000 + i) for i in range(3))
    Order.objects.filter(id=before[0]).delete()
    late = Order.objects.create(total=-1)

    rest: list[int] = []
    page = first
    while page["next_cursor"] is not None:
        with django_assert_num_queries(1):
            page = _get(client, url, limit=5, cursor=page["next_cursor"])
        rest += [item["id"] for item in page["items"]]
    assert rest == [*before[5:], late.id]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        _b64(b"not json"),
        _b64(b"[1, 2]"),
        _b64(json.dumps({"v": 2, "k": [1]}).encode()),
        _b64(json.dumps({"v": 1, "k": [1, 2]}).encode()),
        _b64(json.dumps({"v": 1, "k": "1"}).encode()),
        _b64(json.dumps({"v": 1, "k": ["one"]}).encode()),
        _b64(json.dumps({"v": 1, "k": [None]}).encode()),
        _b64(json.dumps({"v": 1, "k": [[1]]}).encode()),
        encode_cursor([1]) + "A" * 2000,
    ],
)
def test_garbage_or_tampered_cursor_is_invalid_cursor(
    client: Client, orders: list[Order], cursor: str
) -> None:
    response = client.get("/api/test/orders", {"cursor": cursor})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_cursor"
    assert error["message"]


def test_empty_cursor_is_the_first_page(client: Client, orders: list[Order]) -> None:
    page = _get(client, "/api/test/orders", cursor="", limit=3)
    assert [item["id"] for item in page["items"]] == _ids_in(("id",))[:3]


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, "many"])
def test_limit_out_of_range_is_a_validation_error(client: Client, limit: int | str) -> None:
    response = client.get("/api/test/orders", {"limit": limit})
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert [item["loc"] for item in error["details"]] == [["query", "limit"]]


@pytest.mark.parametrize("ordering", ["id", (), ("id", 3), ("-total", "--id"), ("id", "-id")])
def test_malformed_ordering_is_refused_when_decorating(ordering: Any) -> None:
    with pytest.raises(TypeError, match="CursorPagination"):
        paginate(CursorPagination, ordering=ordering)(lambda request: None)


@pytest.mark.parametrize(
    ("ordering", "reason"),
    [(("-total",), "must end in a unique field"), (("note", "total"), "must end in a unique")],
)
def test_ordering_not_ending_in_a_unique_field_is_refused_on_first_use(
    ordering: tuple[str, ...], reason: str
) -> None:
    paginator = CursorPagination(ordering=ordering)
    first_page = CursorPagination.Input(cursor=None, limit=PAGE_SIZE)
    # No request (None): the ordering is refused before the paginator reads one.
    with pytest.raises(ValueError, match=reason):
        paginator.paginate_queryset(Order.objects.all(), first_page, request=None)  # type: ignore[arg-type]


def test_ordering_by_an_unknown_field_is_refused_on_first_use() -> None:
    paginator = CursorPagination(ordering=("customer__name", "id"))
    first_page = CursorPagination.Input(cursor=None, limit=PAGE_SIZE)
    # No request (None): the ordering is refused before the paginator reads one.
    with pytest.raises(ValueError, match="no field or annotation 'customer__name'"):
        paginator.paginate_queryset(Order.objects.all(), first_page, request=None)  # type: ignore[arg-type]


def test_cursor_round_trips_datetimes_uuids_and_decimals_exactly() -> None:
    values = [
        datetime.datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=datetime.UTC),
        datetime.date(2025, 3, 1),
        uuid.uuid4(),
        Decimal("12.3400"),
        "naïve/ünïcode ✓",
        7,
    ]
    fields: list[Any] = [
        models.DateTimeField(),
        models.DateField(),
        models.UUIDField(),
        models.DecimalField(max_digits=9, decimal_places=4),
        models.CharField(),
        models.BigIntegerField(),
    ]
    cursor = encode_cursor(values)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(cursor, fields) == values


def test_cursor_with_a_naive_datetime_is_refused() -> None:
    cursor = encode_cursor([datetime.datetime(2025, 3, 1, 12, 30)])  # noqa: DTZ001 - on purpose
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, [models.DateTimeField()])


def test_openapi_shows_the_paged_shape_and_the_query_parameters(client: Client) -> None:
    schema = client.get("/api/test/openapi.json").json()
    operation = schema["paths"]["/api/test/orders"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == {"cursor", "limit"}
    assert parameters["limit"]["schema"]["maximum"] == MAX_PAGE_SIZE
    assert parameters["limit"]["schema"]["default"] == PAGE_SIZE
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    paged = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(paged["properties"]) == {"items", "next_cursor"}
    assert set(paged["required"]) == {"items", "next_cursor"}
    assert paged["properties"]["items"]["items"] == {"$ref": "#/components/schemas/OrderOut"}
