"""The SQL an action runs, for query-count tests: a list endpoint's count must not grow with
its page size."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

T = TypeVar("T")


def queries_of(action: Callable[[], T]) -> tuple[T, list[str]]:
    """What `action` returns, and the SQL it ran on every database alias (each context may have
    its own)."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    with ExitStack() as stack:
        captures = [
            stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections
        ]
        result = action()
    return result, [query["sql"] for capture in captures for query in capture.captured_queries]
