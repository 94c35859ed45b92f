"""Blocks: who does not want to be reached by whom. Identity owns them; others keep copies."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.identity.error_codes import CannotBlockSelf, UserNotFoundError
from apps.identity.models import Block, User
from cleave.databases import database_for
from cleave.events import publish
from contracts.identity import UserBlocked, UserUnblocked

DB = database_for("identity")


def _reachable(user_id: int) -> None:
    """Only active accounts can be blocked (as the profile endpoint, others are not found)."""
    if not User.objects.using(DB).filter(pk=user_id, is_active=True).exists():
        raise UserNotFoundError()


def block_create(*, blocker_id: int, blocked_id: int) -> bool:
    """Block `blocked_id`; idempotent (True if the block is new, and only then an event)."""
    if blocker_id == blocked_id:
        raise CannotBlockSelf()
    _reachable(blocked_id)
    try:
        with transaction.atomic(using=DB):
            _, created = Block.objects.using(DB).get_or_create(
                blocker_id=blocker_id, blocked_id=blocked_id
            )
            if created:
                # Aggregate: the blocker, so their blocks and unblocks arrive in order.
                publish(
                    UserBlocked(
                        aggregate_id=str(blocker_id), blocker_id=blocker_id, blocked_id=blocked_id
                    )
                )
    except IntegrityError:  # the same block raced us to it: it exists, which is what was asked
        return False
    return created


def block_delete(*, blocker_id: int, blocked_id: int) -> bool:
    """Lift a block; idempotent (True if there was one, and only then an event)."""
    if blocker_id == blocked_id:
        raise CannotBlockSelf()
    if not User.objects.using(DB).filter(pk=blocked_id).exists():
        raise UserNotFoundError()
    with transaction.atomic(using=DB):
        deleted, _ = (
            Block.objects.using(DB).filter(blocker_id=blocker_id, blocked_id=blocked_id).delete()
        )
        if deleted:
            publish(
                UserUnblocked(
                    aggregate_id=str(blocker_id), blocker_id=blocker_id, blocked_id=blocked_id
                )
            )
    return bool(deleted)
