from django.db import migrations


def seed(apps, schema_editor):
    from relaydesk.catalog.seed import seed_file_types

    seed_file_types(apps.get_model("catalog", "Service"))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_service_allowed_file_types"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
