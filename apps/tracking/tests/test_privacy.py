"""Crypto-shredding: after UserDeleted no table holds a trace of the user's coordinates, in
any encoding (decimal text at several roundings, float bytes, H3 cells at resolution 7 and
finer), though the event log itself is append-only."""

from __future__ import annotations

import datetime
import json
import struct
from typing import Any

import h3
import pytest
from django.db import connections, transaction

from apps.tracking.models import Geofence
from apps.tracking.services.devices import device_stream
from apps.tracking.subscribers import on_user_deleted
from apps.tracking.tests.conftest import at
from cleave.databases import database_for
from cleave.events import captured_events
from cleave.eventstore import read_stream
from contracts.identity import UserDeleted

pytestmark = pytest.mark.django_db(transaction=True)

# Coordinates with digits no other row has by chance; the geofence is 2 km off, to the 3rd
# decimal apart.
TRACK = [(47.1234567 + i * 0.0001111, 8.9876543 + i * 0.0002222) for i in range(6)]


def needles(points: list[tuple[float, float]]) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for lat, lon in points:
        for value in (lat, lon):
            found[repr(value).encode()] = "repr"
            for digits in (3, 4, 5, 6, 7):
                found[f"{value:.{digits}f}".encode()] = f"{digits} decimals"
            for fmt in ("<d", ">d", "<f", ">f"):
                found[struct.pack(fmt, value)] = f"float bytes {fmt}"
        for resolution in range(7, 16):
            cell = h3.latlng_to_cell(lat, lon, resolution)
            found[cell.encode()] = f"H3 res {resolution}"
            found[str(h3.str_to_int(cell)).encode()] = f"H3 res {resolution} as an integer"
    return found


def dump(alias: str) -> dict[str, bytes]:
    """Every table of the database, each row's values as text and raw bytes.

    Dates and times are left out: they cannot hold a coordinate, and their text can hold a
    coordinate's digits by chance (a timestamp's "…:58.988" contains longitude 8.988)."""
    connection = connections[alias]
    tables: dict[str, bytes] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the catalogue
            blob = bytearray()
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
                        continue
                    if isinstance(value, bytes | memoryview | bytearray):
                        blob += bytes(value)
                    elif isinstance(value, dict | list):
                        blob += json.dumps(value).encode() + repr(value).encode()
                    else:
                        blob += str(value).encode()
                    blob += b"\x00"
            tables[table] = bytes(blob)
    return tables


def traces(points: list[tuple[float, float]], alias: str) -> list[str]:
    wanted = needles(points)
    return sorted(
        f"{table}: {kind}"
        for table, blob in dump(alias).items()
        for needle, kind in wanted.items()
        if needle in blob
    )


def test_a_deleted_user_leaves_no_trace_of_their_coordinates(phone: Any, project: Any) -> None:
    Geofence.objects.create(name="near", lat=47.14, lon=8.99, radius_m=5000)
    ada = phone(1, session_id="s1")
    ada.consent()
    ada.upload([at(30 - i * 3, lat, lon) for i, (lat, lon) in enumerate(TRACK[:3])])
    ada.upload([at(20 - i * 3, lat, lon) for i, (lat, lon) in enumerate(TRACK[3:])])
    ada.request("post", "/shares", {"user_id": 2, "minutes": 5})
    project()
    alias = database_for("tracking")
    before = traces(TRACK, alias)
    assert any(t.startswith("tracking_lastlocation") for t in before), before  # it can fail
    assert any(t.startswith("tracking_areavisitor") for t in before), before

    with captured_events(), transaction.atomic(using=alias):
        on_user_deleted(UserDeleted(aggregate_id="1", user_id=1))
    project()

    assert traces(TRACK, alias) == []
    assert read_stream(device_stream(user_id=1, session_id="s1")) == []  # unreadable now
