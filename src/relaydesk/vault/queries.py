"""Reads for the operator: which keys exist and what they protect (never key material)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from relaydesk.vault.models import ClientDataKey


@dataclass(frozen=True, slots=True)
class DataKeyLine:
    """One client data key as ``relaydesk keys status`` prints it."""

    client: str
    version: int
    master_key_id: str
    files: int
    created: str
    rewrapped: str
    purged_files: int = 0
    values: int = 0


def _per_key(rows: QuerySet[Any]) -> dict[tuple[int, int], int]:
    return {
        (row["client_id"], row["key_version"]): row["n"]
        for row in rows.values("client_id", "key_version").annotate(n=Count("id"))
    }


def key_inventory() -> tuple[list[DataKeyLine], int]:
    """Every data key with what it protects, and the count of files stored unencrypted.

    ``files`` are the stored encrypted files; ``purged_files`` the tombstones of
    files deleted under retention (their key no longer protects anything stored);
    ``values`` the encrypted confidential details.
    """
    from relaydesk.clients.models import Client
    from relaydesk.work.models import Attachment, SensitiveDetail

    encrypted = Attachment.objects.filter(encryption_id__isnull=False)
    files = _per_key(encrypted.filter(purged_at__isnull=True))
    purged = _per_key(encrypted.filter(purged_at__isnull=False))
    values = _per_key(SensitiveDetail.objects.all())
    slugs = dict(Client.objects.values_list("pk", "slug"))
    lines = [
        DataKeyLine(
            client=slugs.get(row.client_id, str(row.client_id)),
            version=row.version,
            master_key_id=row.master_key_id,
            files=files.get((row.client_id, row.version), 0),
            created=f"{row.created_at:%Y-%m-%d %H:%M}",
            rewrapped=f"{row.rewrapped_at:%Y-%m-%d %H:%M}" if row.rewrapped_at else "",
            purged_files=purged.get((row.client_id, row.version), 0),
            values=values.get((row.client_id, row.version), 0),
        )
        for row in ClientDataKey.objects.order_by("client_id", "version")
    ]
    # A purged file left nothing on disk, encrypted or not.
    legacy = Attachment.objects.filter(encryption_id__isnull=True, purged_at__isnull=True).count()
    return lines, legacy
