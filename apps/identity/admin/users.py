"""identity's admin over accounts. Every write is a call to identity's services, so it publishes
what the API's does and keeps its invariants (issue 18):

| in the admin | service | effect beyond the row |
|---|---|---|
| add a user | `user_register` | UserRegistered, a verification mail |
| display name, locale, time zone | `user_update` | UserUpdated, the user's sockets told |
| untick / tick "active" | `user_deactivate` / `user_reactivate` | sessions revoked |
| staff, superuser, groups | `user_access_set` | sessions revoked when the roles changed |
| set the password | `user_password_set` | sessions revoked |
| action: delete accounts | `user_delete` | anonymised, UserDeleted, sessions revoked |
| action: deactivate | `user_deactivate` | as unticking "active" |
| action: mark e-mails verified | `email_mark_verified` | the account's history names who |

The address is read-only: only its owner changes it (`email_change`, with the password). A
row is never deleted: an account is anonymised, so its id stays unique in other contexts.
"""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.identity import selectors
from apps.identity.models import User
from apps.identity.services import accounts, emails, roles
from apps.identity.services.display_names import display_name_clean
from cleave.auth.permissions import forget_permissions
from cleave.errors import CleaveError

PROFILE_FIELDS = ("display_name", "locale", "timezone")
DATE_FIELDS = ("last_login", "date_joined", "email_verified_at", "deleted_at")


def _clean_display_name(value: str) -> str:
    """The service's own rule, as a form error instead of a failed save."""
    try:
        return display_name_clean(value)
    except CleaveError as error:
        raise ValidationError(error.message, code=error.code) from None


class UserChangeForm(DjangoUserChangeForm):
    # Only what staff change is checked: a stored value may predate a rule (and is not saved).
    def clean_display_name(self) -> str:
        value: str = self.cleaned_data["display_name"]
        return _clean_display_name(value) if "display_name" in self.changed_data else value

    def clean_timezone(self) -> str:
        value: str = self.cleaned_data["timezone"]
        if "timezone" in self.changed_data and value not in zoneinfo.available_timezones():
            raise ValidationError("Unknown time zone.", code="timezone")
        return value


class UserCreationForm(AdminUserCreationForm):
    # An account made here signs in with a password, as one registered from the app does.
    # Removing a parent form's field is Django's documented way; the stubs type it a field.
    usable_password = None  # type: ignore[assignment]

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "display_name")

    def clean_display_name(self) -> str:
        return _clean_display_name(self.cleaned_data["display_name"])


class PasswordSetForm(AdminPasswordChangeForm):
    def save(self, commit: bool = True) -> User:
        """Set it through the service (which signs the account out everywhere), not the row."""
        password = (
            self.cleaned_data["password1"] if self.cleaned_data["set_usable_password"] else None
        )
        self.user = accounts.user_password_set(user_id=self.user.pk, password=password)
        return self.user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = PasswordSetForm
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
        ("Profile", {"fields": PROFILE_FIELDS}),
        ("Roles and permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": DATE_FIELDS}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "display_name", "password1", "password2")},
        ),
    )
    # Verification is set by the link or the action below (the service), never typed in.
    readonly_fields: ClassVar[tuple[str, ...]] = DATE_FIELDS
    actions = ("deactivate_users", "mark_emails_verified", "delete_accounts")

    @admin.display(description="roles")
    def roles(self, user: User) -> str:
        return ", ".join(sorted(group.name for group in user.groups.all())) or "user"

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()  # the add form: its fields are the registration's
        if obj.deleted_at is not None:  # anonymised: nothing about it changes any more
            return ("email", *PROFILE_FIELDS, "is_active", "is_staff", "is_superuser", "groups",
                    *DATE_FIELDS)  # fmt: skip
        if not obj.is_active:  # suspended: `user_update` serves active accounts; reactivate first
            return ("email", *PROFILE_FIELDS, *DATE_FIELDS)
        return ("email", *DATE_FIELDS)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a row delete would skip UserDeleted: use the action (anonymises)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """The form's changes, each through its service; `obj` itself is never saved."""
        if not change:
            user, _ = accounts.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
            obj.pk = user.pk  # the admin logs and redirects to the account just registered
            return
        changed = set(form.changed_data)
        if "is_active" in changed and obj.is_active:
            accounts.user_reactivate(user_id=obj.pk)
        profile = {name: getattr(obj, name) for name in PROFILE_FIELDS if name in changed}
        if profile:
            accounts.user_update(
                user_id=obj.pk,
                display_name=profile.get("display_name"),
                locale=profile.get("locale"),
                timezone_name=profile.get("timezone"),
            )
        if "is_active" in changed and not obj.is_active:
            accounts.user_deactivate(user_id=obj.pk)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        access = form.cleaned_data
        groups = access.pop("groups", None) if change else None  # not by save_m2m
        super().save_related(request, form, formsets, change)
        if change and "is_staff" in access:  # the roles' fields are read-only once deleted
            roles.user_access_set(
                user_id=form.instance.pk,
                is_staff=access.get("is_staff"),
                is_superuser=access.get("is_superuser"),
                group_ids=None if groups is None else [group.pk for group in groups],
            )
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
        user_ids = list(queryset.values_list("pk", flat=True))
        for user_id in user_ids:
            accounts.user_deactivate(user_id=user_id)
        self.message_user(request, f"{len(user_ids)} user(s) deactivated.", messages.SUCCESS)

    @admin.action(description="Delete selected accounts (anonymised, signed out everywhere)")
    def delete_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        deleted = list(queryset.filter(deleted_at__isnull=True))
        for user in deleted:
            accounts.user_delete(user_id=user.pk)
            self.log_change(request, user, "Deleted the account (admin).")
        self.message_user(request, f"{len(deleted)} account(s) deleted.", messages.SUCCESS)
