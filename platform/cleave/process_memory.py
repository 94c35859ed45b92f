"""What a process remembers beyond one request, and one way to forget all of it.

Verified tokens, signing keys, flag definitions, memoised profiles: each owner (the kernel's
modules, a context's `ready()`) registers the function that forgets its memory. The test suite
calls `forget_process_memory()` before every test, since each test empties the database and the
cache under those memories; the kernel thereby resets a context's state without naming it.
"""

from __future__ import annotations

from collections.abc import Callable

_forgetters: list[Callable[[], None]] = []


def register_forget(forget: Callable[[], None]) -> None:
    """Register `forget()` (no arguments) to run on `forget_process_memory()`; idempotent."""
    if forget not in _forgetters:
        _forgetters.append(forget)


def forget_process_memory() -> None:
    """Forget every registered memory, in registration order (the kernel's first)."""
    for forget in list(_forgetters):
        forget()
