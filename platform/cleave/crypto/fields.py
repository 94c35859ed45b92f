"""Model fields that keep a value encrypted at rest, and a keyed hash beside it for lookups.

    class Device(models.Model):
        push_token = EncryptedTextField(blank=True)
        push_token_hash = KeyedHashField(source="push_token", unique=True)   # only if searched

    Device.objects.filter(push_token_hash=searchable_hash(Device, "push_token", token))

The attribute always holds plaintext; the column only ever holds `encrypt()`'s output (or ""
or NULL: emptiness is not secret, and keeping it lets `exclude(push_token="")` work). Since
every encryption uses a fresh nonce, comparing ciphertexts in SQL means nothing: the field
refuses every lookup but `isnull` and `exact` against "" — search through the hash instead.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import signals
from django.db.models.lookups import Exact

import cleave.crypto.checks  # noqa: F401 - registers the key check wherever a model encrypts
from cleave.crypto.cipher import decrypt, encrypt, keyed_hash


class EmptyOnlyExact(Exact):
    """`field=""` or `field=None` only: any other value would silently match nothing."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            field = self.lhs.output_field
            raise TypeError(
                f"{field.model._meta.label}.{field.name} is encrypted with a random nonce: "
                "compare it through a KeyedHashField (searchable_hash), not by value."
            )
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):
    """Text encrypted with AES-256-GCM on save and decrypted on load (cleave.crypto.cipher).

    `purpose` (associated data, and the hash's domain) defaults to `<app>.<model>.<field>`;
    pin it to the old value before renaming the model or field, or re-encrypt.
    """

    description = "Text encrypted at rest (AES-256-GCM)"

    def __init__(self, *args: Any, purpose: str | None = None, **kwargs: Any) -> None:
        self._purpose = purpose
        super().__init__(*args, **kwargs)

    @property
    def purpose(self) -> str:
        if self._purpose:
            return self._purpose
        return f"{self.model._meta.label_lower}.{self.name}"

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self._purpose:
            kwargs["purpose"] = self._purpose
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt(value, purpose=self.purpose)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value, purpose=self.purpose)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return EmptyOnlyExact
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # Django then raises FieldError("Unsupported lookup …")

    def get_transform(self, lookup_name: str) -> Any:
        return None


class KeyedHashField(models.CharField):
    """HMAC-SHA256 (hex) of another field's plaintext, kept in step on save; NULL when empty.

    Unique constraints that used the plaintext belong here. `save(update_fields=[source])`
    without this field is refused: the column would silently go stale. `QuerySet.update()`
    and `bulk_update()` skip `pre_save`: callers set the hash themselves there.
    """

    description = "Keyed hash of an encrypted field, for exact lookups"

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("null", True)
        if not kwargs.get("unique"):
            kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        if not cls._meta.abstract:
            signals.pre_save.connect(self._refuse_stale_update, sender=cls)

    def source_field(self) -> EncryptedTextField:
        field = self.model._meta.get_field(self.source)
        if not isinstance(field, EncryptedTextField):
            raise TypeError(f"{self.model._meta.label}.{self.name}: source is not encrypted.")
        return field

    def digest(self, value: str | None) -> str | None:
        """The hash stored for `value` (None for an empty value)."""
        if not value:
            return None
        return keyed_hash(value, purpose=self.source_field().purpose)

    def pre_save(self, model_instance: models.Model, add: bool) -> str | None:
        digest = self.digest(getattr(model_instance, self.source_field().attname))
        setattr(model_instance, self.attname, digest)
        return digest

    def _refuse_stale_update(self, update_fields: frozenset[str] | None, **kwargs: Any) -> None:
        if update_fields and self.source in update_fields and self.name not in update_fields:
            raise ValueError(
                f"save(update_fields=…) names {self.source!r} but not {self.name!r}: add it, "
                "or the keyed hash would no longer match the value."
            )


def searchable_hash(model: type[models.Model], field_name: str, value: str) -> str:
    """The keyed hash to filter `<field>_hash`-style columns by: same purpose as the field."""
    field = model._meta.get_field(field_name)
    if not isinstance(field, EncryptedTextField):
        raise TypeError(f"{model._meta.label}.{field_name} is not an EncryptedTextField.")
    return keyed_hash(value, purpose=field.purpose)
