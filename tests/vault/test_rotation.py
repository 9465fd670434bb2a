"""`relaydesk keys rotate` and `relaydesk keys status`: re-wrapping without re-encrypting."""

from __future__ import annotations

import base64
import hashlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.errors import NotAllowed
from relaydesk.mailintake.models import QuarantineDataKey
from relaydesk.vault.actions import CannotDecrypt, do_rotate_keys, plaintext_of
from relaydesk.vault.keys import ENV_MASTER_KEY, read_key_file, write_key_file
from relaydesk.vault.models import ClientDataKey
from relaydesk.work.actions import do_add_attachment
from relaydesk.work.models import Attachment
from tests.conftest import World, submit

RECORD_A = b"%PDF-1.4 alpha medical ledger " * 3000
RECORD_B = b"%PDF-1.4 bravo refund list " * 10


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MASTER_KEY, raising=False)
    monkeypatch.delenv("RELAYDESK_NEW_MASTER_KEY", raising=False)


def _files(world: World) -> tuple[Attachment, Attachment]:
    item_a = submit(world.member_a, world.engagement_a, "document-processing")
    item_b = submit(world.member_b, world.engagement_b, "data-entry")
    a = do_add_attachment(world.member_a, item_a, SimpleUploadedFile("a.pdf", RECORD_A))
    b = do_add_attachment(world.member_b, item_b, SimpleUploadedFile("b.pdf", RECORD_B))
    return a, b


def _plain(attachment: Attachment) -> bytes:
    return b"".join(plaintext_of(attachment))


def _disk(attachment: Attachment) -> str:
    return hashlib.sha256(Path(attachment.file.path).read_bytes()).hexdigest()


def test_rotation_rewraps_every_key_and_the_old_master_no_longer_opens_anything(
    world: World, settings, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    a, b = _files(world)
    key_file = Path(settings.RELAYDESK_MASTER_KEY_FILE)
    old = read_key_file(key_file)
    before = (_disk(a), _disk(b))
    new_file = tmp_path / "new.key"
    call_command("keys", "new", "--out", str(new_file), stdout=StringIO())
    new = read_key_file(new_file)

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("keys", "rotate", "--new-key-file", str(new_file), stdout=out)

    text = out.getvalue()
    assert "[1/2] alpha-law v1" in text and "[2/2] bravo-retail v1" in text
    assert f"{old.id} -> {new.id}" in text
    assert set(ClientDataKey.objects.values_list("master_key_id", flat=True)) == {new.id}
    assert (_disk(a), _disk(b)) == before  # files were not re-encrypted
    assert read_key_file(key_file).id == new.id  # the key file now holds the new key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert _plain(a) == RECORD_A and _plain(b) == RECORD_B
    rotation = AuditRecord.objects.get(action="vault.keys.rotate")
    assert rotation.detail["from"] == old.id and rotation.detail["to"] == new.id
    assert rotation.detail["data_keys"] == 2
    for secret in (old.key, new.key):
        encoded = base64.b64encode(secret).decode()
        assert encoded not in text and encoded not in str(rotation.detail)

    old_file = tmp_path / "old.key"
    write_key_file(old_file, old.key)
    settings.RELAYDESK_MASTER_KEY_FILE = str(old_file)
    with pytest.raises(CannotDecrypt):
        _plain(a)


def test_rotation_is_all_or_nothing(world: World, settings, tmp_path: Path) -> None:
    a, _ = _files(world)
    old = read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE))
    # Client B's wrapped key was altered: it cannot be re-wrapped, so nothing may be.
    damaged = ClientDataKey.objects.get(client=world.client_b)
    wrapped = bytearray(bytes(damaged.wrapped_key))
    wrapped[-1] ^= 1
    ClientDataKey.objects.filter(pk=damaged.pk).update(wrapped_key=bytes(wrapped))
    new_file = tmp_path / "new.key"
    write_key_file(new_file, b"\x09" * 32)

    with pytest.raises(CommandError, match=r"does not unwrap.*Nothing was changed"):
        call_command("keys", "rotate", "--new-key-file", str(new_file), stdout=StringIO())

    assert set(ClientDataKey.objects.values_list("master_key_id", flat=True)) == {old.id}
    assert read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE)).id == old.id
    assert not AuditRecord.objects.filter(action="vault.keys.rotate").exists()
    assert _plain(a) == RECORD_A


def test_rotation_from_the_environment_and_to_the_same_key(
    world: World, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = _files(world)
    current = Path(settings.RELAYDESK_MASTER_KEY_FILE).read_text().strip()
    monkeypatch.setenv("RELAYDESK_NEW_MASTER_KEY", current)
    with pytest.raises(CommandError, match="is the one in use"):
        call_command("keys", "rotate", stdout=StringIO())
    monkeypatch.setenv("RELAYDESK_NEW_MASTER_KEY", base64.b64encode(b"\x0a" * 32).decode())
    call_command("keys", "rotate", "--no-install", stdout=StringIO())
    # Not installed: the configured key no longer matches until the operator swaps it in.
    with pytest.raises(CannotDecrypt):
        _plain(a)
    monkeypatch.setenv(ENV_MASTER_KEY, base64.b64encode(b"\x0a" * 32).decode())
    assert _plain(a) == RECORD_A


def test_only_a_provider_admin_may_rotate(world: World, tmp_path: Path) -> None:
    _files(world)
    new_file = tmp_path / "new.key"
    write_key_file(new_file, b"\x0b" * 32)
    with pytest.raises(NotAllowed):
        do_rotate_keys(world.lead, read_key_file(new_file))


def test_status_prints_ids_and_versions_never_key_material(world: World, settings) -> None:
    out = StringIO()
    call_command("keys", "status", stdout=out)
    assert "none yet" in out.getvalue()
    _files(world)
    out = StringIO()
    call_command("keys", "status", stdout=out)
    text = out.getvalue()
    master = read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE))
    assert f"Master key: {master.id}" in text
    assert "alpha-law" in text and "bravo-retail" in text and "v1" in text
    assert base64.b64encode(master.key).decode() not in text
    for row in ClientDataKey.objects.all():
        assert base64.b64encode(bytes(row.wrapped_key)).decode() not in text


def test_status_counts_stored_files_purged_files_and_values_apart(world: World) -> None:
    from relaydesk.retention.actions import do_purge_expired
    from tests.retention.test_purge import keep_for, make_item

    # Given two old items of client A whose files were purged under retention ...
    keep_for(world.engagement_a, 30)
    make_item(world, world.engagement_a, title="Old", closed_days_ago=40)
    legacy_purged = make_item(world, world.engagement_a, title="Older", closed_days_ago=50)
    do_purge_expired()
    # ... one of them stored before encryption, like one live file ...
    Attachment.objects.filter(item=legacy_purged).update(encryption_id=None)
    legacy = submit(world.member_a, world.engagement_a, with_file=True)
    Attachment.objects.filter(item=legacy).update(encryption_id=None)
    # ... one live encrypted file and two values of A, and one value of B.
    submit(
        world.member_a,
        world.engagement_a,
        with_file=True,
        sensitive=(("bank_account", "IBAN", "DE89370400440532013000"), ("other", "PIN", "4471")),
    )
    submit(world.member_b, world.engagement_b, sensitive=(("other", "Ref", "BR-000123"),))

    out = StringIO()
    call_command("keys", "status", stdout=out)

    lines = out.getvalue().splitlines()
    keys = [line for line in lines if "wrapped by" in line]
    (alpha,) = [line for line in keys if "alpha-law" in line]
    (bravo,) = [line for line in keys if "bravo-retail" in line]
    assert "1 file(s), 1 purged, 2 confidential value(s)" in alpha
    assert "0 file(s), 0 purged, 1 confidential value(s)" in bravo
    assert (
        "Encrypted: 1 stored file(s), 3 confidential value(s); 1 file(s) purged under "
        "retention (tombstones, nothing stored)"
    ) in lines
    # The purged legacy file left nothing behind, so only the live one is unencrypted.
    assert "Files stored before encryption (not encrypted): 1" in lines
    assert [line.split() for line in lines if "wrapped by" not in line and "alpha-law" in line] == [
        ["alpha-law", "1", "file(s)"]
    ]


def test_status_lists_the_mail_quarantine_key_never_its_material(
    world: World, settings, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    from relaydesk.mailintake.actions import do_ingest_message
    from relaydesk.mailintake.sealing import current_quarantine_key
    from tests.mailintake.support import intake_addresses, message

    out = StringIO()
    call_command("keys", "status", stdout=out)
    assert "Mail-quarantine data keys (the provider's): 0" in out.getvalue()
    # Given a message held before its client is known, under the provider's quarantine key ...
    intake_addresses(world)
    held = do_ingest_message(message("wrong-address")).quarantined
    assert held is not None and held.provider_key

    out = StringIO()
    call_command("keys", "status", stdout=out)

    text = out.getvalue()
    master = read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE))
    assert "Mail-quarantine data keys (the provider's): 1" in text
    (line,) = [line for line in text.splitlines() if line.strip().startswith("quarantine ")]
    assert f"v1  wrapped by {master.id}  1 held message(s)  created " in line
    assert line.endswith(", never re-wrapped")
    _, plain_key = current_quarantine_key(at=timezone.now())
    wrapped = bytes(QuarantineDataKey.objects.get().wrapped_key)
    for secret in (master.key, plain_key, wrapped):
        assert base64.b64encode(secret).decode() not in text and secret.hex() not in text

    # ... once the master key is rotated, it is listed as re-wrapped, under the new key.
    new_file = tmp_path / "new.key"
    call_command("keys", "new", "--out", str(new_file), stdout=StringIO())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("keys", "rotate", "--new-key-file", str(new_file), stdout=StringIO())
    out = StringIO()
    call_command("keys", "status", stdout=out)
    (line,) = [
        line for line in out.getvalue().splitlines() if line.strip().startswith("quarantine ")
    ]
    new = read_key_file(new_file)
    assert f"v1  wrapped by {new.id}" in line and ", re-wrapped " in line
    assert "NOT the configured master key" not in line
