from django.db import migrations


def seed(apps, schema_editor):
    from relaydesk.catalog.seed import seed_catalog

    seed_catalog(
        apps.get_model("catalog", "ServiceLine"),
        apps.get_model("catalog", "Skill"),
        apps.get_model("catalog", "Service"),
        apps.get_model("catalog", "ServiceSkill"),
        apps.get_model("workforce", "Clearance"),
        apps.get_model("workforce", "Certification"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_initial"),
        ("workforce", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
