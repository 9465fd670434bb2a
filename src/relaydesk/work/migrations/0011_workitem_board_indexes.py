from django.db import migrations, models


class Migration(migrations.Migration):
    """Indexes for the operations board and the provider's lists at a deep queue.

    ``item_recent`` and ``item_state_recent`` let the newest-first lists (all
    items, or one state) read 25 rows instead of sorting every item;
    ``item_queue_depth`` answers the board's queue figures per engagement and
    service from the index alone; ``item_state_due`` finds items due soon.
    """

    dependencies = [
        ("work", "0010_workitem_queue_front"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(fields=["-created_at", "-id"], name="item_recent"),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(fields=["state", "-created_at", "-id"], name="item_state_recent"),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                fields=["state", "engagement", "service", "created_at", "due_at"],
                name="item_queue_depth",
            ),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(fields=["state", "due_at"], name="item_state_due"),
        ),
    ]
