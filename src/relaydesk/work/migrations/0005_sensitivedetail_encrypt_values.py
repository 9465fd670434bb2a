"""Encrypt the confidential values already stored, with their client's data key.

New columns first, then every row is sealed through the vault (the same
functions intake uses), and its plaintext blanked. The next migration drops the
plaintext column once no row is left unencrypted. Reversible: going back
decrypts into the plaintext column.
"""

import uuid

from django.db import migrations, models
from django.utils import timezone


def _provider_scope(schema_editor):
    # Under PostgreSQL row-level security every client's rows must be in reach,
    # or rows hidden from this transaction would be skipped. Local to the migration's
    # transaction; a no-op where no policy reads it.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', true)")


def _tail(value):
    # What the mask shows (frozen copy of work.models.visible_tail).
    return value[-4:] if len(value) >= 8 else ""


def encrypt_values(apps, schema_editor):
    from relaydesk.errors import ActionRefused
    from relaydesk.vault.actions import seal_values

    _provider_scope(schema_editor)
    SensitiveDetail = apps.get_model("work", "SensitiveDetail")
    pending = SensitiveDetail.objects.filter(ciphertext__isnull=True)
    at = timezone.now()
    clients = sorted(set(pending.values_list("client_id", flat=True)))
    for client_id in clients:
        rows = list(pending.filter(client_id=client_id).order_by("pk"))
        ids = [uuid.uuid4() for _ in rows]
        try:
            sealed = seal_values(
                client_id, [(r.item_id, i, r.value) for r, i in zip(rows, ids)], at=at
            )
        except ActionRefused as refusal:
            raise RuntimeError(
                f"The confidential details of client {client_id} cannot be encrypted: "
                f"{refusal.message} Configure the master key (RELAYDESK_MASTER_KEY or the "
                "key file) and migrate again; nothing was changed."
            ) from refusal
        for row, detail_id, seal in zip(rows, ids, sealed):
            row.encryption_id = detail_id
            row.key_version = seal.key_version
            row.nonce = seal.nonce
            row.ciphertext = seal.ciphertext
            row.last4 = _tail(row.value)
            row.value = ""
        SensitiveDetail.objects.bulk_update(
            rows,
            ["encryption_id", "key_version", "nonce", "ciphertext", "last4", "value"],
            batch_size=500,
        )


def decrypt_values(apps, schema_editor):
    from relaydesk.vault.actions import ValueOpener

    _provider_scope(schema_editor)
    SensitiveDetail = apps.get_model("work", "SensitiveDetail")
    opener = ValueOpener()
    rows = list(SensitiveDetail.objects.filter(ciphertext__isnull=False).order_by("pk"))
    for row in rows:
        row.value = opener.open(row)
    SensitiveDetail.objects.bulk_update(rows, ["value"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_chain_and_append_only"),
        ("vault", "0001_initial"),
        ("work", "0004_attachment_purged_at"),
    ]

    operations = [
        # A default, so that going back past the next migration can re-add the column.
        migrations.AlterField(
            model_name="sensitivedetail",
            name="value",
            field=models.CharField(blank=True, default="", max_length=500),
        ),
        migrations.AddField(
            model_name="sensitivedetail",
            name="encryption_id",
            field=models.UUIDField(editable=False, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="sensitivedetail",
            name="key_version",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="sensitivedetail",
            name="nonce",
            field=models.BinaryField(max_length=12, null=True),
        ),
        migrations.AddField(
            model_name="sensitivedetail",
            name="ciphertext",
            field=models.BinaryField(max_length=2016, null=True),
        ),
        migrations.AddField(
            model_name="sensitivedetail",
            name="last4",
            field=models.CharField(blank=True, default="", editable=False, max_length=4),
        ),
        migrations.RunPython(encrypt_values, decrypt_values),
    ]
