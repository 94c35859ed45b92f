"""The ranking experiment: a flag's variants choose the ranking per user (sticky), the first
exposure per user is recorded, feedback counts per variant and the admin shows click-through."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.recommendations.models import Exposure, Feedback, VariantStat
from apps.recommendations.services.experiments import FLAG
from apps.recommendations.tests import factories
from cleave.auth.testing import Signer
from cleave.flags.changes import flag_save

pytestmark = pytest.mark.django_db(transaction=True)
Get = Callable[..., Any]
HALF_AND_HALF = [{"name": "blend", "weight": 50}, {"name": "popular", "weight": 50}]


@pytest.fixture
def experiment() -> None:
    flag_save(name=FLAG, changes={"everyone": True, "variants": HALF_AND_HALF}, actor="test")


def _post(sign: Signer, user_id: int, body: dict[str, Any]) -> Any:
    return Client().post(
        "/api/v1/recommendations/feedback",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {sign(user_id=user_id)}",
    )


def test_each_user_keeps_one_variant_and_is_exposed_once(experiment: None, get: Get) -> None:
    factories.show()
    seen: dict[int, set[str]] = {}
    for _ in range(2):
        for user_id in range(1, 31):
            variant = get("/api/v1/recommendations", user_id=user_id).json()["variant"]
            seen.setdefault(user_id, set()).add(variant)

    assert all(len(variants) == 1 for variants in seen.values())  # sticky
    per_variant = Counter(next(iter(variants)) for variants in seen.values())
    assert set(per_variant) == {"blend", "popular"}
    assert Exposure.objects.count() == 30  # once per user, not per request
    exposures = dict(VariantStat.objects.values_list("variant", "exposures"))
    assert exposures == dict(per_variant)


def test_the_popular_variant_leaves_co_purchases_out(experiment: None, get: Get) -> None:
    rock, opera = factories.show(), factories.show(at=factories.LYON)
    factories.ticket(user_id=100, show_id=rock)
    factories.ticket(user_id=100, show_id=opera)
    by_variant: dict[str, list[str]] = {}
    for user_id in range(1, 31):
        factories.ticket(user_id=user_id, show_id=rock)
        answer = get("/api/v1/recommendations", user_id=user_id).json()
        by_variant[answer["variant"]] = [r["code"] for r in answer["items"][0]["reasons"]]
    assert by_variant == {"blend": ["bought_together", "popular"], "popular": ["popular"]}


def test_feedback_counts_per_variant_and_a_dismissal_hides_the_show(
    experiment: None, get: Get, sign: Signer
) -> None:
    show_id, other = factories.show(), factories.show()
    variant = get("/api/v1/recommendations", user_id=7).json()["variant"]

    for kind in ("impression", "impression", "click", "dismiss"):
        answer = _post(sign, 7, {"show_id": show_id, "kind": kind})
        assert answer.status_code == 201, answer.content
        assert answer.json() == {"show_id": show_id, "kind": kind, "variant": variant}

    stat = VariantStat.objects.get(variant=variant)
    assert (stat.impressions, stat.clicks, stat.dismissals) == (2, 1, 1)
    assert Feedback.objects.filter(user_id=7).count() == 4
    items = get("/api/v1/recommendations", user_id=7).json()["items"]
    assert [item["show_id"] for item in items] == [other]


def test_feedback_on_an_unknown_show_is_404(get: Get, sign: Signer) -> None:
    answer = _post(sign, 7, {"show_id": 999_999, "kind": "click"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "recommendations_show_not_found"


def test_the_admin_shows_click_through_per_variant(experiment: None, sign: Signer) -> None:
    show_id = factories.show()
    for kind in ("impression", "impression", "impression", "impression", "click"):
        _post(sign, 7, {"show_id": show_id, "kind": kind})
    user_model = get_user_model()
    root = user_model.objects.create_superuser(
        **{user_model.USERNAME_FIELD: "root@example.com", "password": "x" * 20}
    )
    staff = Client()
    staff.force_login(root)

    page = staff.get("/admin/recommendations/variantstat/")

    assert page.status_code == 200
    assert "25.0 %" in page.content.decode()
