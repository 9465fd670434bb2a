"""QA sampling keys on a stored seed instead of the database id.

Items already stored get a random seed each (their sampling is decided when
they are completed, so nothing already in review changes).
"""

import secrets

from django.db import migrations, models

import relaydesk.work.models


def seed_existing(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', true)")
    WorkItem = apps.get_model("work", "WorkItem")
    pks = list(WorkItem.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), 1000):
        WorkItem.objects.bulk_update(
            [WorkItem(pk=pk, qa_seed=secrets.token_hex(32)) for pk in pks[start : start + 1000]],
            ["qa_seed"],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("work", "0006_sensitivedetail_drop_plaintext"),
    ]

    operations = [
        migrations.AddField(
            model_name="workitem",
            name="qa_seed",
            field=models.CharField(
                default=relaydesk.work.models.random_qa_seed,
                editable=False,
                help_text="What QA sampling keys on; secret, so nobody can tell in advance.",
                max_length=64,
            ),
        ),
        migrations.RunPython(seed_existing, migrations.RunPython.noop),
    ]
