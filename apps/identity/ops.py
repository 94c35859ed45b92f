"""identity's staff actions in the ops API (DRF under /api/ops/, staff only, audited).

POST /api/ops/users/<id>/verify-email/   vouch for the account's address (support, tests,
                                         benchmarks); recorded in the admin's history
PUT  /api/ops/users/<id>/roles/          {"roles": [...]}: the roles the contexts declare
                                         (a door scanner's "scanner") the account has; its
                                         sessions end when they change (tokens carry roles)
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity import selectors
from apps.identity.models import User
from apps.identity.services import emails, roles
from cleave.contexts import declared_roles
from cleave.databases import database_for

DB = database_for("identity")
AUDIT_MESSAGE = "Marked the e-mail verified (ops API)."


class UserVerifyEmail(APIView):
    """Mark an active account's address verified (idempotent)."""

    def post(self, request: Request, user_id: int) -> Response:
        staff_id = request.user.pk
        if staff_id is None:  # the ops API lets only signed-in staff in; never reached
            raise NotAuthenticated()
        user = emails.email_mark_verified(user_id=user_id)
        # The admin's history of the account shows who vouched for it, as for admin edits.
        LogEntry.objects.log_actions(
            staff_id,
            User.objects.using(DB).filter(pk=user.pk),
            CHANGE,
            change_message=AUDIT_MESSAGE,
            single_object=True,
        )
        return Response({"id": user.pk, "email": user.email, "email_verified": True})


class RolesSerializer(serializers.Serializer[dict[str, Any]]):
    roles = serializers.ListField(child=serializers.CharField(max_length=150), max_length=20)

    def validate_roles(self, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - declared_roles())
        if unknown:
            # Staff, moderator and admin powers are granted in the admin, never here.
            raise serializers.ValidationError(
                f"Not a role the contexts declare: {', '.join(unknown)}; "
                f"one of: {', '.join(sorted(declared_roles())) or 'none'}."
            )
        return sorted(set(value))


class UserRoles(APIView):
    """Set which of the contexts' roles an account has (idempotent); its other groups stay."""

    def put(self, request: Request, user_id: int) -> Response:
        staff_id = request.user.pk
        if staff_id is None:  # the ops API lets only signed-in staff in; never reached
            raise NotAuthenticated()
        payload = RolesSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        wanted: list[str] = payload.validated_data["roles"]
        user = User.objects.using(DB).filter(pk=user_id).first()
        kept = [] if user is None else list(user.groups.exclude(name__in=declared_roles()))
        # A declared role's group is made after `migrate` where the edge is; made here too if not.
        granted = [Group.objects.using(DB).get_or_create(name=role)[0] for role in wanted]
        # Through the service: a change of roles ends the account's sessions (404 if none).
        changed = roles.user_access_set(
            user_id=user_id, group_ids=[group.pk for group in [*kept, *granted]]
        )
        if changed:
            LogEntry.objects.log_actions(
                staff_id,
                User.objects.using(DB).filter(pk=user_id),
                CHANGE,
                change_message=f"Set the roles {wanted} (ops API).",
                single_object=True,
            )
        target = User.objects.using(DB).get(pk=user_id)
        return Response({"id": user_id, "roles": sorted(selectors.user_role_list(user=target))})
