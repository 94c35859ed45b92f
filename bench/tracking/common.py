"""What every part of bench/tracking shares: its own database (dropped and migrated at each
start: the event log is append-only, and a run measures a log of known size), the real-mode
keys, the synthetic phones' points, and percentiles."""

from __future__ import annotations

import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
POINTS_PER_BATCH = 100  # the batch size
TRIP_EVERY = 20  # batches of one device per trip: then a 40 min gap ends it
GEOFENCES = 50


def prepare(database: str, *, connections: int, fresh: bool = True) -> None:
    """Point DATABASE_URL at `database` (dropped and created when `fresh`), set the keys and
    settings of real mode (a connection pool for `connections` threads), set Django up and
    migrate."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/tracking needs real mode: DATABASE_URL (PostgreSQL) and REDIS_URL")
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = f"{server}/{database}"
    from cleave.testing.processes import real_mode_keys

    # Real mode refuses to start without keys: the environment's, else this benchmark's own.
    os.environ.update(real_mode_keys("bench_tracking"))
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.settings"
    # Each thread holds a pooled connection for its transaction (plus the lag part's catch-up
    # and monitor): the default pool (10) would make threads wait, then fail.
    os.environ["DB_POOL_MAX"] = str(connections + 4)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def geofences(users: int) -> None:
    """GEOFENCES circles of 150 m along the phones' paths, so the visits projection works."""
    from apps.tracking.models import Geofence

    Geofence.objects.bulk_create(
        Geofence(
            name=f"bench {i}",
            lat=home(i % users)[0],
            lon=home(i % users)[1] + 0.002 * i,
            radius_m=150,
        )  # fmt: skip
        for i in range(GEOFENCES)
    )


def home(user_index: int) -> tuple[float, float]:
    """Where phone `user_index` walks from: spread over Paris, a few km apart."""
    return 48.80 + (user_index % 10) * 0.01, 2.25 + (user_index // 10) * 0.01


def batch_points(user_index: int, number: int, start: datetime) -> list[dict[str, Any]]:
    """Batch `number` of one phone: 100 points a second apart, walking east at ~1.4 m/s; every
    TRIP_EVERY batches a 40-minute gap, so trips end and new ones start."""
    lat, lon = home(user_index)
    first = start + timedelta(
        seconds=number * POINTS_PER_BATCH, minutes=40 * (number // TRIP_EVERY)
    )
    return [
        {
            "t": (first + timedelta(seconds=i)).isoformat(),
            "lat": round(lat, 6),
            "lon": round(lon + (number * POINTS_PER_BATCH + i) * 2e-5, 6),
            "accuracy": 8,
            "speed": 1.4,
            "activity": "walking",
        }
        for i in range(POINTS_PER_BATCH)
    ]


def log_start(batches_per_user: int) -> datetime:
    """The first point's time: the whole run's points end before now (none `in_future`)."""
    span = timedelta(seconds=batches_per_user * POINTS_PER_BATCH,
                     minutes=40 * (batches_per_user // TRIP_EVERY + 1))  # fmt: skip
    return datetime.now(UTC) - span - timedelta(minutes=5)


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[round(fraction * 1000) - 1]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
