"""The offline quality measure's generator, split and evaluator (bench/recommendations): the
split holds out exactly each eligible user's last purchase, and the held-out shows never reach
the read models the ranking reads."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.recommendations import quality, synthetic

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SMALL = synthetic.Params(users=40, shows=20, seed=5)


def test_the_generator_is_seeded() -> None:
    first, again = synthetic.generate(SMALL, NOW), synthetic.generate(SMALL, NOW)
    other = synthetic.generate(synthetic.Params(users=40, shows=20, seed=6), NOW)
    assert first.purchases == again.purchases
    assert first.shows == again.shows
    assert first.purchases != other.purchases


def test_purchases_are_distinct_upcoming_shows_at_known_venues() -> None:
    data = synthetic.generate(SMALL, NOW)
    cells = {show.show_id: show.cell for show in data.shows}
    for shows in data.purchases.values():
        assert 1 <= len(shows) == len(set(shows))
        assert all(show in cells for show in shows)
    assert all(show.starts_at > NOW for show in data.shows)


def test_the_split_holds_out_each_eligible_users_last_purchase_only() -> None:
    data = synthetic.generate(SMALL, NOW)
    split = synthetic.split(data)
    eligible = {user for user, shows in data.purchases.items() if len(shows) >= 2}
    assert eligible
    assert set(split.held_out) == eligible
    assert any(len(shows) == 1 for shows in data.purchases.values())  # both kinds are covered
    trained: dict[int, list[int]] = {}
    for user, show in split.train:
        trained.setdefault(user, []).append(show)
    for user, shows in data.purchases.items():
        held = [split.held_out[user]] if user in eligible else []
        assert trained[user] + held == shows  # the rest, in order; the last one held out
    assert len(split.train) + len(split.held_out) == sum(map(len, data.purchases.values()))


@pytest.mark.django_db
def test_the_read_models_hold_the_training_purchases_only() -> None:
    from apps.recommendations.models import Show, Ticket

    data = synthetic.generate(SMALL, NOW)
    split = synthetic.split(data)
    quality.feed(data, split.train)
    tickets = set(Ticket.objects.values_list("user_id", "show_id"))
    assert tickets == set(split.train)
    assert not tickets & set(split.held_out.items())
    buyers = Counter(show for _, show in split.train)
    assert {s.show_id: s.buyers for s in Show.objects.all()} == {
        show.show_id: buyers[show.show_id] for show in data.shows
    }
    results = quality.evaluate(data, split.held_out)
    assert {r.name for r in results} == {"blend", "popular", quality.BASELINE}
    assert all(0 <= r.hits <= r.users == len(split.held_out) for r in results)


@pytest.mark.django_db
def test_a_leaked_held_out_purchase_is_refused() -> None:
    data = synthetic.generate(SMALL, NOW)
    split = synthetic.split(data)
    quality.feed(data, split.train + list(split.held_out.items()))
    with pytest.raises(AssertionError, match="held-out show"):
        quality.evaluate(data, split.held_out)
