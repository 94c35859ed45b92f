"""What a saga is: a name, ordered steps, and for each step its action, its compensation, its
deadline and its retry policy. Definitions are code (a context's `sagas.py`), registered when
built, and looked up by name by the runner in whichever process hosts the context.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

# JSON-serialisable values only: they are stored in the saga's history.
Json = Any


class StepFailed(Exception):
    """Raised by an action when retrying cannot help (a card declined, a seat gone): the saga
    compensates at once. Any other exception is retried under the step's policy."""

    def __init__(self, reason: str, *, details: Mapping[str, Json] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = dict(details or {})


@dataclass(frozen=True)
class Retry:
    """Up to `attempts` tries, waiting `base * 2**(n-1)` seconds (at most `cap`) before try
    n+1, with full jitter: a random wait between half of that and all of it."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


# Compensations must finish: more tries, longer waits; exhausted, the saga is `failed` and an
# operator retries it (`manage.py sagas retry`, the admin).
COMPENSATION_RETRY = Retry(attempts=20, base=1.0, cap=300.0)


@dataclass(frozen=True)
class StepContext:
    """What an action or a compensation is given."""

    saga_id: UUID
    saga: str
    step: str
    attempt: int
    # Stable across attempts and redeliveries: send it as the idempotency key of every outside
    # write the step makes, so a repeated try has no second effect.
    idempotency_key: str
    input: Mapping[str, Json]
    # Earlier steps' results, by step name.
    results: Mapping[str, Json]
    # The payload of the signal a waiting step received (None for other steps).
    signal: Json = None
    # For a compensation: the idempotency key its action used (what to undo).
    action_key: str = ""


Action = Callable[[StepContext], Json]


@dataclass(frozen=True)
class Step:
    """One step. `action(ctx)` does the work and returns its result (JSON); `compensation(ctx)`
    undoes it and must also be safe when the action's effect never happened (it may have timed
    out before reaching the other side). `wait_for` makes it wait for `saga_signal(saga_id,
    wait_for, payload)` first; the action (optional then) sees `ctx.signal`."""

    name: str
    action: Action | None = None
    compensation: Action | None = None
    deadline: timedelta = timedelta(minutes=5)
    retry: Retry = field(default_factory=Retry)
    compensation_retry: Retry = COMPENSATION_RETRY
    # How long one try may take before the sweeper assumes its worker died and hands it off
    # again (a live try holds the saga's row lock, so a second runner skips it meanwhile).
    attempt_timeout: timedelta = timedelta(seconds=30)
    wait_for: str | None = None

    def __post_init__(self) -> None:
        if self.action is None and self.wait_for is None:
            raise ValueError(f"step {self.name!r} needs an action, a wait_for, or both")
        if ":" in self.name:
            raise ValueError(f"step {self.name!r}: ':' separates kill-point parts")


@dataclass(frozen=True)
class Saga:
    """An orchestrated saga, named `<context>.<name>`: the context whose worker runs its steps
    (its `events.<context>` queue) and whose database holds its state."""

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if "." not in self.name or ":" in self.name:
            raise ValueError(f"saga name {self.name!r} must be '<context>.<name>' without ':'")
        names = [step.name for step in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"saga {self.name!r} needs steps with distinct names")

    @property
    def context(self) -> str:
        return self.name.split(".", 1)[0]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"saga {self.name} has no step {name!r}")

    def after(self, name: str) -> Step | None:
        names = [step.name for step in self.steps]
        index = names.index(name) + 1
        return self.steps[index] if index < len(self.steps) else None

    def kill_points(self) -> list[str]:
        """Every point a crash test stops a worker at: before and after each side effect (each
        action, each compensation), `<saga>:<step>:<before|after>[:compensate]`."""
        points = []
        for step in self.steps:
            if step.action is not None:
                points += [f"{self.name}:{step.name}:before", f"{self.name}:{step.name}:after"]
        for step in self.steps:
            if step.compensation is not None:
                points += [
                    f"{self.name}:{step.name}:before:compensate",
                    f"{self.name}:{step.name}:after:compensate",
                ]
        return points


class SagaRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, Saga] = {}

    def add(self, saga: Saga) -> Saga:
        existing = self._by_name.get(saga.name)
        if existing is not None and existing != saga:
            raise ValueError(f"two sagas are named {saga.name}")
        self._by_name[saga.name] = saga
        return saga

    def get(self, name: str) -> Saga:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownSaga(name) from None

    def all(self) -> list[Saga]:
        return sorted(self._by_name.values(), key=lambda saga: saga.name)


class UnknownSaga(KeyError):
    """No saga of that name is defined in this process (its context is not hosted here)."""


sagas = SagaRegistry()


def saga(name: str, *steps: Step) -> Saga:
    """Define and register a saga: `CHECKOUT = saga("orders.checkout", Step(...), ...)`."""
    return sagas.add(Saga(name=name, steps=tuple(steps)))


def idempotency_key(saga_id: UUID, step: str, *, compensate: bool = False) -> str:
    """The same on every try of the step, in every process: `<saga id>:<step>[:compensate]`."""
    return f"{saga_id}:{step}" + (":compensate" if compensate else "")
