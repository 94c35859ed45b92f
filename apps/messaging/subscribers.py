"""What messaging does when other contexts' facts arrive."""

from __future__ import annotations

from apps.messaging.services.messages import user_erase
from cleave.events import subscriber
from contracts.identity import UserDeleted


@subscriber(UserDeleted)
def on_user_deleted(event: UserDeleted) -> None:
    """Policy: a deleted account's messages become tombstones (their seq stays, their text goes)
    and it leaves every conversation; the others keep their history intact around the gap."""
    user_erase(user_id=event.user_id)
