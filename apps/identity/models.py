"""Accounts, the devices they sign in from, their sessions, and the keys that sign tokens."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now

from cleave.crypto import EncryptedTextField


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    locale = models.CharField(max_length=35, default="en")
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # When the current address was proven (the verification link, or staff); None until then,
    # and again after the address changes.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(Lower("email"), name="identity_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class Device(models.Model):
    """An app installation: `device_id` is chosen by the app and stable across logins."""

    class Platform(models.TextChoices):
        IOS = "ios"
        ANDROID = "android"
        WEB = "web"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    device_id = models.CharField(max_length=128)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    app_version = models.CharField(max_length=32)
    push_token = EncryptedTextField(max_length=512, blank=True)  # a credential: encrypted at rest
    created_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "device_id"], name="identity_device_once"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} device {self.device_id}"


class Session(models.Model):
    """A login on one device; at most one live session per (user, device)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(default=now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user", "device"],
                condition=models.Q(revoked_at__isnull=True),
                name="identity_one_live_session_per_device",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "-last_seen_at", "id"], name="identity_session_list"),
        ]

    def __str__(self) -> str:
        return f"session {self.id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class RefreshToken(models.Model):
    """An opaque, single-use refresh token (stored as its SHA-256); each use rotates it."""

    token_hash = models.CharField(max_length=64, unique=True)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="refresh_tokens")
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh token of {self.session_id}"


class SigningKey(models.Model):
    """An Ed25519 key pair signing access tokens; published in the JWKS until its tokens expire."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = EncryptedTextField()  # encrypted at rest (cleave.crypto)
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(default=now)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="Stopped signing.")

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["retired_at"],
                condition=models.Q(retired_at__isnull=True),
                name="identity_one_active_signing_key",
            ),
        ]

    def __str__(self) -> str:
        return f"signing key {self.kid}"


class Block(models.Model):
    """`blocker` no longer wants to be reached by `blocked`. Other contexts keep a copy from the
    `UserBlocked`/`UserUnblocked` events and enforce it (messaging: no direct conversation, no
    invitation from the blocked user)."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="identity_block_once"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="identity_block_not_self"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["blocker", "-created_at", "-id"], name="identity_block_list"),
        ]

    def __str__(self) -> str:
        return f"user {self.blocker_id} blocks user {self.blocked_id}"
