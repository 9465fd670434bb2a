"""Reads for the operator: which keys exist and what they protect (never key material)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, QuerySet

from relaydesk.vault.models import ClientDataKey

if TYPE_CHECKING:
    from relaydesk.work.models import Attachment


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


@dataclass(frozen=True, slots=True)
class QuarantineKeyLine:
    """One version of the provider's mail-quarantine data key, as ``keys status`` prints it."""

    version: int
    master_key_id: str
    created: str
    rewrapped: str
    held_messages: int


@dataclass(frozen=True, slots=True)
class KeyInventory:
    """Every data key and what it protects, and the stored files that are not encrypted."""

    data_keys: list[DataKeyLine]
    quarantine_keys: list[QuarantineKeyLine]
    # Client slug -> stored files without encryption (files kept from before it existed).
    unencrypted_files: dict[str, int]

    @property
    def unencrypted(self) -> int:
        """Stored files not encrypted, all clients together."""
        return sum(self.unencrypted_files.values())


def legacy_files() -> QuerySet[Attachment]:
    """Stored files kept from before encryption existed: no ``encryption_id``, not purged.

    A purged file left nothing on disk, encrypted or not, so it is not counted.
    """
    from relaydesk.work.models import Attachment

    return Attachment.objects.filter(encryption_id__isnull=True, purged_at__isnull=True)


def unencrypted_file_count(client_id: int) -> int:
    """How many of the client's stored files are not encrypted."""
    return legacy_files().filter(client_id=client_id).count()


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def key_inventory() -> KeyInventory:
    """Every data key with what it protects, and the count of files stored unencrypted.

    ``files`` are the stored encrypted files; ``purged_files`` the tombstones of
    files deleted under retention (their key no longer protects anything stored);
    ``values`` the encrypted confidential details. The provider's mail-quarantine key
    protects the held messages of no known client. Names and dates only, never a key.
    """
    from relaydesk.clients.models import Client
    from relaydesk.mailintake.models import QuarantineDataKey, QuarantinedMessage
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
            created=_when(row.created_at),
            rewrapped=_when(row.rewrapped_at),
            purged_files=purged.get((row.client_id, row.version), 0),
            values=values.get((row.client_id, row.version), 0),
        )
        for row in ClientDataKey.objects.order_by("client_id", "version")
    ]
    held = dict(
        QuarantinedMessage.objects.filter(provider_key=True)
        .exclude(raw="")
        .order_by()
        .values_list("key_version")
        .annotate(n=Count("id"))
    )
    quarantine = [
        QuarantineKeyLine(
            version=row.version,
            master_key_id=row.master_key_id,
            created=_when(row.created_at),
            rewrapped=_when(row.rewrapped_at),
            held_messages=held.get(row.version, 0),
        )
        for row in QuarantineDataKey.objects.order_by("version")
    ]
    unencrypted = {
        slugs.get(client_id, str(client_id)): n
        for client_id, n in legacy_files()
        .values_list("client_id")
        .annotate(n=Count("id"))
        .order_by("client_id")
    }
    return KeyInventory(data_keys=lines, quarantine_keys=quarantine, unencrypted_files=unencrypted)
