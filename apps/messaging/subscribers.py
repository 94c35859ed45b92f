"""What messaging does when other contexts' facts arrive."""

from __future__ import annotations

from apps.messaging.services.blocks import block_forget, block_record, user_blocks_erase
from apps.messaging.services.messages import user_erase
from cleave.events import subscriber
from contracts.identity import UserBlocked, UserDeleted, UserUnblocked


@subscriber(UserDeleted)
def on_user_deleted(event: UserDeleted) -> None:
    """Policy: a deleted account's messages become tombstones (their seq stays, their text goes)
    and it leaves every conversation; the others keep their history intact around the gap. Its
    blocks and open invitations go too."""
    user_erase(user_id=event.user_id)
    user_blocks_erase(user_id=event.user_id)


@subscriber(UserBlocked)
def on_user_blocked(event: UserBlocked) -> None:
    """Keep a copy of the block: messaging enforces it (see services/blocks.py)."""
    block_record(blocker_id=event.blocker_id, blocked_id=event.blocked_id)


@subscriber(UserUnblocked)
def on_user_unblocked(event: UserUnblocked) -> None:
    block_forget(blocker_id=event.blocker_id, blocked_id=event.blocked_id)
