"""Run in its own process against an empty database: the upgrade that encrypts stored values.

Given a database migrated up to the last schema that kept confidential values in
plain text, with values stored that way, when it is migrated to the latest schema,
then the values are encrypted, and migrating back restores them. Prints what it
found as one JSON object for ``test_sensitive_values.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaydesk.config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

BEFORE = ("work", "0004_attachment_purged_at")
VALUES = {"IBAN": "DE89370400440532013000", "PIN": "4321", "Claim": "CLM-2026-000981"}


def _provider_scope() -> None:
    # Where row-level security walls off clients, this script acts for the provider.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', false)")


def _state_before() -> Any:
    """The models as the database holds them now: ``work`` at ``BEFORE``, and every other
    app as far as it could stay (apps that build on later ``work`` migrations step back)."""
    loader = MigrationExecutor(connection).loader
    return loader.project_state(list(loader.applied_migrations), at_end=True).apps


def _store_plain_values() -> dict[str, int]:
    apps = _state_before()
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    ids: dict[str, int] = {}
    for slug in ("alpha", "bravo"):
        client = apps.get_model("clients", "Client").objects.create(slug=slug, name=slug.title())
        engagement = apps.get_model("clients", "Engagement").objects.create(
            client=client, name="Claims", time_zone="UTC", starts_on=dt.date(2026, 1, 1)
        )
        user = apps.get_model("accounts", "User").objects.create(
            email=f"member@{slug}.test", full_name="Member", role="client_member", client=client
        )
        item = apps.get_model("work", "WorkItem").objects.create(
            client=client,
            engagement=engagement,
            service=apps.get_model("catalog", "Service").objects.order_by("pk").first(),
            title=f"{slug} claim",
            submitted_by=user,
            state="queued",
            created_at=now,
            updated_at=now,
        )
        for label, value in VALUES.items():
            detail = apps.get_model("work", "SensitiveDetail").objects.create(
                client=client, item=item, kind="other", label=label, value=value, created_at=now
            )
            ids[f"{slug}:{label}"] = detail.pk
    return ids


def _raw_rows() -> list[list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM work_sensitivedetail ORDER BY id")
        columns = [c[0] for c in cursor.description]
        rows = [
            [repr(bytes(v)) if isinstance(v, memoryview) else repr(v) for v in r] for r in cursor
        ]
    return [columns, *rows]


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("migrate", "work", BEFORE[1], verbosity=0)
    _provider_scope()
    ids = _store_plain_values()

    call_command("migrate", verbosity=0)
    _provider_scope()

    from relaydesk.audit.models import AuditRecord
    from relaydesk.vault.actions import ValueOpener
    from relaydesk.work.models import SensitiveDetail

    opener = ValueOpener()
    after = {
        key: {
            "value": opener.open(detail),
            "masked": detail.masked,
            "key_version": detail.key_version,
        }
        for key, pk in ids.items()
        for detail in [SensitiveDetail.objects.get(pk=pk)]
    }
    raw = _raw_rows()
    data_keys = AuditRecord.objects.filter(action="vault.data_key.create").count()

    call_command("migrate", "work", BEFORE[1], verbosity=0)
    _provider_scope()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, value FROM work_sensitivedetail ORDER BY id")
        restored = {str(pk): value for pk, value in cursor}
    print(
        json.dumps(
            {
                "ids": ids,
                "after": after,
                "raw": raw,
                "data_keys_created": data_keys,
                "restored": {key: restored[str(pk)] for key, pk in ids.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
