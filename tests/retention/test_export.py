"""A client's export: all of its data, its files as uploaded, and nothing of anyone else.

Given items of clients A and B (with files, comments, internal notes and
confidential details), when A's data is exported, then the ZIP holds A's items,
files byte-identical to the uploads and the confidential values, and nothing of
B or of the provider's internal notes; only A's admins (and the provider's
admins) may export it, and every export is audited.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from relaydesk.audit.models import AuditRecord
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.retention.actions import do_export_client, do_purge_expired
from relaydesk.work.actions import (
    NewWorkItem,
    do_add_attachment,
    do_add_comment,
    do_submit_work_item,
)
from relaydesk.work.models import WorkItem
from tests.conftest import World, login
from tests.retention.test_purge import IBAN, keep_for, make_item, pdf_bytes

INTERNAL_NOTE = "Internal: client is slow to answer 5521"
INTERNAL_FILE = b"provider working notes 7788"


def _client_item(world: World, content: bytes) -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk,
            service_slug="data-entry",
            title="Alpha claim batch 17",
            description="Forty forms to key.",
            sensitive=(("bank_account", "IBAN", IBAN), ("national_id", "SSN", "123-45-6789")),
        ),
        files=[SimpleUploadedFile("claim form.pdf", content, "application/pdf")],
    )
    do_add_comment(world.member_a, item, "Please start with the oldest forms.")
    do_add_comment(world.lead, item, INTERNAL_NOTE, visibility="internal")
    do_add_attachment(
        world.lead,
        item,
        SimpleUploadedFile("notes.txt", INTERNAL_FILE, "text/plain"),
        visibility="internal",
    )
    return item


def _bravo_item(world: World) -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_b,
        NewWorkItem(
            engagement_id=world.engagement_b.pk,
            service_slug="customer-support",
            title="Bravo refund dispute 404",
            sensitive=(("bank_account", "IBAN", "GB82WEST12345698765432"),),
        ),
        files=[SimpleUploadedFile("bravo.txt", b"Bravo private letter", "text/plain")],
    )
    do_add_comment(world.member_b, item, "Bravo comment 3141")
    return item


def _read(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        members = {name: archive.read(name) for name in archive.namelist()}
    client = json.loads(members.pop("client.json"))
    items = [json.loads(line) for line in members.pop("items.jsonl").decode().splitlines()]
    # Reports and webhooks have their own tests (test_reports_and_webhooks.py).
    files = {name: content for name, content in members.items() if name.startswith("files/")}
    return client, items, files


def test_the_export_of_client_a_holds_its_data_and_files_as_uploaded_and_nothing_of_b(
    world: World,
) -> None:
    upload = pdf_bytes()
    item = _client_item(world, upload)
    bravo = _bravo_item(world)
    out = io.BytesIO()

    result = do_export_client(world.client_admin_a, world.client_a, destination=out)

    data = out.getvalue()
    assert result.size == len(data)
    client, items, files = _read(data)
    assert client["client"]["slug"] == "alpha-law"
    assert {e["name"] for e in client["engagements"]} == {"Claims support", "PIP claims"}
    assert {u["email"] for u in client["users"]} == {"admin@alpha.test", "member@alpha.test"}
    assert not any("password" in key for user in client["users"] for key in user)
    assert [i["reference"] for i in items] == [item.reference]
    exported = items[0]
    assert exported["description"] == "Forty forms to key."
    assert {(d["label"], d["value"]) for d in exported["confidential_details"]} == {
        ("IBAN", IBAN),
        ("SSN", "123-45-6789"),
    }
    assert [c["body"] for c in exported["comments"]] == ["Please start with the oldest forms."]
    assert [e["kind"] for e in exported["timeline"]] == [
        "submitted",
        "attached",
        "queue",
        "commented",
    ]
    # Only the client's file, decrypted, byte for byte.
    attachment = item.attachments.get(original_name="claim_form.pdf")
    path = f"files/{item.reference}/{attachment.pk}-claim_form.pdf"
    assert list(files) == [path]
    assert files[path] == upload
    assert [f["path"] for f in exported["files"]] == [path]
    assert exported["files"][0]["sha256"] == hashlib.sha256(upload).hexdigest()
    # Nothing of B, nothing internal, anywhere in the file.
    everything = json.dumps([client, items]) + "".join(files)
    for secret in (bravo.title, "Bravo comment 3141", "GB82WEST12345698765432", "bravo"):
        assert secret not in everything
    assert INTERNAL_NOTE not in everything and "notes.txt" not in everything
    assert all(INTERNAL_FILE not in content for content in files.values())
    assert b"Bravo private letter" not in data
    record = AuditRecord.objects.get(action="client.export")
    assert record.actor_id == world.client_admin_a.pk and record.client_id == world.client_a.pk
    assert record.detail["bytes"] == len(data)
    assert (record.detail["items"], record.detail["files"], record.detail["details"]) == (1, 1, 2)


def test_purged_files_and_comments_are_listed_without_content(world: World) -> None:
    keep_for(world.engagement_a, 30)
    old = make_item(world, world.engagement_a, title="Old", closed_days_ago=40)
    do_purge_expired()
    out = io.BytesIO()
    result = do_export_client(world.admin, world.client_a, destination=out)
    _, items, files = _read(out.getvalue())
    assert files == {}
    (entry,) = [i for i in items if i["id"] == old.pk]
    assert entry["files"][0]["path"] is None and entry["files"][0]["purged_at"]
    assert entry["confidential_details"] == [] and entry["description"] == ""
    assert result.counts.purged_files == 1
    (comment,) = entry["comments"]  # the client's own; the internal one stays out
    assert comment["body"] == "" and comment["purged_at"] and comment["author"] == "Member"


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        ("member_a", NotAllowed),
        ("client_admin_b", NotFound),
        ("member_b", NotFound),
        ("lead", NotAllowed),
        ("agent", NotAllowed),
    ],
)
def test_only_the_clients_admins_and_provider_admins_may_export(
    world: World, who: str, refusal: type[Exception]
) -> None:
    _client_item(world, pdf_bytes())
    out = io.BytesIO()
    with pytest.raises(refusal):
        do_export_client(getattr(world, who), world.client_a, destination=out)
    assert out.getvalue() == b""
    assert not AuditRecord.objects.filter(action="client.export").exists()


def test_the_portal_page_describes_the_export_and_posting_downloads_it(world: World) -> None:
    upload = pdf_bytes()
    item = _client_item(world, upload)
    _bravo_item(world)
    browser = login(world.client_admin_a)

    page = browser.get("/portal/export/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "1 request," in text and "2 confidential details" in text and "Estimated size" in text
    assert 'href="/portal/export/"' in text  # the navigation link

    download = browser.post("/portal/export/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert (
        "attachment;" in download["Content-Disposition"]
        and "alpha-law" in download["Content-Disposition"]
    )
    data = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert int(download["Content-Length"]) == len(data)
    _, items, files = _read(data)
    assert [i["reference"] for i in items] == [item.reference]
    assert list(files.values()) == [upload]
    record = AuditRecord.objects.get(action="client.export")
    assert record.source_ip == "127.0.0.1" and record.detail["bytes"] == len(data)


@pytest.mark.parametrize("who", ["member_a", "lead", "admin", "agent"])
def test_others_are_turned_away_from_the_portal_export(world: World, who: str) -> None:
    _client_item(world, pdf_bytes())
    browser = login(getattr(world, who))
    for method in ("get", "post"):
        response = getattr(browser, method)("/portal/export/")
        assert response.status_code == 403
        assert response["Content-Type"].startswith("text/html")
    assert not AuditRecord.objects.filter(action="client.export").exists()
    assert AuditRecord.objects.filter(action="permission.denied").count() == 2


def test_client_bs_admin_gets_only_bs_data_from_the_portal(world: World) -> None:
    _client_item(world, pdf_bytes())
    bravo = _bravo_item(world)
    download = login(world.client_admin_b).post("/portal/export/")
    client, items, files = _read(b"".join(download.streaming_content))  # type: ignore[attr-defined]
    assert client["client"]["slug"] == "bravo-retail"
    assert [i["reference"] for i in items] == [bravo.reference]
    assert list(files.values()) == [b"Bravo private letter"]


def test_the_command_writes_a_private_file_and_never_overwrites(
    world: World, tmp_path: Path
) -> None:
    upload = pdf_bytes()
    _client_item(world, upload)
    target = tmp_path / "alpha.zip"
    out = io.StringIO()

    call_command("export_client", "alpha-law", "--out", str(target), stdout=out)

    assert "1 item(s), 1 file(s), 2 confidential detail(s)" in out.getvalue()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    _, _, files = _read(target.read_bytes())
    assert list(files.values()) == [upload]
    record = AuditRecord.objects.get(action="client.export")
    assert record.actor_id is None and record.actor_label == "system"
    with pytest.raises(CommandError, match="exists"):
        call_command("export_client", "alpha-law", "--out", str(target))
    with pytest.raises(CommandError, match="No client"):
        call_command("export_client", "nobody", "--out", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()
