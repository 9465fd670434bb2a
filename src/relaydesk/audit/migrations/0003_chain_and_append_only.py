"""Number and hash-chain the audit trail, then make the table append-only.

Rows already present are numbered in the order they were written (by id) and
chained before the triggers go in; from then on no row can be changed.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from relaydesk.audit import guard
from relaydesk.audit.chain import GENESIS, record_hash

FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "client_id",
    "source_ip",
    "detail",
)


def chain_existing(apps, schema_editor):
    AuditRecord = apps.get_model("audit", "AuditRecord")
    prev = GENESIS
    for seq, row in enumerate(AuditRecord.objects.order_by("id").values(*FIELDS).iterator(), 1):
        row.update(seq=seq, prev_hash=prev)
        digest = record_hash(row)
        AuditRecord.objects.filter(pk=row["id"]).update(seq=seq, prev_hash=prev, hash=digest)
        prev = digest


def install_triggers(apps, schema_editor):
    guard.install(schema_editor.connection)


def remove_triggers(apps, schema_editor):
    guard.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_initial"),
        ("clients", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditrecord",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditrecord",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditrecord",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditrecord",
            name="seq",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.AlterModelOptions(
            name="auditrecord",
            options={"ordering": ["-at", "-seq"]},
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
