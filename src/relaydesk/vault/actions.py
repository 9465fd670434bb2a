"""Every write of the vault: data keys, sealed files and values, decryption failures, rotation.

Files and confidential values are encrypted with their client's data key (see
:mod:`relaydesk.vault.crypto`); the data key is stored wrapped by the master key
(:mod:`relaydesk.vault.keys`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django.core.files import File
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from relaydesk.audit.actions import record
from relaydesk.core.roles import Role
from relaydesk.errors import Conflict, Invalid, NotAllowed
from relaydesk.vault.crypto import (
    DecryptionError,
    attachment_aad,
    data_key_aad,
    decrypt_stream,
    decrypt_value,
    encrypt_stream,
    encrypt_value,
    new_key,
    sensitive_value_aad,
    unwrap_key,
    wrap_key,
)
from relaydesk.vault.keys import KeyUnavailable, MasterKey, load_master_key, replace_key_file
from relaydesk.vault.models import ClientDataKey
from relaydesk.vault.queries import legacy_files

if TYPE_CHECKING:
    from relaydesk.accounts.models import User
    from relaydesk.work.models import Attachment, SensitiveDetail

logger = logging.getLogger(__name__)

CANNOT_DECRYPT = "This file cannot be decrypted; it may have been tampered with."
CANNOT_DECRYPT_VALUE = (
    "A confidential detail of this item cannot be decrypted; it may have been tampered with."
)

# Sent by :func:`do_rotate_keys` inside its transaction, after the client data keys, with
# ``current`` and ``new_master`` (:class:`MasterKey`) and ``at``: a receiver re-wraps the
# other data keys it keeps under the master key (the mail quarantine's) and returns how
# many. A receiver that raises rolls the whole rotation back.
master_key_rotating = Signal()


class CannotDecrypt(Conflict):
    """A stored file or value failed authentication (HTTP 409); ``reason`` is for the audit."""

    def __init__(self, reason: str, message: str = CANNOT_DECRYPT) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SealedFile:
    """An upload encrypted into a temporary file, with facts about its plaintext."""

    content: File
    size: int
    sha256: str
    key_version: int


@dataclass(frozen=True, slots=True)
class SealedValue:
    """A confidential value encrypted with its client's data key version ``key_version``."""

    nonce: bytes
    ciphertext: bytes
    key_version: int


class StoredValue(Protocol):
    """What a stored confidential value carries (a ``SensitiveDetail`` row)."""

    @property
    def pk(self) -> int: ...
    @property
    def client_id(self) -> int: ...
    @property
    def item_id(self) -> int: ...
    @property
    def encryption_id(self) -> uuid.UUID: ...
    @property
    def key_version(self) -> int: ...
    @property
    def nonce(self) -> bytes | memoryview: ...
    @property
    def ciphertext(self) -> bytes | memoryview: ...


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What a master-key rotation did."""

    old_key_id: str
    new_key_id: str
    rewrapped: int
    clients: int
    other_keys: int = 0


def _unwrap(row: ClientDataKey, master: MasterKey) -> bytes:
    """The plain data key of ``row``; :class:`KeyUnavailable` with the reason if it won't open."""
    if row.master_key_id != master.id:
        raise KeyUnavailable(
            f"Data key v{row.version} of client {row.client_id} is wrapped by master key "
            f"{row.master_key_id}, but the configured master key ({master.source}) is {master.id}."
        )
    try:
        return unwrap_key(
            master.key, bytes(row.wrapped_key), data_key_aad(row.client_id, row.version)
        )
    except DecryptionError as error:
        raise KeyUnavailable(
            f"Data key v{row.version} of client {row.client_id} does not unwrap with master key "
            f"{master.id}: the stored key was altered."
        ) from error


def current_data_key(client_id: int, *, at: dt.datetime) -> tuple[int, bytes]:
    """The client's newest data key as (version, key); the first is created here and audited.

    Call inside the caller's transaction; a failure to load or open the key is a
    :class:`Conflict` that stores nothing.
    """
    try:
        row = ClientDataKey.objects.filter(client_id=client_id).order_by("-version").first()
        if row is None:
            master = load_master_key(create=not ClientDataKey.objects.exists())
            key = new_key()
            try:
                with transaction.atomic():
                    row = ClientDataKey.objects.create(
                        client_id=client_id,
                        version=1,
                        wrapped_key=wrap_key(master.key, key, data_key_aad(client_id, 1)),
                        master_key_id=master.id,
                        created_at=at,
                    )
                    record(
                        actor=None,
                        action="vault.data_key.create",
                        obj=row,
                        client=client_id,
                        at=at,
                        detail={"version": 1, "master_key_id": master.id},
                    )
                return 1, key
            except IntegrityError:  # created by a concurrent upload; use theirs
                row = ClientDataKey.objects.filter(client_id=client_id).order_by("-version").get()
        return row.version, _unwrap(row, load_master_key(create=False))
    except KeyUnavailable as problem:
        logger.error("Cannot encrypt for client %s: %s", client_id, problem)
        raise Conflict(
            "Files and confidential details cannot be stored right now: the encryption key "
            "is not available. Tell your administrator; nothing was stored."
        ) from problem


def seal_upload(
    upload: File, *, client_id: int, encryption_id: uuid.UUID, at: dt.datetime
) -> SealedFile:
    """Encrypt ``upload`` (an upload, or a stored file) for one attachment of one client into
    a temporary file.

    The caller saves ``content`` as the attachment's file and closes it.
    """
    version, key = current_data_key(client_id, at=at)
    aad = attachment_aad(client_id, str(encryption_id), version)
    digest = hashlib.sha256()
    size = 0

    def plaintext() -> Iterator[bytes]:
        nonlocal size
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    out = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - the caller closes it
    for piece in encrypt_stream(key, plaintext(), aad):
        out.write(piece)
    out.seek(0)
    return SealedFile(File(out), size=size, sha256=digest.hexdigest(), key_version=version)


def seal_values(
    client_id: int, values: Sequence[tuple[int, uuid.UUID, str]], *, at: dt.datetime
) -> list[SealedValue]:
    """Encrypt confidential values of one client, given as (item id, detail id, text).

    Each value is bound to its client, item, random detail id (``encryption_id``,
    chosen before the row is written) and key version. Call inside the caller's
    transaction; the client's first data key is created here. Nothing is loaded
    for an empty list.
    """
    if not values:
        return []
    version, key = current_data_key(client_id, at=at)
    sealed = []
    for item_id, detail_id, text in values:
        aad = sensitive_value_aad(client_id, item_id, str(detail_id), version)
        nonce, ciphertext = encrypt_value(key, text.encode(), aad)
        sealed.append(SealedValue(nonce=nonce, ciphertext=ciphertext, key_version=version))
    return sealed


class ValueOpener:
    """Decrypts stored confidential values, unwrapping each client data key only once.

    Make one per reveal or export; it holds plain data keys in memory while it lives.
    """

    def __init__(self) -> None:
        self._master: MasterKey | None = None
        self._keys: dict[tuple[int, int], bytes] = {}

    def _key(self, client_id: int, version: int) -> bytes:
        if (client_id, version) not in self._keys:
            row = ClientDataKey.objects.filter(client_id=client_id, version=version).first()
            if row is None:
                raise KeyUnavailable(f"Client {client_id} has no data key v{version}.")
            if self._master is None:
                self._master = load_master_key(create=False)
            self._keys[client_id, version] = _unwrap(row, self._master)
        return self._keys[client_id, version]

    def open(self, stored: StoredValue) -> str:
        """The plaintext of ``stored``; :class:`CannotDecrypt` with the reason if it fails.

        A value whose ciphertext was altered, or copied from another detail, item or
        client, fails, as does one whose data key or master key is wrong or missing.
        """
        try:
            key = self._key(stored.client_id, stored.key_version)
        except KeyUnavailable as problem:
            raise CannotDecrypt(str(problem), CANNOT_DECRYPT_VALUE) from problem
        aad = sensitive_value_aad(
            stored.client_id, stored.item_id, str(stored.encryption_id), stored.key_version
        )
        try:
            plain = decrypt_value(key, bytes(stored.nonce), bytes(stored.ciphertext), aad)
        except DecryptionError as problem:
            raise CannotDecrypt(
                f"Confidential detail {stored.pk}: {problem}", CANNOT_DECRYPT_VALUE
            ) from problem
        return plain.decode()


def do_record_value_decrypt_failure(
    actor: User | None, detail: SensitiveDetail, reason: str, *, source_ip: str | None = None
) -> None:
    """Audit a confidential value that failed to decrypt, and tell the operators' log."""
    logger.warning("Confidential detail %s cannot be decrypted: %s", detail.pk, reason)
    with transaction.atomic():
        record(
            actor=actor,
            action="sensitive.decrypt_failed",
            obj=detail,
            client=detail.client_id,
            source_ip=source_ip,
            detail={
                "item": detail.item_id,
                "label": detail.label,
                "kind": detail.kind,
                "reason": reason[:500],
            },
        )


def _attachment_key(attachment: Attachment) -> tuple[bytes, bytes]:
    if attachment.key_version is None:
        raise CannotDecrypt("The attachment names no data key version.")
    row = ClientDataKey.objects.filter(
        client_id=attachment.client_id, version=attachment.key_version
    ).first()
    if row is None:
        raise CannotDecrypt(
            f"Client {attachment.client_id} has no data key v{attachment.key_version}."
        )
    try:
        key = _unwrap(row, load_master_key(create=False))
    except KeyUnavailable as problem:
        raise CannotDecrypt(str(problem)) from problem
    aad = attachment_aad(attachment.client_id, str(attachment.encryption_id), row.version)
    return key, aad


def _decrypted(attachment: Attachment, key: bytes, aad: bytes) -> Iterator[bytes]:
    with attachment.file.open("rb") as stored:
        yield from decrypt_stream(key, stored, aad)


def plaintext_of(attachment: Attachment) -> Iterator[bytes]:
    """The file's plaintext, checked whole before the first byte is returned.

    Raises :class:`CannotDecrypt` (with the reason) when the key is missing or
    wrong, or when any byte of the file, its client or its attachment id was
    changed. Files stored before encryption (no ``encryption_id``) are returned
    as they are, until ``relaydesk keys encrypt-legacy`` encrypts them
    (:func:`do_encrypt_legacy_files`).
    """
    if attachment.encryption_id is None:
        return _legacy(attachment)
    key, aad = _attachment_key(attachment)
    try:
        for _ in _decrypted(attachment, key, aad):
            pass
    except DecryptionError as problem:
        raise CannotDecrypt(str(problem)) from problem
    except OSError as problem:
        raise CannotDecrypt(f"The stored file cannot be read ({problem.strerror}).") from problem
    return _decrypted(attachment, key, aad)


def _legacy(attachment: Attachment) -> Iterator[bytes]:
    with attachment.file.open("rb") as stored:
        yield from stored.chunks()


def do_record_decrypt_failure(
    actor: User, attachment: Attachment, reason: str, *, source_ip: str | None = None
) -> None:
    """Audit a download that failed to decrypt, and tell the operators' log (no key material)."""
    logger.warning("Attachment %s cannot be decrypted: %s", attachment.pk, reason)
    with transaction.atomic():
        record(
            actor=actor,
            action="attachment.decrypt_failed",
            obj=attachment,
            client=attachment.client_id,
            source_ip=source_ip,
            detail={
                "item": attachment.item_id,
                "name": attachment.original_name,
                "reason": reason[:500],
            },
        )


def do_rotate_keys(
    actor: User | None,
    new_master: MasterKey,
    *,
    install: bool = True,
    progress: Callable[[int, int, ClientDataKey], None] | None = None,
    at: dt.datetime | None = None,
) -> RotationResult:
    """Re-wrap every client's data key, and the other data keys kept under the master key
    (:data:`master_key_rotating`), under ``new_master``; all or nothing, audited.

    Files and confidential values are not touched: their data keys stay the same.
    ``actor`` is a provider admin, or None for the operator at the command line.
    With ``install`` and a master key read from a key file, that file is replaced
    by the new key once the transaction commits, so running processes pick it up
    at their next file.
    """
    if actor is not None and actor.role_enum is not Role.PROVIDER_ADMIN:
        raise NotAllowed("Only a provider admin can rotate the master key.")
    at = at or timezone.now()
    with transaction.atomic():
        rows = list(
            ClientDataKey.objects.select_for_update(of=("self",))
            .select_related("client")
            .order_by("client_id", "version")
        )
        try:
            current = load_master_key(create=not rows)
        except KeyUnavailable as problem:
            raise Conflict(f"{problem} Nothing was changed.") from problem
        if new_master.id == current.id:
            raise Invalid(
                f"The new master key is the one in use ({current.id}); nothing was changed."
            )
        for done, row in enumerate(rows, start=1):
            try:
                key = _unwrap(row, current)
            except KeyUnavailable as problem:
                raise Conflict(f"{problem} Nothing was changed.") from problem
            row.wrapped_key = wrap_key(
                new_master.key, key, data_key_aad(row.client_id, row.version)
            )
            row.master_key_id = new_master.id
            row.rewrapped_at = at
            row.save(update_fields=["wrapped_key", "master_key_id", "rewrapped_at"])
            if progress is not None:
                progress(done, len(rows), row)
        others = sum(
            int(count or 0)
            for _, count in master_key_rotating.send(
                sender=do_rotate_keys, current=current, new_master=new_master, at=at
            )
        )
        clients = len({row.client_id for row in rows})
        record(
            actor=actor,
            action="vault.keys.rotate",
            obj=None,
            at=at,
            detail={
                "from": current.id,
                "to": new_master.id,
                "data_keys": len(rows),
                "clients": clients,
                "other_data_keys": others,
                "installed_into": str(current.path) if install and current.path else "",
            },
        )
        if install and current.path is not None and current.path != new_master.path:
            path = current.path
            transaction.on_commit(lambda: replace_key_file(path, new_master.key))
    return RotationResult(
        old_key_id=current.id,
        new_key_id=new_master.id,
        rewrapped=len(rows),
        clients=clients,
        other_keys=others,
    )


# --- Files stored before encryption ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegacyFile:
    """One file stored before encryption, and what the conversion did (or would do) with it."""

    attachment_id: int
    client: str
    item_id: int
    size: int
    # "encrypted", "would encrypt" (a dry run) or "failed"; ``reason`` says why it failed.
    outcome: str
    reason: str = ""


@dataclass
class LegacyRun:
    """What one run of :func:`do_encrypt_legacy_files` did."""

    dry_run: bool
    at: dt.datetime
    found: int = 0
    files: list[LegacyFile] = field(default_factory=list)
    # Plaintext files kept after their encrypted copy was committed (the delete failed);
    # the next run deletes them.
    left_behind: list[str] = field(default_factory=list)
    leftovers_removed: int = 0
    remaining: int = 0

    @property
    def encrypted(self) -> list[LegacyFile]:
        """The files encrypted (or, in a dry run, that would be)."""
        return [f for f in self.files if f.outcome != "failed"]

    @property
    def failed(self) -> list[LegacyFile]:
        """The files left as they were, with the reason."""
        return [f for f in self.files if f.outcome == "failed"]

    @property
    def encrypted_bytes(self) -> int:
        """Plaintext bytes of the files encrypted."""
        return sum(f.size for f in self.encrypted)


class _NotAsRecorded(Exception):
    """A stored file's bytes differ from the size or SHA-256 recorded when it was uploaded."""


LegacyProgress = Callable[[int, int, LegacyFile | None], None]


def _legacy_line(attachment: Attachment, outcome: str, reason: str = "") -> LegacyFile:
    return LegacyFile(
        attachment_id=attachment.pk,
        client=attachment.client.slug,
        item_id=attachment.item_id,
        size=attachment.size,
        outcome=outcome,
        reason=reason,
    )


def _attachment_storage() -> Storage:
    from relaydesk.work.models import Attachment

    storage: Storage = Attachment._meta.get_field("file").storage
    return storage


def _encrypt_legacy_file(
    actor: User | None, attachment_id: int, at: dt.datetime, left_behind: list[str]
) -> LegacyFile | None:
    """Encrypt one stored plaintext file in its own transaction; None when it is no longer one.

    The plaintext is encrypted with its client's current data key and bound, like a new
    upload, to the client, a fresh ``encryption_id`` and the key version; the encrypted
    file is written beside it and read back through the download path. Only once that
    matches and the row has committed is the plaintext deleted (a plaintext that cannot
    be deleted is added to ``left_behind``). Anything that fails leaves the row and the
    plaintext as they were, and the new file is deleted.
    """
    storage = _attachment_storage()
    written = ""
    try:
        with transaction.atomic():
            attachment = (
                legacy_files()
                .select_for_update(of=("self",))
                .select_related("client")
                .filter(pk=attachment_id)
                .first()
            )
            if attachment is None or not attachment.file.name:
                return None
            plaintext_name = attachment.file.name
            encryption_id = uuid.uuid4()
            with storage.open(plaintext_name, "rb") as plain:
                sealed = seal_upload(
                    File(plain), client_id=attachment.client_id, encryption_id=encryption_id, at=at
                )
            with sealed.content:
                if sealed.size != attachment.size or (
                    attachment.sha256 and sealed.sha256 != attachment.sha256
                ):
                    raise _NotAsRecorded(
                        "its bytes no longer match the size and SHA-256 recorded at upload"
                    )
                attachment.file.save(attachment.original_name, sealed.content, save=False)
            written = attachment.file.name or ""
            attachment.encryption_id = encryption_id
            attachment.key_version = sealed.key_version
            # Read back as a download would: the whole file authenticated, then compared.
            digest = hashlib.sha256()
            for chunk in plaintext_of(attachment):
                digest.update(chunk)
            if digest.hexdigest() != sealed.sha256:
                raise _NotAsRecorded("the encrypted copy does not read back as the plaintext")
            attachment.save(update_fields=["file", "encryption_id", "key_version"])
            record(
                actor=actor,
                action="attachment.encrypt_legacy",
                obj=attachment,
                client=attachment.client_id,
                at=at,
                detail={
                    "item": attachment.item_id,
                    "name": attachment.original_name,
                    "bytes": attachment.size,
                    "key_version": sealed.key_version,
                    # Deleted after commit; a later run deletes it if this one could not.
                    "plaintext_file": plaintext_name,
                },
            )

            def remove_plaintext() -> None:
                if not _remove_plaintext(storage, plaintext_name):
                    left_behind.append(plaintext_name)

            transaction.on_commit(remove_plaintext)
    except BaseException:
        if written:
            with contextlib.suppress(OSError):
                storage.delete(written)
        raise
    return _legacy_line(attachment, "encrypted")


def _remove_plaintext(storage: Storage, name: str) -> bool:
    """Delete a plaintext file whose encrypted copy is committed; False if it stays."""
    try:
        storage.delete(name)
    except OSError as problem:
        logger.warning(
            "The plaintext file %s was encrypted but could not be deleted (%s); the next "
            "`relaydesk keys encrypt-legacy` deletes it",
            name,
            problem.strerror or type(problem).__name__,
        )
        return False
    return True


def _remove_leftover_plaintext() -> int:
    """Delete the plaintext files an earlier run encrypted but did not get to delete (it was
    stopped between its commit and the delete, or the delete failed); how many."""
    from relaydesk.audit.models import AuditRecord
    from relaydesk.work.models import Attachment

    storage = _attachment_storage()
    details = AuditRecord.objects.filter(action="attachment.encrypt_legacy").values_list(
        "detail", flat=True
    )
    names = {str(detail.get("plaintext_file") or "") for detail in details} - {""}
    # Never a file a row points at now, whatever the trail says.
    names -= set(Attachment.objects.filter(file__in=names).values_list("file", flat=True))
    return sum(
        1 for name in sorted(names) if storage.exists(name) and _remove_plaintext(storage, name)
    )


def _failed(attachment_id: int, problem: Exception) -> LegacyFile | None:
    """The line of a file that could not be encrypted, saying why (no file content)."""
    from relaydesk.work.models import Attachment

    if isinstance(problem, OSError):
        reason = f"the stored file cannot be read ({problem.strerror or type(problem).__name__})"
    elif isinstance(problem, _NotAsRecorded | CannotDecrypt):
        reason = str(problem) if isinstance(problem, _NotAsRecorded) else problem.reason
    else:
        logger.exception("Encrypting stored file %s failed", attachment_id)
        reason = f"{type(problem).__name__}; see the log"
    attachment = Attachment.objects.select_related("client").filter(pk=attachment_id).first()
    return None if attachment is None else _legacy_line(attachment, "failed", reason)


def do_encrypt_legacy_files(
    actor: User | None = None,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    progress: LegacyProgress | None = None,
    at: dt.datetime | None = None,
) -> LegacyRun:
    """Encrypt the files stored before encryption existed, each with its client's data key.

    ``actor`` is a provider admin, or None for the operator at the command line. Each file
    is converted in its own transaction (:func:`_encrypt_legacy_file`) with an
    ``attachment.encrypt_legacy`` audit record; a file that fails is reported and left as
    it was, the others go on. Running again takes up what is left, so a run stopped half
    way is simply resumed; it first deletes plaintext files an earlier run encrypted but
    did not delete. ``limit`` converts at most that many files; ``dry_run`` only lists.
    One ``vault.legacy_encrypt_run`` record sums up each run. A key that cannot be had
    stops the run as a :class:`Conflict` (the files done so far stay done).
    """
    if actor is not None and actor.role_enum is not Role.PROVIDER_ADMIN:
        raise NotAllowed("Only a provider admin can encrypt stored files.")
    if limit is not None and limit < 1:
        raise Invalid("The limit is a number of files, 1 or more.")
    at = at or timezone.now()
    run = LegacyRun(dry_run=dry_run, at=at)
    if not dry_run:
        run.leftovers_removed = _remove_leftover_plaintext()
    ids = list(legacy_files().order_by("pk").values_list("pk", flat=True))
    run.found = len(ids)
    ids = ids[:limit] if limit is not None else ids
    for done, attachment_id in enumerate(ids, start=1):
        line: LegacyFile | None = None
        if dry_run:
            attachment = legacy_files().select_related("client").filter(pk=attachment_id).first()
            if attachment is not None:
                name = attachment.file.name or ""
                present = bool(name) and attachment.file.storage.exists(name)
                line = _legacy_line(
                    attachment,
                    "would encrypt" if present else "failed",
                    "" if present else "the stored file is missing",
                )
        else:
            try:
                line = _encrypt_legacy_file(actor, attachment_id, at, run.left_behind)
            except CannotDecrypt as problem:  # this file's encrypted copy did not read back
                line = _failed(attachment_id, problem)
            except Conflict:
                raise  # no key to encrypt with: every file would fail the same way
            except Exception as problem:  # one file's failure must not stop the run
                line = _failed(attachment_id, problem)
        if line is not None:
            run.files.append(line)
        if progress is not None:
            progress(done, len(ids), line)
    run.remaining = legacy_files().count()
    if not dry_run:
        with transaction.atomic():
            record(
                actor=actor,
                action="vault.legacy_encrypt_run",
                obj=None,
                at=at,
                detail={
                    "found": run.found,
                    "encrypted": len(run.encrypted),
                    "bytes": run.encrypted_bytes,
                    "failed": [f.attachment_id for f in run.failed][:100],
                    "plaintext_left": len(run.left_behind),
                    "leftovers_removed": run.leftovers_removed,
                    "remaining": run.remaining,
                },
            )
    return run
