"""identity's data migrations, run backwards and forwards on the test database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, VERIFICATION = ("identity", "0005_user_blocks"), ("identity", "0006_email_verified_at")


def _migrate(target: tuple[str, str]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor


def test_accounts_older_than_verification_count_as_verified_since_they_joined() -> None:
    old = _migrate(BEFORE).loader.project_state([BEFORE]).apps.get_model("identity", "User")
    joined = timezone.now() - timedelta(days=30)
    old.objects.create(email="old@example.com", password="!", date_joined=joined)
    old.objects.create(email="gone@example.com", password="!", is_active=False)
    try:
        new = (
            _migrate(VERIFICATION)
            .loader.project_state([VERIFICATION])
            .apps.get_model("identity", "User")
        )
        assert new.objects.get(email="old@example.com").email_verified_at == joined
        assert new.objects.get(email="gone@example.com").email_verified_at is None
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
