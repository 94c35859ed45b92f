"""identity's admin: users (roles, deactivation), devices, sessions (revoke), signing keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.identity import selectors
from apps.identity.models import Block, Device, Session, SigningKey, User
from apps.identity.services import accounts, blocks, emails, roles, sessions
from cleave.auth.permissions import forget_permissions
from cleave.crypto import mask


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "roles",
        "is_active",
        "email_verified",
        "is_staff",
        "date_joined",
        "last_login",
    )
    list_filter = (
        "is_active",
        ("email_verified_at", admin.EmptyFieldListFilter),
        "is_staff",
        "is_superuser",
        "groups",
    )
    search_fields = ("email", "display_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "locale", "timezone")}),
        ("Roles and permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined", "email_verified_at", "deleted_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    # Verification is set by the link or the action below (the service), never typed in.
    readonly_fields: ClassVar[tuple[str, ...]] = (
        "last_login",
        "date_joined",
        "email_verified_at",
        "deleted_at",
    )
    actions = ("deactivate_users", "mark_emails_verified")

    @admin.display(description="roles")
    def roles(self, user: User) -> str:
        return ", ".join(sorted(group.name for group in user.groups.all())) or "user"

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        suspend = False
        if change:
            # Roles change through identity's service (in save_related), which signs the user
            # out: the row keeps its stored roles until then. Unticking "active" suspends the
            # account through its service too, which ends its sessions.
            stored = (
                User.objects.filter(pk=obj.pk).values("is_staff", "is_superuser", "is_active").get()
            )
            obj.is_staff, obj.is_superuser = stored["is_staff"], stored["is_superuser"]
            suspend = stored["is_active"] and not obj.is_active
            if suspend:
                obj.is_active = True
        super().save_model(request, obj, form, change)
        if suspend:
            accounts.user_deactivate(user_id=obj.pk)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        access = form.cleaned_data
        groups = access.pop("groups", None) if change else None  # not by save_m2m
        super().save_related(request, form, formsets, change)
        if change:
            roles.user_access_set(
                user_id=form.instance.pk,
                is_staff=access.get("is_staff"),
                is_superuser=access.get("is_superuser"),
                group_ids=None if groups is None else [group.pk for group in groups],
            )
        # Profile fields may have changed: /me must not serve the old ones.
        selectors.user_profile_forget(user_id=form.instance.pk)
        forget_permissions(form.instance.pk)

    @admin.display(boolean=True, description="e-mail verified")
    def email_verified(self, user: User) -> bool:
        return user.email_verified

    @admin.action(description="Mark selected users' e-mail verified")
    def mark_emails_verified(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        vouched = [
            emails.email_mark_verified(user_id=user_id)
            for user_id in queryset.filter(is_active=True).values_list("pk", flat=True)
        ]
        for user in vouched:  # the account's history says who vouched for it
            self.log_change(request, user, "Marked the e-mail verified (admin).")
        self.message_user(request, f"{len(vouched)} address(es) verified.", messages.SUCCESS)

    @admin.action(description="Deactivate selected users (and sign them out)")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user_id in queryset.values_list("pk", flat=True):
            accounts.user_deactivate(user_id=user_id)
        self.message_user(request, f"{queryset.count()} user(s) deactivated.", messages.SUCCESS)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = (
        "device_id",
        "user",
        "platform",
        "app_version",
        "has_push_token",
        "last_seen_at",
    )
    list_filter = ("platform",)
    search_fields = ("device_id", "user__email")
    list_select_related = ("user",)
    # The push token is a credential (encrypted at rest): shown masked, set only by the app.
    exclude = ("push_token",)
    readonly_fields = ("user", "device_id", "push_token_tail", "created_at", "last_seen_at")

    @admin.display(boolean=True, description="push token")
    def has_push_token(self, device: Device) -> bool:
        return bool(device.push_token)

    @admin.display(description="push token")
    def push_token_tail(self, device: Device) -> str:
        return mask(device.push_token)


_SESSION_FIELDS = (
    "id",
    "user",
    "device",
    "created_at",
    "last_seen_at",
    "revoked_at",
    "revoked_reason",
)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = _SESSION_FIELDS
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "revoked_reason", "device__platform")
    search_fields = ("id", "user__email", "device__device_id")
    list_select_related = ("user", "device")
    readonly_fields = _SESSION_FIELDS
    actions = ("revoke_sessions",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected sessions (sign them out now)")
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        revoked = sum(
            sessions.session_revoke(user_id=user_id, session_id=str(pk), reason="revoked_by_staff")
            for pk, user_id in queryset.values_list("pk", "user_id")
        )
        self.message_user(request, f"{revoked} session(s) revoked.", messages.SUCCESS)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Key rotation status; rotate with `manage.py identity_keys rotate`."""

    list_display = ("kid", "created_at", "retired_at", "status")
    exclude = ("private_key_pem",)
    readonly_fields = ("kid", "public_jwk", "created_at", "retired_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="status")
    def status(self, key: SigningKey) -> str:
        if key.retired_at is None:
            return "signing"
        published_until = key.retired_at + timedelta(
            seconds=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60
        )
        if published_until > timezone.now():
            return f"retired, published until {published_until:%H:%M:%S}"
        return "retired, prunable"


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    """Blocks are the users' own; staff may look, and lift one through the service (so messaging
    hears of it), but never create one on a user's behalf."""

    list_display = ("id", "blocker", "blocked", "created_at")
    search_fields = ("blocker__email", "blocked__email")
    list_select_related = ("blocker", "blocked")
    readonly_fields = ("blocker", "blocked", "created_at")
    actions = ("lift",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a plain delete would skip UserUnblocked: use the action

    @admin.action(description="Lift selected blocks")
    def lift(self, request: HttpRequest, queryset: QuerySet[Block]) -> None:
        pairs = list(queryset.values_list("blocker_id", "blocked_id"))
        for blocker_id, blocked_id in pairs:
            blocks.block_delete(blocker_id=blocker_id, blocked_id=blocked_id)
        self.message_user(request, f"{len(pairs)} block(s) lifted.", messages.SUCCESS)
