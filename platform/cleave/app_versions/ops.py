"""The operations API of the app-version policy (DRF), at the flags home; every change audited.

    GET    /api/ops/app-versions/              every platform's policy
    GET    /api/ops/app-versions/<platform>/   one
    PUT    /api/ops/app-versions/<platform>/   set it: {"minimum_version": "2.0.0",
                                               "recommended_version": "2.3.0",
                                               "store_url": "https://apps.apple.com/…"}
    PATCH  /api/ops/app-versions/<platform>/   change some fields
    DELETE /api/ops/app-versions/<platform>/   remove it (every version served again)
Staff only; writes need the `cleave.change_appversionpolicy` permission.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cleave.app_versions.models import AppVersionPolicy
from cleave.app_versions.policy import EDITABLE, policy_delete, policy_save
from cleave.flags.bucketing import SemVer
from cleave.gateway.client_version import PLATFORMS
from cleave.gateway.drf_auth import IsStaff


class CanChangePolicy(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in {"GET", "HEAD", "OPTIONS"} or request.user.has_perm(
            "cleave.change_appversionpolicy"
        )


class PolicySerializer(serializers.Serializer[dict[str, Any]]):
    minimum_version = serializers.CharField(max_length=32, allow_blank=True, required=False)
    recommended_version = serializers.CharField(max_length=32, allow_blank=True, required=False)
    store_url = serializers.URLField(max_length=500, allow_blank=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(EDITABLE)
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in sorted(unknown)})
        for field in ("minimum_version", "recommended_version"):
            if attrs.get(field) and SemVer.parse(attrs[field]) is None:
                raise serializers.ValidationError({field: "not a semantic version (e.g. 2.3.0)"})
        return attrs


def _actor(request: Request) -> str:
    return getattr(request.user, "email", "") or str(request.user)


def _row(platform: str) -> dict[str, Any] | None:
    row = AppVersionPolicy.objects.filter(platform=platform).first()
    if row is None:
        return None
    return {
        "platform": row.platform,
        "minimum_version": row.minimum_version,
        "recommended_version": row.recommended_version,
        "store_url": row.store_url,
        "updated_at": row.updated_at,
    }


def _check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise serializers.ValidationError({"platform": f"one of {', '.join(PLATFORMS)}"})


class PolicyList(APIView):
    permission_classes = (IsStaff,)

    def get(self, request: Request) -> Response:
        platforms = AppVersionPolicy.objects.order_by("platform").values_list("platform", flat=True)
        return Response([_row(platform) for platform in platforms])


class PolicyDetail(APIView):
    permission_classes = (IsStaff, CanChangePolicy)

    def get(self, request: Request, platform: str) -> Response:
        _check_platform(platform)
        found = _row(platform)
        if found is None:
            return Response({"detail": "No policy for this platform."}, status=404)
        return Response(found)

    def put(self, request: Request, platform: str) -> Response:
        return self._save(request, platform, partial=False)

    def patch(self, request: Request, platform: str) -> Response:
        return self._save(request, platform, partial=True)

    def delete(self, request: Request, platform: str) -> Response:
        _check_platform(platform)
        if not policy_delete(platform=platform, actor=_actor(request)):
            return Response({"detail": "No policy for this platform."}, status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(self, request: Request, platform: str, *, partial: bool) -> Response:
        _check_platform(platform)
        if partial and not AppVersionPolicy.objects.filter(platform=platform).exists():
            return Response({"detail": "No policy for this platform."}, status=404)
        serializer = PolicySerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if not partial:  # PUT sets every field: the ones left out are cleared
            changes = {name: changes.get(name, "") for name in EDITABLE}
        saved = policy_save(platform=platform, changes=changes, actor=_actor(request))
        return Response({**asdict(saved), "updated_at": _row(platform)["updated_at"]})  # type: ignore[index]
