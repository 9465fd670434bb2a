"""Encrypting quarantined mail: with the client's data key when the client is known, with
the provider's quarantine data key when it is not.

Both keys are kept wrapped by the master key (:mod:`relaydesk.vault.keys`), so
``relaydesk keys rotate`` re-wraps them and every held message stays readable.
A message is encrypted in the vault's file format
(:func:`relaydesk.vault.crypto.encrypt_stream`) with associated data naming its
quarantine record (the row's random ``encryption_id``), the key and its
version: a file copied to another row, or to another client, does not decrypt.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from relaydesk.audit.actions import record
from relaydesk.errors import Conflict
from relaydesk.mailintake.models import QuarantineDataKey
from relaydesk.vault.actions import current_data_key
from relaydesk.vault.crypto import (
    DecryptionError,
    Readable,
    data_key_aad,
    decrypt_stream,
    encrypt_stream,
    new_key,
    unwrap_key,
    wrap_key,
)
from relaydesk.vault.keys import KeyUnavailable, MasterKey, load_master_key
from relaydesk.vault.models import ClientDataKey

logger = logging.getLogger(__name__)

__all__ = [
    "Sealed",
    "client_message_aad",
    "current_quarantine_key",
    "open_raw",
    "provider_message_aad",
    "quarantine_key_aad",
    "rewrap_quarantine_keys",
    "seal_raw",
]


@dataclass(frozen=True, slots=True)
class Sealed:
    """A raw message encrypted for one quarantine record."""

    content: bytes
    key_version: int
    provider_key: bool


def quarantine_key_aad(version: int) -> bytes:
    """Associated data binding a wrapped quarantine data key to its purpose and version
    (so a client's wrapped key put in its place does not unwrap)."""
    return f"relaydesk/quarantine-data-key/v1|version={version}".encode()


def client_message_aad(client_id: int, encryption_id: uuid.UUID, version: int) -> bytes:
    """Associated data binding a held message to its client, record and key version."""
    return (
        f"relaydesk/quarantined-mail/v1|client={client_id}|message={encryption_id}|key={version}"
    ).encode()


def provider_message_aad(encryption_id: uuid.UUID, version: int) -> bytes:
    """Associated data binding a held message of no known client to its record and the
    version of the provider's quarantine key."""
    return (
        f"relaydesk/quarantined-mail/v1|client=none|message={encryption_id}"
        f"|key=quarantine-{version}"
    ).encode()


def _unwrap(row: QuarantineDataKey, master: MasterKey) -> bytes:
    """The plain quarantine key of ``row``; :class:`KeyUnavailable` with the reason."""
    if row.master_key_id != master.id:
        raise KeyUnavailable(
            f"The quarantine data key v{row.version} is wrapped by master key "
            f"{row.master_key_id}, but the configured master key ({master.source}) is {master.id}."
        )
    try:
        return unwrap_key(master.key, bytes(row.wrapped_key), quarantine_key_aad(row.version))
    except DecryptionError as error:
        raise KeyUnavailable(
            f"The quarantine data key v{row.version} does not unwrap with master key "
            f"{master.id}: the stored key was altered."
        ) from error


def current_quarantine_key(*, at: dt.datetime) -> tuple[int, bytes]:
    """The provider's newest quarantine data key as (version, key); the first is created here
    and audited. Call inside the caller's transaction; a key that cannot be loaded is a
    :class:`Conflict` that stores nothing."""
    try:
        row = QuarantineDataKey.objects.order_by("-version").first()
        if row is None:
            # A new master key only on a first run: once any data key exists, a missing
            # master key is a lost one, and a new one would open nothing stored.
            master = load_master_key(create=not ClientDataKey.objects.exists())
            key = new_key()
            try:
                with transaction.atomic():
                    row = QuarantineDataKey.objects.create(
                        version=1,
                        wrapped_key=wrap_key(master.key, key, quarantine_key_aad(1)),
                        master_key_id=master.id,
                        created_at=at,
                    )
                    record(
                        actor=None,
                        action="mail.quarantine_key.create",
                        obj=row,
                        client=None,
                        at=at,
                        detail={"version": 1, "master_key_id": master.id},
                    )
                return 1, key
            except IntegrityError:  # created by a concurrent run; use theirs
                row = QuarantineDataKey.objects.order_by("-version").get()
        return row.version, _unwrap(row, load_master_key(create=False))
    except KeyUnavailable as problem:
        logger.error("Cannot encrypt quarantined mail: %s", problem)
        raise Conflict(
            "Quarantined mail cannot be stored right now: the encryption key is not "
            "available. Tell your administrator; nothing was stored."
        ) from problem


def seal_raw(
    raw: bytes, *, client_id: int | None, encryption_id: uuid.UUID, at: dt.datetime
) -> Sealed:
    """Encrypt a held message for the record ``encryption_id``: with the client's data key,
    or the provider's quarantine key when ``client_id`` is None."""
    if client_id is None:
        version, key = current_quarantine_key(at=at)
        aad = provider_message_aad(encryption_id, version)
    else:
        version, key = current_data_key(client_id, at=at)
        aad = client_message_aad(client_id, encryption_id, version)
    content = b"".join(encrypt_stream(key, [raw], aad))
    return Sealed(content=content, key_version=version, provider_key=client_id is None)


def open_raw(
    stored: Readable,
    *,
    client_id: int | None,
    encryption_id: uuid.UUID,
    key_version: int,
    provider_key: bool,
) -> bytes:
    """The plaintext of a held message sealed by :func:`seal_raw`.

    Raises :class:`KeyUnavailable` when its key cannot be had, and
    :class:`DecryptionError` when the file, its record or its client differ.
    """
    master = load_master_key(create=False)
    if provider_key:
        quarantine_row = QuarantineDataKey.objects.filter(version=key_version).first()
        if quarantine_row is None:
            raise KeyUnavailable(f"There is no quarantine data key v{key_version}.")
        key = _unwrap(quarantine_row, master)
        aad = provider_message_aad(encryption_id, key_version)
    else:
        if client_id is None:
            raise KeyUnavailable("The message names no client whose key encrypted it.")
        row = ClientDataKey.objects.filter(client_id=client_id, version=key_version).first()
        if row is None or row.master_key_id != master.id:
            raise KeyUnavailable(
                f"Data key v{key_version} of client {client_id} is missing or not wrapped by "
                f"the configured master key {master.id}."
            )
        key = unwrap_key(master.key, bytes(row.wrapped_key), data_key_aad(client_id, key_version))
        aad = client_message_aad(client_id, encryption_id, key_version)
    return b"".join(decrypt_stream(key, stored, aad))


def rewrap_quarantine_keys(
    sender: object, *, current: MasterKey, new_master: MasterKey, at: dt.datetime, **_: Any
) -> int:
    """Re-wrap the quarantine data keys under ``new_master`` during a master-key rotation
    (connected to :data:`relaydesk.vault.actions.master_key_rotating`); how many.

    Inside the rotation's transaction: a key that will not unwrap stops it all.
    """
    rows = list(QuarantineDataKey.objects.select_for_update().order_by("version"))
    for row in rows:
        try:
            key = _unwrap(row, current)
        except KeyUnavailable as problem:
            raise Conflict(f"{problem} Nothing was changed.") from problem
        row.wrapped_key = wrap_key(new_master.key, key, quarantine_key_aad(row.version))
        row.master_key_id = new_master.id
        row.rewrapped_at = at
        row.save(update_fields=["wrapped_key", "master_key_id", "rewrapped_at"])
    return len(rows)
