"""Row-level security on every client-owned table that exists at this point.

Later client-owned tables get theirs in the migration that creates them.
"""

from django.db import migrations

from relaydesk.tenancy.operations import CreateMaySeeFunction, WallOffByClient


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_clientsso_signinevent"),
        ("audit", "0003_chain_and_append_only"),
        ("clients", "0003_engagement_document_retention_days"),
        ("vault", "0001_initial"),
        ("work", "0004_attachment_purged_at"),
    ]

    operations = [
        CreateMaySeeFunction(),
        WallOffByClient("clients_client", "id"),
        WallOffByClient("clients_engagement"),
        WallOffByClient("accounts_clientsso"),
        WallOffByClient("audit_auditrecord"),
        WallOffByClient("vault_clientdatakey"),
        WallOffByClient("work_workitem"),
        WallOffByClient("work_workitemevent"),
        WallOffByClient("work_comment"),
        WallOffByClient("work_attachment"),
        WallOffByClient("work_idempotencykey"),
        WallOffByClient("work_sensitivedetail"),
    ]
