"""Offline quality of recommendations' ranking: hit rate at 10 on a held-out split of a
synthetic data set, for each "for you" variant and for the plain popularity baseline.

    .venv/bin/python bench/recommendations/quality.py                 # 2,000 users, 400 shows
    .venv/bin/python bench/recommendations/quality.py --dry-run       # a tiny data set, seconds

The data set and its generative model: bench/recommendations/synthetic.py (seeded; its
parameters are printed). Each user with ≥ 2 purchases has their last one held out; the rest go
through recommendations' own services (`signals.show_record`, `geofence_cell_set`,
`place_visit_record`, `ticket_record`: what its subscribers call) into its read models, in an
embedded database of the script's own (a fresh SQLite file in a temporary folder; the ranking's
queries are the same on PostgreSQL, and this environment's DATABASE_URL/REDIS_URL are never
used). Then for each held-out user the real ranking is asked for its top 10 —
`ranking.for_you` with each variant, and `ranking.popular` without the user's purchases (the
baseline: what an anonymous visitor sees) — and a hit is the held-out show among them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.recommendations import synthetic  # noqa: E402 - after the path above

K = 10
BASELINE = "popularity baseline"


@dataclass
class Result:
    name: str
    hits: int
    users: int

    def rate(self) -> float:
        return self.hits / self.users if self.users else 0.0


def _setup() -> None:
    """Embedded mode on a database of our own, whatever this shell's environment says."""
    for name in ("DATABASE_URL", "REDIS_URL", "CLEAVE_MODE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "CLEAVE_VAR_DIR": tempfile.mkdtemp(prefix="bench-recs-quality-"),
            "CLEAVE_CONTEXTS": "recommendations",
            "DJANGO_SETTINGS_MODULE": "cleave.settings",
            "DEBUG": "false",  # no query log: hundreds of thousands of queries
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--no-input", verbosity=0)


def feed(data: synthetic.DataSet, train: list[tuple[int, int]]) -> None:
    """The training part into the read models, through the services the subscribers call."""
    from apps.recommendations.services import signals

    for show in data.shows:
        signals.show_record(
            show_id=show.show_id,
            title=f"show {show.show_id}",
            starts_at=show.starts_at,
            ends_at=show.starts_at + timedelta(hours=2),
            city=show.city,
            cell=show.cell,
        )
    geofences: dict[str, int] = {}
    for user in data.users:
        if not user.tracked:
            continue
        if user.home not in geofences:
            geofences[user.home] = len(geofences) + 1
            signals.geofence_cell_set(geofence_id=geofences[user.home], cell=user.home)
        signals.place_visit_record(
            user_id=user.user_id, geofence_id=geofences[user.home], entered_at=data.now
        )
    for number, (user_id, show_id) in enumerate(train):
        signals.ticket_record(
            ticket_id=f"t{number}", user_id=user_id, show_id=show_id, order_ref=f"o{number}"
        )


def evaluate(data: synthetic.DataSet, held_out: dict[int, int], *, k: int = K) -> list[Result]:
    """Hits at k of each variant and of the baseline over the held-out users."""
    from apps.recommendations import selectors
    from apps.recommendations.services import ranking

    results = {name: Result(name, 0, len(held_out)) for name in (*ranking.VARIANTS, BASELINE)}
    popular = [item["show_id"] for item in ranking.popular(now=data.now)]
    for user_id, show_id in held_out.items():
        bought = selectors.shows_bought(user_id=user_id)
        if show_id in bought:  # the split leaked: the measure would be meaningless
            raise AssertionError(f"held-out show {show_id} of user {user_id} is in the tickets")
        for variant in ranking.VARIANTS:
            items = ranking.for_you(user_id=user_id, variant=variant, now=data.now)
            results[variant].hits += show_id in [item["show_id"] for item in items[:k]]
        results[BASELINE].hits += show_id in [s for s in popular if s not in bought][:k]
    return list(results.values())


def _report(
    data: synthetic.DataSet, split: synthetic.Split, results: list[Result], took: float
) -> None:
    print(f"parameters: {data.params.describe()}")
    print(
        f"data set: {len(data.users)} users, {len(data.shows)} shows, "
        f"{sum(len(s) for s in data.purchases.values())} purchases; "
        f"trained on {len(split.train)}, held out {len(split.held_out)} (one per user with ≥ 2)"
    )
    baseline = next(r for r in results if r.name == BASELINE)
    for result in results:
        ratio = result.rate() / baseline.rate() if baseline.rate() else float("nan")
        label = result.name if result.name == BASELINE else f"for_you variant={result.name}"
        print(
            f"  hit@{K} {label:<26} {result.rate():6.3f}  ({result.hits}/{result.users})"
            f"  × {ratio:.2f} the baseline"
        )
    print(f"took {took:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = synthetic.Params()
    # --users/--shows/--seed have options of their own
    fields = {f.name for f in dataclass_fields(synthetic.Params)} - {"users", "shows", "seed"}
    parser.add_argument("--users", type=int, default=default.users)
    parser.add_argument("--shows", type=int, default=default.shows)
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another generator parameter (synthetic.Params), e.g. --set taste_focus=0",
    )
    parser.add_argument("--dry-run", action="store_true", help="150 users, 60 shows: seconds")
    args = parser.parse_args()
    if args.dry_run:
        args.users, args.shows = 150, 60
    params = synthetic.Params(users=args.users, shows=args.shows, seed=args.seed)
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        if name not in fields:
            parser.error(f"--set {assignment}: not one of {sorted(fields)}")
        try:
            params = replace(params, **{name: type(getattr(params, name))(value)})
        except ValueError:
            parser.error(f"--set {assignment}: not a {type(getattr(params, name)).__name__}")
    started = time.monotonic()
    _setup()
    from django.utils import timezone

    # Shows start at offsets from `now` that the seed fixes: the results do not depend on the
    # day of the run (the ranking compares starts with `now` only to drop past shows).
    now: datetime = timezone.now()
    data = synthetic.generate(params, now)
    split = synthetic.split(data)
    feed(data, split.train)
    results = evaluate(data, split.held_out)
    _report(data, split, results, time.monotonic() - started)
    if not split.held_out:
        sys.exit("no user has two purchases: nothing was measured")


if __name__ == "__main__":
    main()
