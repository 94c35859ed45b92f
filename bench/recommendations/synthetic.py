"""The synthetic data set of the offline quality measure (bench/recommendations/quality.py) and
its held-out split. Pure Python and seeded: the same parameters give the same data set.

The generative model (docs/benchmarks.md, "Recommendations: offline quality"):

- Cities: four French cities with a share of the users and of the shows each. A city's area is
  the resolution-8 H3 cells within `CITY_RINGS` rings of its centre (~5 km).
- Shows: a city (by its share), a venue (one of `venues` cells drawn in that city's area), a
  genre (uniform over `genres`), a start within `days` days, and an appeal drawn from a Pareto
  law of shape `appeal_shape` (a few shows everyone wants: the popularity skew).
- Users: a home city (by its share), a home cell (uniform in its area), a primary genre
  (uniform); a share `taste_focus` of their taste goes to it, the rest evenly to every genre.
  Some (`tracked`) have a tracked place: a geofence at their home cell they visited.
- Purchases: 1 + Poisson(`purchases` − 1) distinct shows per user, drawn one after another
  without replacement with weight appeal × taste(genre) × locality, where locality is
  exp(−rings from home to venue / `distance_scale`) in the home city and `travel` elsewhere.
  The draw order is the purchase order.

Nothing in it is the ranking's: the ranking never sees genres, appeal or homes, only tickets,
venues' cells and visited geofences, and has to find taste (co-purchases) and locality (places)
in them, as it would in real traffic.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import h3

RESOLUTION = 8
CITY_RINGS = 6  # 127 cells of ~0.7 km²: a city's core
# name, latitude, longitude, share of users and shows
CITIES = (
    ("Paris", 48.8566, 2.3522, 0.45),
    ("Lyon", 45.7640, 4.8357, 0.20),
    ("Marseille", 43.2965, 5.3698, 0.20),
    ("Lille", 50.6292, 3.0573, 0.15),
)


@dataclass(frozen=True)
class Params:
    users: int = 2000
    shows: int = 400
    seed: int = 22
    genres: int = 8
    taste_focus: float = 0.7  # share of a user's taste on their primary genre
    venues: int = 12  # venue cells per city
    distance_scale: float = 3.0  # rings from home at which in-city locality falls to 1/e
    travel: float = 0.03  # locality of a show in another city
    appeal_shape: float = 1.5  # Pareto shape of a show's appeal (smaller: more skewed)
    purchases: float = 4.0  # mean purchases per user (1 + Poisson(mean − 1))
    tracked: float = 0.5  # share of users with a tracked place (a geofence at home)
    days: int = 90  # shows start within this many days of `now`

    def describe(self) -> str:
        return " ".join(f"{name}={value}" for name, value in asdict(self).items())


@dataclass(frozen=True)
class Show:
    show_id: int
    city: str
    cell: str
    genre: int
    starts_at: datetime
    appeal: float


@dataclass(frozen=True)
class User:
    user_id: int
    city: str
    home: str
    genre: int
    tracked: bool


@dataclass(frozen=True)
class DataSet:
    params: Params
    now: datetime
    shows: list[Show]
    users: list[User]
    purchases: dict[int, list[int]]  # user → shows, in purchase order


@dataclass(frozen=True)
class Split:
    train: list[tuple[int, int]]  # (user, show), each user's in purchase order, but held out
    held_out: dict[int, int]  # user with ≥ 2 purchases → their last show


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means used here.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _area(lat: float, lon: float) -> list[str]:
    centre = h3.latlng_to_cell(lat, lon, RESOLUTION)
    return sorted(str(cell) for cell in h3.grid_disk(centre, CITY_RINGS))


def generate(params: Params, now: datetime) -> DataSet:
    rng = random.Random(params.seed)
    areas = {name: _area(lat, lon) for name, lat, lon, _ in CITIES}
    names = [city[0] for city in CITIES]
    shares = [city[3] for city in CITIES]
    venues = {name: rng.sample(areas[name], min(params.venues, len(areas[name]))) for name in names}
    shows = []
    for number in range(1, params.shows + 1):
        city = rng.choices(names, shares)[0]
        shows.append(
            Show(
                show_id=number,
                city=city,
                cell=rng.choice(venues[city]),
                genre=rng.randrange(params.genres),
                starts_at=now + timedelta(days=rng.uniform(1, params.days)),
                appeal=rng.paretovariate(params.appeal_shape),
            )
        )
    users = []
    for number in range(1, params.users + 1):
        city = rng.choices(names, shares)[0]
        users.append(
            User(
                user_id=number,
                city=city,
                home=rng.choice(areas[city]),
                genre=rng.randrange(params.genres),
                tracked=rng.random() < params.tracked,
            )
        )
    rings: dict[tuple[str, str], int] = {}
    purchases: dict[int, list[int]] = {}
    spread = (1 - params.taste_focus) / params.genres
    for user in users:
        weights = []
        for show in shows:
            taste = spread + (params.taste_focus if show.genre == user.genre else 0.0)
            if show.city == user.city:
                key = (user.home, show.cell)
                if key not in rings:
                    rings[key] = int(h3.grid_distance(user.home, show.cell))
                locality = math.exp(-rings[key] / params.distance_scale)
            else:
                locality = params.travel
            weights.append(show.appeal * taste * locality)
        count = min(1 + _poisson(rng, params.purchases - 1), len(shows))
        chosen: list[int] = []
        for _ in range(count):
            index = rng.choices(range(len(shows)), weights)[0]
            chosen.append(shows[index].show_id)
            weights[index] = 0.0  # one ticket per show and user: drawn without replacement
        purchases[user.user_id] = chosen
    return DataSet(params=params, now=now, shows=shows, users=users, purchases=purchases)


def split(data: DataSet) -> Split:
    """Each user with at least two purchases loses their last one to the held-out set; every
    other purchase is training data (one-purchase users' too: they still make shows popular)."""
    train: list[tuple[int, int]] = []
    held_out: dict[int, int] = {}
    for user_id, shows in data.purchases.items():
        if len(shows) >= 2:
            held_out[user_id] = shows[-1]
            shows = shows[:-1]
        train.extend((user_id, show) for show in shows)
    return Split(train=train, held_out=held_out)
