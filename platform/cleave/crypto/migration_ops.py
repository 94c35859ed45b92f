"""Data migrations that encrypt a column's existing plaintext rows (and back, on reverse).

Turning a plain field into an EncryptedTextField is three operations, because the field cannot
read plaintext rows (it would try to decrypt them) and a varchar may be too short for the
ciphertext:

    migrations.AlterField("card", "token", models.TextField(blank=True)),
    encrypt_existing("billing", "card", "token"),
    migrations.AlterField("card", "token", EncryptedTextField(blank=True)),

Reversing runs them backwards: the column is decrypted while it is a plain TextField again.
The field then belongs in the context's declared `encrypted_fields` (cleave.contexts; check
cleave.E021).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from cleave.crypto.cipher import decrypt, encrypt, is_encrypted, keyed_hash

BATCH = 500


def encrypt_existing(
    app_label: str,
    model_name: str,
    field_name: str,
    *,
    purpose: str | None = None,
    hash_field: str | None = None,
) -> migrations.RunPython:
    """A RunPython encrypting `field_name` while it is a plain text field (idempotent).

    `purpose` must equal the EncryptedTextField's (default `<app>.<model>.<field>`);
    `hash_field`, if given, is filled with the keyed hash of each value.
    """
    purpose = purpose or f"{app_label}.{model_name.lower()}.{field_name}"

    def forward(apps: Any, schema_editor: Any) -> None:
        def convert(value: str) -> dict[str, Any] | None:
            if is_encrypted(value):  # already done: the operation is safe to re-run
                return None
            new = {field_name: encrypt(value, purpose=purpose)}
            if hash_field:
                new[hash_field] = keyed_hash(value, purpose=purpose)
            return new

        columns = [field_name, hash_field] if hash_field else [field_name]
        _rewrite(apps.get_model(app_label, model_name), schema_editor, convert, columns)

    def backward(apps: Any, schema_editor: Any) -> None:
        def convert(value: str) -> dict[str, Any] | None:
            if not is_encrypted(value):
                return None
            return {field_name: decrypt(value, purpose=purpose)}

        _rewrite(apps.get_model(app_label, model_name), schema_editor, convert, [field_name])

    def _rewrite(model: Any, schema_editor: Any, convert: Any, columns: list[str]) -> None:
        manager = model._base_manager.using(schema_editor.connection.alias)
        rows = manager.exclude(**{field_name: ""}).filter(**{f"{field_name}__isnull": False})
        last_pk = None
        while True:
            # Keyset batches: bounded memory, and no open cursor over rows being updated.
            batch = rows.order_by("pk") if last_pk is None else rows.filter(pk__gt=last_pk)
            chunk = list(batch.order_by("pk").values_list("pk", field_name)[:BATCH])
            if not chunk:
                return
            last_pk = chunk[-1][0]
            changed = [model(pk=pk, **new) for pk, value in chunk if (new := convert(value))]
            if changed:
                manager.bulk_update(changed, columns)

    return migrations.RunPython(forward, backward, elidable=False)
