"""Drop the plaintext of confidential values; every row is encrypted by now."""

import uuid

from django.db import migrations, models


def check_all_encrypted(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', true)")
    SensitiveDetail = apps.get_model("work", "SensitiveDetail")
    left = SensitiveDetail.objects.filter(ciphertext__isnull=True).count()
    if left:
        raise RuntimeError(
            f"{left} confidential detail(s) are not encrypted yet; the plaintext column "
            "is kept. Run the previous migration again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("work", "0005_sensitivedetail_encrypt_values"),
    ]

    operations = [
        migrations.RunPython(check_all_encrypted, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="sensitivedetail",
            name="value",
        ),
        migrations.AlterField(
            model_name="sensitivedetail",
            name="encryption_id",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                help_text="Random id bound into the ciphertext.",
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="sensitivedetail",
            name="key_version",
            field=models.PositiveIntegerField(
                editable=False, help_text="The client data key version used."
            ),
        ),
        migrations.AlterField(
            model_name="sensitivedetail",
            name="nonce",
            field=models.BinaryField(max_length=12),
        ),
        migrations.AlterField(
            model_name="sensitivedetail",
            name="ciphertext",
            field=models.BinaryField(max_length=2016),
        ),
        migrations.AlterField(
            model_name="sensitivedetail",
            name="last4",
            field=models.CharField(
                blank=True, editable=False, help_text="The tail the mask shows.", max_length=4
            ),
        ),
    ]
