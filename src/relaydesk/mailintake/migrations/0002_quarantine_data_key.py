"""Quarantined mail of no known client is encrypted too, with the provider's quarantine key.

The key's table first, then every raw message still kept as it came is
encrypted in place through the same function intake uses, and its clear file
deleted once the migration has committed.

Why a data migration rather than reading both forms and encrypting on the next
write: a held message is written once and may wait for weeks without another
write (nobody retries spam), so "on the next write" would leave it in the clear
indefinitely. Here no clear copy outlives the upgrade, and a failure (no master
key) stops the migration with the reason and changes nothing. Reversible: going
back decrypts the messages of no known client into the form the earlier code reads.
"""

import logging
import uuid

import django.utils.timezone
from django.core.files.base import ContentFile
from django.db import migrations, models, transaction

logger = logging.getLogger("relaydesk.mailintake")


def _provider_scope(schema_editor):
    # Under PostgreSQL row-level security the rows of every client (and of none) must be in
    # reach, or rows hidden from this transaction would be skipped. Local to the migration's
    # transaction; a no-op where no policy reads it.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', true)")


def _delete_after_commit(schema_editor, storage, name):
    def delete():
        try:
            storage.delete(name)
        except OSError as problem:
            logger.warning("Could not delete the replaced quarantine file %s: %s", name, problem)

    transaction.on_commit(delete, using=schema_editor.connection.alias)


def _replace_file(schema_editor, row, content):
    old = row.raw.name
    folder = row.client_id or "unassigned"
    row.raw.save(f"quarantine/{folder}/{uuid.uuid4().hex}", ContentFile(content), save=False)
    _delete_after_commit(schema_editor, row.raw.storage, old)


def encrypt_clear_messages(apps, schema_editor):
    from relaydesk.audit.actions import record
    from relaydesk.errors import ActionRefused
    from relaydesk.mailintake.sealing import seal_raw

    _provider_scope(schema_editor)
    QuarantinedMessage = apps.get_model("mailintake", "QuarantinedMessage")
    clear = list(
        QuarantinedMessage.objects.filter(encryption_id__isnull=True).exclude(raw="").order_by("pk")
    )
    if not clear:
        return  # nothing to encrypt: no key is loaded or created
    at = django.utils.timezone.now()
    encrypted = 0
    for row in clear:
        try:
            with row.raw.open("rb") as stored:
                raw = stored.read()
        except OSError:
            continue  # its file is gone already: nothing is left in the clear
        encryption_id = uuid.uuid4()
        try:
            sealed = seal_raw(raw, client_id=row.client_id, encryption_id=encryption_id, at=at)
        except ActionRefused as refusal:
            raise RuntimeError(
                f"The quarantined messages cannot be encrypted: {refusal.message} Configure the "
                "master key (RELAYDESK_MASTER_KEY or the key file) and migrate again; nothing "
                "was changed."
            ) from refusal
        _replace_file(schema_editor, row, sealed.content)
        row.encryption_id = encryption_id
        row.key_version = sealed.key_version
        row.provider_key = sealed.provider_key
        row.save(update_fields=["raw", "encryption_id", "key_version", "provider_key"])
        encrypted += 1
    if encrypted:
        record(
            actor=None,
            action="mail.quarantine.encrypt_stored",
            obj=None,
            client=None,
            at=at,
            detail={"messages": encrypted},
        )


def decrypt_provider_messages(apps, schema_editor):
    from relaydesk.mailintake.sealing import open_raw

    _provider_scope(schema_editor)
    QuarantinedMessage = apps.get_model("mailintake", "QuarantinedMessage")
    for row in QuarantinedMessage.objects.filter(provider_key=True).exclude(raw="").order_by("pk"):
        with row.raw.open("rb") as stored:
            raw = open_raw(
                stored,
                client_id=row.client_id,
                encryption_id=row.encryption_id,
                key_version=row.key_version,
                provider_key=True,
            )
        _replace_file(schema_editor, row, raw)
        row.encryption_id = row.key_version = None
        row.provider_key = False
        row.save(update_fields=["raw", "encryption_id", "key_version", "provider_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_chain_and_append_only"),
        ("mailintake", "0001_initial"),
        ("vault", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuarantineDataKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField(default=1, unique=True)),
                ("wrapped_key", models.BinaryField(max_length=128)),
                (
                    "master_key_id",
                    models.CharField(
                        help_text="The id of the master key that wraps this key (not the key).",
                        max_length=32,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("rewrapped_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"ordering": ["version"]},
        ),
        migrations.AddField(
            model_name="quarantinedmessage",
            name="provider_key",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Encrypted with the provider's quarantine key: no client was known.",
            ),
        ),
        migrations.AlterField(
            model_name="quarantinedmessage",
            name="encryption_id",
            field=models.UUIDField(
                blank=True,
                editable=False,
                help_text="Random id bound into the ciphertext of the raw message.",
                null=True,
                unique=True,
            ),
        ),
        migrations.RunPython(encrypt_clear_messages, decrypt_provider_messages),
    ]
