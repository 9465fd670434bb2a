"""Files stored before encryption existed: counted honestly, then encrypted in place.

Given plaintext files on disk from before encryption (rows without an
``encryption_id``), when ``relaydesk keys encrypt-legacy`` runs, then each file is
encrypted with its client's data key and bound like a new upload, the plaintext is
deleted only once the encrypted copy is written, read back and committed, every step
is audited, a run can be stopped and resumed, and ``keys status`` and the client's
Security & compliance page say how many files are still not encrypted.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.errors import NotAllowed
from relaydesk.vault import actions
from relaydesk.vault.actions import (
    CannotDecrypt,
    current_data_key,
    do_encrypt_legacy_files,
    plaintext_of,
)
from relaydesk.vault.keys import ENV_MASTER_KEY
from relaydesk.vault.models import ClientDataKey
from relaydesk.work.models import Attachment
from tests.conftest import World, login, submit

SECRET = b"LEGACY-MEDICAL-RECORD-7731"
# Several encryption segments, the secret throughout.
OLD_RECORD = b"%PDF-1.4\n" + (SECRET + b" ledger of 2019 charges\n") * 4000


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MASTER_KEY, raising=False)
    monkeypatch.delenv("RELAYDESK_NEW_MASTER_KEY", raising=False)


def legacy_file(
    world: World, data: bytes = OLD_RECORD, *, client: str = "a", name: str = "old-bill.pdf"
) -> Attachment:
    """A file as Relaydesk stored it before encryption: the plaintext on disk under its
    client's folder, a row without ``encryption_id`` or key version."""
    owner = world.member_a if client == "a" else world.member_b
    engagement = world.engagement_a if client == "a" else world.engagement_b
    item = submit(owner, engagement)
    stored = default_storage.save(f"attachments/{item.client_id}/{name}", ContentFile(data))
    return Attachment.objects.create(
        client_id=item.client_id,
        item=item,
        uploaded_by=owner,
        file=stored,
        original_name=name,
        content_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=timezone.now(),
    )


def on_disk(attachment: Attachment) -> bytes:
    return Path(default_storage.path(attachment.file.name or "")).read_bytes()


def run_command(*args: str, capture: Any) -> tuple[str, str]:
    """``relaydesk keys ARGS`` with its after-commit work done, as outside a test; its output."""
    out, err = StringIO(), StringIO()
    with capture(execute=True):
        call_command("keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def status() -> list[str]:
    out = StringIO()
    call_command("keys", "status", stdout=out)
    return out.getvalue().splitlines()


def test_status_and_the_security_page_count_the_files_not_encrypted(world: World) -> None:
    submit(world.member_a, world.engagement_a, with_file=True)
    assert "Files stored before encryption (not encrypted): 0" in status()
    page = login(world.client_admin_a).get("/clients/security/").content.decode()
    assert "1 stored, all encrypted" in page

    legacy_file(world)
    legacy_file(world, name="older.pdf")
    legacy_file(world, client="b")

    lines = status()
    assert "Files stored before encryption (not encrypted): 3" in lines
    assert any(line.split() == ["alpha-law", "2", "file(s)"] for line in lines)
    assert any(line.split() == ["bravo-retail", "1", "file(s)"] for line in lines)
    assert "  Encrypt them with: relaydesk keys encrypt-legacy" in lines
    page = login(world.client_admin_a).get("/clients/security/").content.decode()
    assert "all encrypted" not in page
    assert "3 stored, 1 encrypted and 2 stored before encryption existed, not yet encrypted" in page
    assert "Documents at rest (2 not yet encrypted)" in page
    # Client B's page counts client B's file only.
    page_b = login(world.client_admin_b).get("/clients/security/").content.decode()
    assert "1 stored, 0 encrypted and 1 stored before encryption existed" in page_b


def test_encrypt_legacy_encrypts_each_file_with_its_clients_key_and_removes_the_plaintext(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    alpha = legacy_file(world)
    bravo = legacy_file(world, b"%PDF-1.4 bravo's 2019 refund list", client="b")
    plaintext_names = [alpha.file.name or "", bravo.file.name or ""]

    out, _ = run_command("encrypt-legacy", capture=django_capture_on_commit_callbacks)

    assert "[2/2] files done" in out
    assert "Encrypted 2 of 2 file(s) stored before encryption" in out
    assert "Still not encrypted: 0 file(s)." in out
    for name in plaintext_names:
        assert not default_storage.exists(name), "the plaintext must be gone"
    for attachment, plain in ((alpha, OLD_RECORD), (bravo, b"%PDF-1.4 bravo's 2019 refund list")):
        attachment.refresh_from_db()
        assert attachment.encryption_id is not None and attachment.key_version == 1
        stored = on_disk(attachment)
        assert stored.startswith(b"RDE1") and SECRET not in stored
        assert attachment.file.name.startswith(f"attachments/{attachment.client_id}/")  # type: ignore[union-attr]
        assert b"".join(plaintext_of(attachment)) == plain
    # Each with its own client's data key, created for it and audited.
    assert set(ClientDataKey.objects.values_list("client_id", flat=True)) == {
        world.client_a.pk,
        world.client_b.pk,
    }
    # The client downloads exactly what was stored, through the usual audited path.
    page = login(world.member_a).get(f"/items/{alpha.item_id}/attachments/{alpha.pk}/")
    assert page.status_code == 200
    assert b"".join(page.streaming_content) == OLD_RECORD  # type: ignore[attr-defined]
    # Audited per file (in the client's own trail) and per run, with counts.
    converted = AuditRecord.objects.get(action="attachment.encrypt_legacy", client=world.client_a)
    assert converted.object_id == str(alpha.pk) and converted.actor_id is None
    assert converted.detail["bytes"] == len(OLD_RECORD) and converted.detail["key_version"] == 1
    trail = login(world.client_admin_a).get("/portal/audit/").content.decode()
    assert "Stored file encrypted" in trail
    summary = AuditRecord.objects.get(action="vault.legacy_encrypt_run")
    assert summary.client_id is None
    assert summary.detail["found"] == 2 and summary.detail["encrypted"] == 2
    assert summary.detail["bytes"] == len(OLD_RECORD) + bravo.size
    assert summary.detail["failed"] == [] and summary.detail["remaining"] == 0
    assert "Files stored before encryption (not encrypted): 0" in status()
    # Running again finds nothing to do.
    again, _ = run_command("encrypt-legacy", capture=django_capture_on_commit_callbacks)
    assert "Encrypted 0 of 0 file(s)" in again


def test_an_encrypted_legacy_file_is_bound_like_a_new_upload(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    source = legacy_file(world)
    target = legacy_file(world, b"%PDF-1.4 another alpha record of 2019", name="other.pdf")
    run_command("encrypt-legacy", capture=django_capture_on_commit_callbacks)
    source.refresh_from_db()
    target.refresh_from_db()
    # The ciphertext copied over another attachment of the same client does not decrypt,
    # nor does the file under another id.
    shutil.copyfile(
        default_storage.path(source.file.name or ""), default_storage.path(target.file.name or "")
    )
    with pytest.raises(CannotDecrypt):
        b"".join(plaintext_of(target))
    Attachment.objects.filter(pk=source.pk).update(encryption_id=uuid.uuid4())
    source.refresh_from_db()
    with pytest.raises(CannotDecrypt):
        b"".join(plaintext_of(source))


def test_a_dry_run_lists_the_files_and_changes_nothing(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    attachment = legacy_file(world)
    records = AuditRecord.objects.count()

    out, _ = run_command("encrypt-legacy", "--dry-run", capture=django_capture_on_commit_callbacks)

    assert f"[1/1] alpha-law attachment {attachment.pk} of item {attachment.item_id}" in out
    assert "Would encrypt 1 of 1 file(s) stored before encryption" in out
    assert on_disk(attachment) == OLD_RECORD
    attachment.refresh_from_db()
    assert attachment.encryption_id is None
    assert AuditRecord.objects.count() == records
    assert not ClientDataKey.objects.exists()


def test_a_run_stopped_half_way_is_resumed_by_the_next(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    first, second, third = (legacy_file(world, name=f"old-{n}.pdf") for n in range(3))

    out, _ = run_command(
        "encrypt-legacy", "--limit", "1", capture=django_capture_on_commit_callbacks
    )

    assert "Encrypted 1 of 3 file(s)" in out and "Still not encrypted: 2 file(s)." in out
    assert Attachment.objects.get(pk=first.pk).encryption_id is not None
    assert "Files stored before encryption (not encrypted): 2" in status()

    out, _ = run_command("encrypt-legacy", capture=django_capture_on_commit_callbacks)

    assert "Encrypted 2 of 2 file(s)" in out and "Still not encrypted: 0 file(s)." in out
    for attachment in (first, second, third):
        attachment.refresh_from_db()
        assert b"".join(plaintext_of(attachment)) == OLD_RECORD
    assert AuditRecord.objects.filter(action="attachment.encrypt_legacy").count() == 3


# Committed for real, as at the command line: each file's plaintext goes as its row commits.
@pytest.mark.django_db(transaction=True)
def test_a_plaintext_that_could_not_be_deleted_is_deleted_by_the_next_run(
    world: World, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment = legacy_file(world)
    plaintext = attachment.file.name or ""
    storage = Attachment._meta.get_field("file").storage

    def refuse(name: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(storage, "delete", refuse)
    with pytest.raises(CommandError, match="1 plaintext file"):
        run_command("encrypt-legacy", capture=django_capture_on_commit_callbacks)
    # Encrypted and committed; the plaintext is still there and said to be.
    attachment.refresh_from_db()
    assert attachment.encryption_id is not None and default_storage.exists(plaintext)
    monkeypatch.undo()

    out, _ = run_command("encrypt-legacy", capture=django_capture_on_commit_callbacks)

    assert "Deleted 1 plaintext file(s) an earlier run had encrypted." in out
    assert not default_storage.exists(plaintext)
    assert b"".join(plaintext_of(attachment)) == OLD_RECORD


def test_a_file_that_fails_is_left_as_it_was_and_the_others_go_on(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    altered = legacy_file(world, name="altered.pdf")
    Path(default_storage.path(altered.file.name or "")).write_bytes(OLD_RECORD + b"appended")
    missing = legacy_file(world, name="missing.pdf")
    default_storage.delete(missing.file.name or "")
    fine = legacy_file(world, name="fine.pdf")

    out, err = StringIO(), StringIO()
    with (
        pytest.raises(CommandError, match="2 file"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("keys", "encrypt-legacy", stdout=out, stderr=err)

    assert (
        "no longer match the size and SHA-256 recorded at upload; left as it is" in err.getvalue()
    )
    assert "the stored file cannot be read" in err.getvalue()
    altered.refresh_from_db()
    assert altered.encryption_id is None
    assert on_disk(altered) == OLD_RECORD + b"appended"
    assert Attachment.objects.get(pk=fine.pk).encryption_id is not None
    summary = AuditRecord.objects.get(action="vault.legacy_encrypt_run")
    assert sorted(summary.detail["failed"]) == sorted([altered.pk, missing.pk])
    assert summary.detail["remaining"] == 2
    # The altered plaintext and the fine file's ciphertext: no stray copy of the others.
    folder = Path(default_storage.path(f"attachments/{world.client_a.pk}"))
    assert len(list(folder.iterdir())) == 2


def test_a_file_whose_record_cannot_be_written_keeps_its_plaintext_and_no_copy(
    world: World, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment = legacy_file(world)
    current_data_key(world.client_a.pk, at=timezone.now())  # the key exists already
    folder = Path(default_storage.path(f"attachments/{world.client_a.pk}"))
    before = sorted(folder.iterdir())

    def audit_down(**_: Any) -> None:
        raise RuntimeError("the audit trail is not writable")

    # The file is encrypted, written and read back; then its record cannot be written (nor,
    # in the end, the run's).
    monkeypatch.setattr(actions, "record", audit_down)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        do_encrypt_legacy_files()
    monkeypatch.undo()
    attachment.refresh_from_db()
    assert attachment.encryption_id is None and on_disk(attachment) == OLD_RECORD
    assert sorted(folder.iterdir()) == before, "the encrypted copy was deleted again"


def test_only_a_provider_admin_or_the_operator_may_encrypt(world: World) -> None:
    attachment = legacy_file(world)
    for who in (world.lead, world.client_admin_a, world.agent):
        with pytest.raises(NotAllowed):
            do_encrypt_legacy_files(who)
    assert Attachment.objects.get(pk=attachment.pk).encryption_id is None
    assert do_encrypt_legacy_files(world.admin, dry_run=True).found == 1
