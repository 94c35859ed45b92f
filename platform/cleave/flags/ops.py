"""The operations API for flags (DRF): read and step rollouts, kill switches; all audited.

    GET   /api/ops/flags/                 every flag
    GET   /api/ops/flags/<name>/          one flag
    PUT   /api/ops/flags/<name>/          create or replace its settings
    PATCH /api/ops/flags/<name>/          change some (e.g. {"percent": 25} for a canary step)
    POST  /api/ops/flags/<name>/kill/     {"killed": true} turns it off for everyone at once
Staff only (the access token's roles, or a staff session); writes need the
`cleave.change_flag` permission.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cleave.auth.principal import ROLES
from cleave.flags.bucketing import SemVer
from cleave.flags.changes import EDITABLE, flag_kill, flag_save, snapshot
from cleave.flags.definitions import PLATFORMS
from cleave.flags.models import Flag
from cleave.gateway.drf_auth import IsStaff


class CanChangeFlags(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in {"GET", "HEAD", "OPTIONS"} or request.user.has_perm(
            "cleave.change_flag"
        )


class VariantSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=50)
    weight = serializers.IntegerField(min_value=0, max_value=1000)


class FlagSerializer(serializers.Serializer[dict[str, Any]]):
    everyone = serializers.BooleanField(allow_null=True, required=False)
    percent = serializers.DecimalField(
        max_digits=3,
        decimal_places=1,
        min_value=Decimal("0"),
        max_value=Decimal("99.9"),
        allow_null=True,
        required=False,
    )
    client_visible = serializers.BooleanField(required=False)
    platforms = serializers.ListField(child=serializers.ChoiceField(PLATFORMS), required=False)
    min_app_version = serializers.CharField(max_length=32, allow_blank=True, required=False)
    max_app_version = serializers.CharField(max_length=32, allow_blank=True, required=False)
    user_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    roles = serializers.ListField(child=serializers.ChoiceField(ROLES), required=False)
    environments = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    variants = VariantSerializer(many=True, required=False)
    note = serializers.CharField(allow_blank=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for field in ("min_app_version", "max_app_version"):
            if attrs.get(field) and SemVer.parse(attrs[field]) is None:
                raise serializers.ValidationError({field: "not a semantic version (e.g. 2.3.0)"})
        unknown = set(self.initial_data) - set(EDITABLE)
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in sorted(unknown)})
        return attrs


# Flag names as apps and code use them ("messaging.edit", "checkout-v2"): no spaces, no control
# characters (PostgreSQL refuses NUL in text outright), at most the column's 100 characters.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise serializers.ValidationError(
            {"name": "letters, digits, '.', '_' and '-', starting with a letter or digit (≤ 100)"}
        )


def _actor(request: Request) -> str:
    """The audit log's actor: a session's e-mail, or `user <id>` for an access token (which
    carries no e-mail; the id names the account all the same)."""
    return getattr(request.user, "email", "") or str(request.user)


class FlagList(APIView):
    permission_classes = (IsStaff,)

    def get(self, request: Request) -> Response:
        return Response(
            [{"name": f.name, **(snapshot(f) or {})} for f in Flag.objects.order_by("name")]
        )


class FlagDetail(APIView):
    permission_classes = (IsStaff, CanChangeFlags)

    def get(self, request: Request, name: str) -> Response:
        _check_name(name)
        flag = Flag.objects.filter(name=name).first()
        if flag is None:
            return Response({"detail": "No such flag."}, status=status.HTTP_404_NOT_FOUND)
        return Response({"name": name, **(snapshot(flag) or {})})

    def put(self, request: Request, name: str) -> Response:
        return self._save(request, name, partial=False)

    def patch(self, request: Request, name: str) -> Response:
        return self._save(request, name, partial=True)

    def _save(self, request: Request, name: str, *, partial: bool) -> Response:
        _check_name(name)
        if partial and not Flag.objects.filter(name=name).exists():
            return Response({"detail": "No such flag."}, status=status.HTTP_404_NOT_FOUND)
        serializer = FlagSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        flag = flag_save(name=name, changes=dict(serializer.validated_data), actor=_actor(request))
        return Response({"name": name, **(snapshot(flag) or {})})


class FlagKill(APIView):
    permission_classes = (IsStaff, CanChangeFlags)

    def post(self, request: Request, name: str) -> Response:
        _check_name(name)
        body = request.data if isinstance(request.data, dict) else {}  # a JSON array: no field
        killed = body.get("killed")
        if not isinstance(killed, bool):
            raise serializers.ValidationError({"killed": "true or false"})
        if not Flag.objects.filter(name=name).exists():
            return Response({"detail": "No such flag."}, status=status.HTTP_404_NOT_FOUND)
        flag_kill(name=name, killed=killed, actor=_actor(request))
        return Response({"name": name, "killed": killed})
