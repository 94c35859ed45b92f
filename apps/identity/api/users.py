"""Other users: public profiles for everyone signed in; moderation for moderators and up."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from apps.identity import selectors
from apps.identity.error_codes import UserNotFoundError
from apps.identity.schemas import ProfileOut
from apps.identity.services import accounts
from cleave.api import Id
from cleave.auth.ninja_auth import bearer, principal_of, require_role
from cleave.auth.principal import rank
from cleave.errors import Forbidden
from cleave.openapi.errors import raises

router = Router()


@router.get("/{user_id}", response=ProfileOut, auth=bearer)
@raises(UserNotFoundError)
def user_profile(request: HttpRequest, user_id: Id) -> ProfileOut:
    user = selectors.user_get(user_id=user_id)
    if user is None or not user.is_active:
        raise UserNotFoundError()
    return ProfileOut(id=user.pk, display_name=user.display_name)


@router.post(
    "/{user_id}/deactivate", response={204: None}, auth=require_role("moderator", "staff", "admin")
)
@raises(UserNotFoundError)
def user_deactivate(request: HttpRequest, user_id: Id) -> Status[None]:
    """Suspend an account (moderation): it can no longer log in; its sessions end now. Only an
    account that outranks the target may (a moderator cannot suspend staff or an admin)."""
    target = selectors.user_get(user_id=user_id)
    if target is None:
        raise UserNotFoundError()
    actor_rank = rank(principal_of(request).roles)
    if actor_rank <= rank(selectors.user_role_list(user=target)):
        raise Forbidden(details={"reason": "the account outranks or equals yours"})
    accounts.user_deactivate(user_id=user_id)
    return Status(204, None)
