"""Roles: who is staff, an admin or a moderator. Tokens carry roles, so changing them signs the
user out everywhere: no token may carry a role taken away (a demoted moderator deactivating
accounts until the token expires), nor miss one given (the next sign-in carries it)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from apps.identity import selectors
from apps.identity.error_codes import UserNotFoundError
from apps.identity.models import User
from apps.identity.services.sessions import sessions_revoke_all
from cleave.auth.permissions import forget_permissions
from cleave.databases import database_for

DB = database_for("identity")


def user_access_set(
    *,
    user_id: int,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
    group_ids: list[int] | None = None,
) -> bool:
    """Set what is given (None keeps it); True if the user's roles changed, which revoked
    every session of the user."""
    with transaction.atomic(using=DB):
        user = User.objects.using(DB).select_for_update().filter(pk=user_id).first()
        if user is None:
            raise UserNotFoundError()
        before = selectors.user_role_list(user=user)
        if is_staff is not None:
            user.is_staff = is_staff
        if is_superuser is not None:
            user.is_superuser = is_superuser
        user.save(using=DB, update_fields=["is_staff", "is_superuser"])
        if group_ids is not None:
            user.groups.set(Group.objects.using(DB).filter(pk__in=group_ids))
        changed = selectors.user_role_list(user=user) != before
        if changed:
            sessions_revoke_all(user_id=user.pk, reason="roles_changed")
        transaction.on_commit(lambda: _forget(user_id), using=DB)
    return changed


def group_create(*, name: str) -> Group:
    """A new permission group, with no members yet: nobody's roles or permissions change."""
    with transaction.atomic(using=DB):
        return Group.objects.using(DB).create(name=name)


def group_permissions_set(*, group_id: int, permission_ids: list[int]) -> None:
    """Set what a group's members may do. Tokens carry roles, not permissions, so nobody is
    signed out; the members' cached permissions are forgotten after commit, so the change
    applies to their next request rather than after the cache's lifetime."""
    with transaction.atomic(using=DB):
        group = Group.objects.using(DB).select_for_update().get(pk=group_id)
        group.permissions.set(Permission.objects.using(DB).filter(pk__in=permission_ids))
        member_ids = list(User.objects.using(DB).filter(groups=group).values_list("pk", flat=True))
        transaction.on_commit(lambda: _forget_all(member_ids), using=DB)


def _forget_all(user_ids: list[int]) -> None:
    for user_id in user_ids:
        forget_permissions(user_id)


def _forget(user_id: int) -> None:
    # /me and permission checks must not serve the old roles from their caches.
    selectors.user_profile_forget(user_id=user_id)
    forget_permissions(user_id)
