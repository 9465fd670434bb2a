"""Quarantined mail of no known client is encrypted at rest with the provider's quarantine key,
stays readable through master-key rotation, and the upgrade encrypts what was kept in the clear."""

from __future__ import annotations

import importlib
import shutil
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from relaydesk.audit.models import AuditRecord
from relaydesk.errors import Conflict
from relaydesk.mailintake.actions import (
    do_ingest_message,
    do_retry_quarantined,
    do_save_intake_address,
    raw_message,
)
from relaydesk.mailintake.models import QuarantineDataKey, QuarantinedMessage, QuarantineState
from relaydesk.vault.keys import ENV_MASTER_KEY, read_key_file, write_key_file
from relaydesk.vault.models import ClientDataKey
from tests.conftest import World, login
from tests.mailintake.support import Intake, intake_addresses, message
from tests.mailintake.test_admin import back_office

SECRET = b"4471-CONFIDENTIAL"
migration = importlib.import_module("relaydesk.mailintake.migrations.0002_quarantine_data_key")


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MASTER_KEY, raising=False)
    monkeypatch.delenv("RELAYDESK_NEW_MASTER_KEY", raising=False)


@pytest.fixture
def intake(world: World) -> Intake:
    return intake_addresses(world)


def hold_without_client(name: str = "wrong-address", **replace: str) -> QuarantinedMessage:
    quarantined = do_ingest_message(message(name, **replace)).quarantined
    assert quarantined is not None and quarantined.client is None
    return quarantined


def stored_row(pk: int) -> dict[str, object]:
    """The row as the database holds it, read with plain SQL."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mailintake_quarantinedmessage WHERE id = %s", [pk])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def test_a_held_message_of_no_client_is_stored_only_as_ciphertext(
    world: World, intake: Intake, settings
) -> None:
    quarantined = hold_without_client()

    row = stored_row(quarantined.pk)
    assert row["encryption_id"] and row["key_version"] == 1 and row["provider_key"]
    assert not any(SECRET.decode() in str(value) for value in row.values())
    on_disk = (Path(settings.MEDIA_ROOT) / str(row["raw"])).read_bytes()
    assert on_disk.startswith(b"RDE1") and SECRET not in on_disk
    for clear in (b"member@alpha.test", b"Claims for the PIP team", b"Message-ID"):
        assert clear not in on_disk
    assert raw_message(quarantined) == message("wrong-address")
    # The key is the provider's, kept wrapped by the master key; its creation is recorded.
    key = QuarantineDataKey.objects.get()
    assert key.master_key_id == read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE)).id
    created = AuditRecord.objects.get(action="mail.quarantine_key.create")
    assert created.client_id is None and created.detail == {
        "version": 1,
        "master_key_id": key.master_key_id,
    }


def test_a_file_moved_to_another_held_message_does_not_decrypt(
    world: World, intake: Intake
) -> None:
    first = hold_without_client()
    second = hold_without_client(**{"wrong-10@": "wrong-11@", "4471": "9902"})

    shutil.copyfile(first.raw.path, second.raw.path)

    with pytest.raises(Conflict, match="tampered"):
        raw_message(second)
    assert SECRET in raw_message(first)


def test_the_back_office_shows_it_and_can_release_or_discard_it(
    world: World, intake: Intake, settings, django_capture_on_commit_callbacks
) -> None:
    to_file = hold_without_client()
    spam = hold_without_client(**{"wrong-10@": "wrong-12@", "Claims for": "Cheap pills for"})
    browser = back_office(world)

    listing = browser.get("/admin/mailintake/quarantinedmessage/").content.decode()
    assert "Claims for the PIP team" in listing and "Cheap pills for the PIP team" in listing
    detail = browser.get(f"/admin/mailintake/quarantinedmessage/{to_file.pk}/change/")
    assert "With the provider&#x27;s quarantine key v1 (no client known)" in detail.content.decode()

    # The address the message was sent to is set up; a retry files it.
    intake.alpha.local_part = "nobody-here"
    do_save_intake_address(world.admin, intake.alpha)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(
            "/admin/mailintake/quarantinedmessage/",
            {"action": "retry", "_selected_action": [to_file.pk]},
        )
        browser.post(
            "/admin/mailintake/quarantinedmessage/",
            {"action": "discard", "_selected_action": [spam.pk]},
        )

    to_file.refresh_from_db()
    spam.refresh_from_db()
    assert to_file.state == QuarantineState.RELEASED and not to_file.raw
    assert to_file.item is not None and to_file.item.client == world.client_a
    assert SECRET.decode() in to_file.item.description
    assert spam.state == QuarantineState.DISCARDED and not spam.raw
    assert not list(Path(settings.MEDIA_ROOT, "quarantine", "unassigned").iterdir())
    page = login(world.member_a).get(f"/items/{to_file.item.pk}/")
    assert page.status_code == 200


def test_a_retry_that_finds_the_client_re_encrypts_it_with_the_clients_key(
    world: World, intake: Intake
) -> None:
    raw = message("wrong-address").replace(b"member@alpha.test", b"stranger@else.test")
    quarantined = do_ingest_message(raw).quarantined
    assert quarantined is not None and quarantined.provider_key
    intake.alpha.local_part = "nobody-here"
    do_save_intake_address(world.admin, intake.alpha)

    do_retry_quarantined(world.admin, quarantined)

    quarantined.refresh_from_db()
    assert quarantined.state == QuarantineState.HELD and quarantined.client == world.client_a
    assert not quarantined.provider_key and quarantined.encryption_id is not None
    assert raw_message(quarantined) == raw


def test_key_rotation_rewraps_the_quarantine_key_and_the_message_stays_readable(
    world: World, intake: Intake, settings, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    quarantined = hold_without_client()
    held_by_client = do_ingest_message(message("unknown-sender")).quarantined
    assert held_by_client is not None and held_by_client.client == world.client_a
    old = read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE))
    new_file = tmp_path / "new.key"
    call_command("keys", "new", "--out", str(new_file), stdout=StringIO())
    new = read_key_file(new_file)

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("keys", "rotate", "--new-key-file", str(new_file), stdout=out)

    assert "1 other data key(s)" in out.getvalue()
    key = QuarantineDataKey.objects.get()
    assert key.master_key_id == new.id and key.rewrapped_at is not None
    assert raw_message(quarantined) == message("wrong-address")
    assert raw_message(held_by_client) == message("unknown-sender")
    assert AuditRecord.objects.get(action="vault.keys.rotate").detail["other_data_keys"] == 1
    # The old master key no longer opens it.
    old_file = tmp_path / "old.key"
    write_key_file(old_file, old.key)
    settings.RELAYDESK_MASTER_KEY_FILE = str(old_file)
    with pytest.raises(Conflict, match="key that encrypted this message is not available"):
        raw_message(quarantined)


def test_a_damaged_quarantine_key_stops_the_whole_rotation(
    world: World, intake: Intake, settings, tmp_path: Path
) -> None:
    quarantined = hold_without_client()
    do_ingest_message(message("unknown-sender"))  # client A's data key exists too
    old = read_key_file(Path(settings.RELAYDESK_MASTER_KEY_FILE))
    key = QuarantineDataKey.objects.get()
    wrapped = bytearray(bytes(key.wrapped_key))
    wrapped[-1] ^= 1
    QuarantineDataKey.objects.filter(pk=key.pk).update(wrapped_key=bytes(wrapped))
    new_file = tmp_path / "new.key"
    write_key_file(new_file, b"\x07" * 32)

    with pytest.raises(CommandError, match=r"quarantine data key v1 does not unwrap.*Nothing"):
        call_command("keys", "rotate", "--new-key-file", str(new_file), stdout=StringIO())

    assert set(ClientDataKey.objects.values_list("master_key_id", flat=True)) == {old.id}
    assert QuarantineDataKey.objects.get().master_key_id == old.id
    with pytest.raises(Conflict):
        raw_message(quarantined)


def _store_in_the_clear(raw: bytes) -> QuarantinedMessage:
    """A held message as the earlier version kept it: its bytes as they came."""
    quarantined = QuarantinedMessage(
        reason_code="no_address", reason="No intake address.", sender="member@alpha.test"
    )
    quarantined.raw.save("quarantine/unassigned/earlier", ContentFile(raw), save=False)
    quarantined.save()
    return quarantined


def test_the_upgrade_encrypts_messages_kept_in_the_clear_and_going_back_restores_them(
    world: World, django_capture_on_commit_callbacks
) -> None:
    raw = message("wrong-address")
    earlier = _store_in_the_clear(raw)
    clear_file = Path(earlier.raw.path)
    assert raw_message(earlier) == raw  # still readable before the upgrade
    editor = SimpleNamespace(connection=connection)

    with django_capture_on_commit_callbacks(execute=True):
        migration.encrypt_clear_messages(apps, editor)

    earlier.refresh_from_db()
    assert earlier.provider_key and earlier.encryption_id is not None
    assert not clear_file.exists()
    assert SECRET not in Path(earlier.raw.path).read_bytes()
    assert raw_message(earlier) == raw
    assert AuditRecord.objects.get(action="mail.quarantine.encrypt_stored").detail == {
        "messages": 1
    }

    with django_capture_on_commit_callbacks(execute=True):
        migration.decrypt_provider_messages(apps, editor)

    earlier.refresh_from_db()
    assert earlier.encryption_id is None and not earlier.provider_key
    assert Path(earlier.raw.path).read_bytes() == raw


def test_the_upgrade_needs_no_key_when_nothing_is_kept_in_the_clear(world: World, settings) -> None:
    migration.encrypt_clear_messages(apps, SimpleNamespace(connection=connection))

    assert not QuarantineDataKey.objects.exists()
    assert not Path(settings.RELAYDESK_MASTER_KEY_FILE).exists()
