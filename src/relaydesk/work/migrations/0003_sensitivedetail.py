import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
        ("work", "0002_attachment_encryption"),
    ]

    operations = [
        migrations.CreateModel(
            name="SensitiveDetail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("phi", "Health information"),
                            ("bank_account", "Bank details"),
                            ("national_id", "National id / SSN"),
                            ("other", "Other confidential value"),
                        ],
                        max_length=16,
                    ),
                ),
                ("label", models.CharField(max_length=60)),
                ("value", models.CharField(max_length=500)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "client",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="clients.client"),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sensitive_details",
                        to="work.workitem",
                    ),
                ),
            ],
            options={"ordering": ["id"]},
        ),
    ]
