"""What tracking does when other contexts' facts arrive."""

from __future__ import annotations

from apps.tracking.services.erase import user_forget
from cleave.events import subscriber
from contracts.identity import UserDeleted


@subscriber(UserDeleted)
def on_user_deleted(event: UserDeleted) -> None:
    """Crypto-shred the account's location history and drop its rows everywhere in tracking."""
    user_forget(user_id=event.user_id)
