"""Blocking: `POST/DELETE /users/{id}/block` and your list at `GET /blocks`."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from apps.identity import selectors
from apps.identity.error_codes import CannotBlockSelf, UserNotFoundError
from apps.identity.models import Block
from apps.identity.schemas import BlockOut
from apps.identity.services import blocks
from cleave.api import Id
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.openapi.errors import raises
from cleave.pagination import CursorPagination

router = Router(auth=bearer)


@router.post("/users/{user_id}/block", response={204: None})
@raises(CannotBlockSelf, UserNotFoundError)
def block_create(request: HttpRequest, user_id: Id) -> Status[None]:
    """Block a user: they can no longer start a direct conversation with you or invite you.
    Idempotent; blocking yourself is 422, an unknown user 404."""
    blocks.block_create(blocker_id=principal_of(request).user_id, blocked_id=user_id)
    return Status(204, None)


@router.delete("/users/{user_id}/block", response={204: None})
@raises(CannotBlockSelf, UserNotFoundError)
def block_delete(request: HttpRequest, user_id: Id) -> Status[None]:
    """Unblock a user; idempotent (204 whether or not they were blocked)."""
    blocks.block_delete(blocker_id=principal_of(request).user_id, blocked_id=user_id)
    return Status(204, None)


@router.get("/blocks", response=list[BlockOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def block_list(request: HttpRequest) -> QuerySet[Block]:
    """The users you blocked, most recent first."""
    return selectors.block_list(blocker_id=principal_of(request).user_id)
