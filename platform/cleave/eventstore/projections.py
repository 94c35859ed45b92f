"""Projections: catch-up subscriptions that keep a context's read models (CQRS) from the log.

A context defines a `Projection` subclass and registers an instance from its
`AppConfig.ready()`; `cleave.eventstore.subscriptions` feeds it batches of events, each batch
applied in the transaction that also moves its checkpoint (so each event is applied exactly
once per projection, whatever crashes in between).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.db.models import Model

from cleave.databases import database_for
from cleave.eventstore.records import RecordedEvent
from cleave.eventstore.store import context_of_name


class Projection:
    """Subclass with `name` (`<context>.<what>`), the streams it reads (`categories` and/or
    `types`, None = all), the tables it owns (`read_models`, emptied on rebuild) and `apply`.

    `apply` runs inside the transaction that advances the checkpoint: write the read models
    with the ORM there and do no outside calls (nothing after a rollback could undo them).
    """

    name: str = ""
    categories: Collection[str] | None = None
    types: Collection[str] | None = None
    read_models: Sequence[type[Model]] = ()
    batch_size: int = 500

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        raise NotImplementedError

    def forget(self, subject: str) -> None:
        """Drop `subject`'s rows from the read models (crypto-shredding). Read models that hold
        no personal data keep the default, which does nothing."""

    @property
    def alias(self) -> str:
        """The projection's context's database: its read models and checkpoint live there."""
        return database_for(context_of_name(self.name))

    def __repr__(self) -> str:
        return f"<Projection {self.name}>"


_projections: dict[str, Projection] = {}


def register_projection(projection: Projection) -> None:
    """Make `projection` known to catch-up, the commands and forgetting (from `ready()`).
    Registering a name again replaces the projection (tests, autoreload)."""
    if "." not in projection.name:
        raise ValueError(f"projection name {projection.name!r}: expected <context>.<name>")
    _projections[projection.name] = projection


def unregister_projection(name: str) -> None:
    """Tests: take a projection back out."""
    _projections.pop(name, None)


def registered_projections() -> list[Projection]:
    return [_projections[name] for name in sorted(_projections)]


def projection_named(name: str) -> Projection:
    try:
        return _projections[name]
    except KeyError:
        known = ", ".join(sorted(_projections)) or "none"
        raise LookupError(f"no projection {name!r} (registered: {known})") from None
