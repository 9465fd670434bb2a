from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("work", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="encryption_id",
            field=models.UUIDField(
                blank=True,
                editable=False,
                help_text="Random id bound into the ciphertext; empty for files stored unencrypted.",
                null=True,
                unique=True,
            ),
        ),
        migrations.AddField(
            model_name="attachment",
            name="file_kind",
            field=models.CharField(
                blank=True,
                help_text="What the bytes are: pdf, image, office, text, email.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="attachment",
            name="key_version",
            field=models.PositiveIntegerField(
                blank=True,
                editable=False,
                help_text="The client data key version used.",
                null=True,
            ),
        ),
    ]
