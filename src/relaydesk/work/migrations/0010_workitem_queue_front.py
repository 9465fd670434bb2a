from django.db import migrations, models


class Migration(migrations.Migration):
    """Work dropped at a shift change goes to the front of the queue.

    ``queue_front`` marks an item a handoff returned (nobody acknowledged it, or
    nobody on the next shift could take it); routing order, and so the index
    claims read, starts with it.
    """

    dependencies = [
        ("work", "0009_workitem_routing_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="workitem",
            name="queue_front",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Routed before every other queued item: work dropped at a shift change (a "
                    "handoff nobody acknowledged, or nobody to take it). Cleared when someone "
                    "gets the item."
                ),
            ),
        ),
        migrations.RemoveIndex(model_name="workitem", name="item_routing_order"),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                fields=["state", "-queue_front", "-priority", "due_at", "created_at", "id"],
                name="item_routing_order",
            ),
        ),
    ]
