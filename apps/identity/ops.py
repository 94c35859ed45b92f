"""identity's staff actions in the ops API (DRF under /api/ops/, staff only, audited).

POST /api/ops/users/<id>/verify-email/   vouch for the account's address (support, tests,
                                         benchmarks); recorded in the admin's history
"""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity.models import User
from apps.identity.services import emails
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
