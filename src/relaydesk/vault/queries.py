"""Reads for the operator: which keys exist and what they protect (never key material)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

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


def key_inventory() -> tuple[list[DataKeyLine], int]:
    """Every data key with how many files it encrypts, and the count of unencrypted files."""
    from relaydesk.clients.models import Client
    from relaydesk.work.models import Attachment

    counts = {
        (row["client_id"], row["key_version"]): row["n"]
        for row in Attachment.objects.filter(encryption_id__isnull=False)
        .values("client_id", "key_version")
        .annotate(n=Count("id"))
    }
    slugs = dict(Client.objects.values_list("pk", "slug"))
    lines = [
        DataKeyLine(
            client=slugs.get(row.client_id, str(row.client_id)),
            version=row.version,
            master_key_id=row.master_key_id,
            files=counts.get((row.client_id, row.version), 0),
            created=f"{row.created_at:%Y-%m-%d %H:%M}",
            rewrapped=f"{row.rewrapped_at:%Y-%m-%d %H:%M}" if row.rewrapped_at else "",
        )
        for row in ClientDataKey.objects.order_by("client_id", "version")
    ]
    legacy = Attachment.objects.filter(encryption_id__isnull=True).count()
    return lines, legacy
