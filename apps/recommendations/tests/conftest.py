"""recommendations's fixtures: a token signer and an API client acting as a user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from apps.recommendations.services import serving
from cleave.auth.testing import Signer, token_signer


@pytest.fixture(autouse=True)
def _roomy_deadline(settings: Any) -> None:
    """A shared test machine's cold connections can pass the production deadline; only the
    deadline's own test sets a short one."""
    settings.CLEAVE_RECOMMENDATIONS_DEADLINE_SECONDS = 5


@pytest.fixture(autouse=True)
def _lists_settle(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fetches and revalidations run on recommendations's own threads: they finish before the
    test's database is emptied (requesting the database fixture orders the teardowns)."""
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("_django_db_helper")
    yield
    serving.settle()


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


@pytest.fixture
def get(sign: Signer) -> Callable[..., Any]:
    """`get(path, user_id=7, **headers)`: a GET as that user (None: anonymous)."""

    def call(path: str, *, user_id: int | None = None, **headers: Any) -> Any:
        if user_id is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {sign(user_id=user_id)}"
        return Client().get(path, **headers)

    return call
