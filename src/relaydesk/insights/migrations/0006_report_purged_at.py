# A report's tombstone: when retention deleted its PDF and commentary.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("insights", "0005_daily_work"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="purged_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the PDF and commentary were deleted under the engagement's retention.",
                null=True,
            ),
        ),
    ]
