import django.db.models.deletion
from django.db import migrations, models


def engagement_and_service_from_items(apps, schema_editor):
    """Each stored clock takes its item's engagement and service."""
    if schema_editor.connection.vendor == "postgresql":
        # Behind row-level security the migration sees every client's rows only in the
        # provider's scope (for this transaction).
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', true)")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sla_slaclock SET "
            "engagement_id = (SELECT engagement_id FROM work_workitem w"
            " WHERE w.id = sla_slaclock.item_id), "
            "service_id = (SELECT service_id FROM work_workitem w"
            " WHERE w.id = sla_slaclock.item_id)"
        )
        if schema_editor.connection.vendor == "postgresql":
            # Check the new keys now, so no deferred check is left pending when the
            # columns are made required below.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_senior_analyst_reviews_kpo"),
        ("clients", "0005_engagement_calendar"),
        ("sla", "0004_escalation_bounds"),
        ("work", "0013_dashboard_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="slaclock",
            name="engagement",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clients.engagement",
            ),
        ),
        migrations.AddField(
            model_name="slaclock",
            name="service",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="catalog.service",
            ),
        ),
        migrations.RunPython(engagement_and_service_from_items, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="slaclock",
            name="engagement",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clients.engagement",
            ),
        ),
        migrations.AlterField(
            model_name="slaclock",
            name="service",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="catalog.service",
            ),
        ),
        migrations.AddIndex(
            model_name="slaclock",
            index=models.Index(
                fields=["engagement", "kind", "status", "stopped_at"],
                name="sla_clock_engagement_met",
            ),
        ),
        migrations.AddIndex(
            model_name="slaclock",
            index=models.Index(
                fields=["engagement", "kind", "status", "breached_at"],
                name="sla_clock_engagement_breached",
            ),
        ),
    ]
