"""identity serves its published contract; its public surface changes only on purpose."""

from __future__ import annotations

import pytest

import contracts.identity
from apps.identity.models import User
from cleave.contracts.registry import client
from contracts.identity import IDENTITY, IdentityService, UserGet, UserNotFound, UserProfile

pytestmark = pytest.mark.django_db


def test_user_get_returns_the_public_profile() -> None:
    user = User.objects.create_user("ada@example.com", "pw-12345678", display_name="Ada")
    profile = client(IDENTITY, IdentityService).user_get(UserGet(user_id=user.pk))
    assert profile == UserProfile(
        id=user.pk, email="ada@example.com", display_name="Ada", is_active=True
    )


def test_user_get_for_a_missing_user_raises_the_contract_error() -> None:
    with pytest.raises(UserNotFound, match="User 404 does not exist"):
        client(IDENTITY, IdentityService).user_get(UserGet(user_id=404))


@pytest.mark.django_db(transaction=True)  # the cache is forgotten on commit
def test_contract_reads_are_cached_but_never_outlive_a_change() -> None:
    from apps.identity.services.accounts import user_deactivate, user_update

    user = User.objects.create_user("lin@example.com", "pw-12345678", display_name="Lin")
    identity = client(IDENTITY, IdentityService)
    assert identity.user_get(UserGet(user_id=user.pk)).display_name == "Lin"
    User.objects.filter(pk=user.pk).update(display_name="Sneaky")  # behind identity's back
    assert identity.user_get(UserGet(user_id=user.pk)).display_name == "Lin"  # cached
    user_update(user_id=user.pk, display_name="Lin Two")
    assert identity.user_get(UserGet(user_id=user.pk)).display_name == "Lin Two"
    user_deactivate(user_id=user.pk)
    status = identity.user_status(UserGet(user_id=user.pk))
    assert (status.exists, status.active) == (True, False)


def test_the_public_surface_did_not_drift() -> None:
    assert contracts.identity.__all__ == sorted(contracts.identity.__all__)
    assert contracts.identity.__all__ == [
        "DeviceRegistered",
        "IDENTITY",
        "IdentityService",
        "Platform",
        "PushTokenChanged",
        "SessionRevoked",
        "UserBlocked",
        "UserDeleted",
        "UserGet",
        "UserNotFound",
        "UserProfile",
        "UserProfiles",
        "UserRegistered",
        "UserStatus",
        "UserUnblocked",
        "UserUpdated",
        "UsersGet",
    ]
