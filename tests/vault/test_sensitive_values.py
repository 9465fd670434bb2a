"""Confidential values at rest: ciphertext in the database, plaintext only on reveal and export."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.audit.models import AuditRecord
from relaydesk.retention.actions import do_export_client
from relaydesk.vault.actions import CANNOT_DECRYPT_VALUE, CannotDecrypt
from relaydesk.vault.keys import ENV_MASTER_KEY, write_key_file
from relaydesk.vault.models import ClientDataKey
from relaydesk.work.actions import do_reveal_sensitive
from relaydesk.work.models import SensitiveDetail, WorkItem
from tests.conftest import World, login, submit

IBAN = "DE89370400440532013000"
SSN = "123-45-6789"
PIN = "AB-4471"  # under eight characters: the mask shows none of it
BRAVO_IBAN = "GB82WEST12345698765432"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_master_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The master key comes from the per-test key file (tests/conftest.py), never the shell."""
    monkeypatch.delenv(ENV_MASTER_KEY, raising=False)
    monkeypatch.delenv("RELAYDESK_NEW_MASTER_KEY", raising=False)


def _alpha(world: World, title: str = "Payroll correction") -> WorkItem:
    return submit(
        world.member_a,
        world.engagement_a,
        title=title,
        sensitive=(
            ("bank_account", "IBAN", IBAN),
            ("national_id", "SSN", SSN),
            ("other", "PIN", PIN),
        ),
    )


def _bravo(world: World) -> WorkItem:
    return submit(
        world.member_b,
        world.engagement_b,
        title="Refund",
        sensitive=(("bank_account", "IBAN", BRAVO_IBAN),),
    )


def _table() -> str:
    """Every column of every stored confidential detail, as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM work_sensitivedetail")
        columns = [c[0] for c in cursor.description]
        rows = [
            [bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in r]
            for r in cursor.fetchall()
        ]
    return json.dumps([columns, *rows])


def _api(user) -> HttpClient:
    _, secret = do_create_api_token(user, name="values")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _swap_ciphertext(source: SensitiveDetail, target: SensitiveDetail) -> None:
    """Copy one row's sealed value over another's, as someone with write access to the DB could."""
    SensitiveDetail.objects.filter(pk=target.pk).update(
        ciphertext=bytes(source.ciphertext), nonce=bytes(source.nonce)
    )


def test_the_table_holds_no_plaintext_value_only_the_masks_tail(world: World) -> None:
    _alpha(world)
    _bravo(world)

    table = _table()

    for value in (IBAN, SSN, PIN, BRAVO_IBAN, "370400440532", "AB-4"):
        assert value not in table
    assert '"value"' not in table  # the plaintext column is gone
    assert sorted(SensitiveDetail.objects.values_list("label", "last4")) == [
        ("IBAN", "3000"),
        ("IBAN", "5432"),
        ("PIN", ""),
        ("SSN", "6789"),
    ]
    assert len({bytes(d.nonce) for d in SensitiveDetail.objects.all()}) == 4
    assert set(SensitiveDetail.objects.values_list("key_version", flat=True)) == {1}


def test_reveal_returns_the_values_as_submitted(world: World) -> None:
    item = _alpha(world)

    revealed = do_reveal_sensitive(world.member_a, item)

    assert [(d.label, d.value, d.masked) for d in revealed] == [
        ("IBAN", IBAN, "•••• 3000"),
        ("SSN", SSN, "•••• 6789"),
        ("PIN", PIN, "••••"),
    ]
    assert AuditRecord.objects.filter(action="sensitive.reveal").count() == 1


@pytest.mark.parametrize("where", ["another detail of the item", "another item", "another client"])
def test_a_value_copied_to_another_row_does_not_decrypt(world: World, where: str) -> None:
    item = _alpha(world)
    victim = item.sensitive_details.get(label="SSN")
    source = {
        "another detail of the item": lambda: item.sensitive_details.get(label="IBAN"),
        "another item": lambda: _alpha(world, "Second").sensitive_details.get(label="SSN"),
        "another client": lambda: _bravo(world).sensitive_details.get(),
    }[where]()
    _swap_ciphertext(source, victim)

    with pytest.raises(CannotDecrypt) as refused:
        do_reveal_sensitive(world.member_a, item)

    assert refused.value.status == 409
    assert refused.value.message == CANNOT_DECRYPT_VALUE
    assert "does not decrypt" in refused.value.reason
    failure = AuditRecord.objects.get(action="sensitive.decrypt_failed")
    assert failure.object_id == str(victim.pk) and failure.actor_id == world.member_a.pk
    assert failure.detail["label"] == "SSN" and "does not decrypt" in failure.detail["reason"]
    assert not AuditRecord.objects.filter(action="sensitive.reveal").exists()


def test_a_tampered_value_is_refused_on_the_page_and_in_the_api_without_any_value(
    world: World,
) -> None:
    item = _alpha(world)
    victim = item.sensitive_details.get(label="IBAN")
    altered = bytearray(bytes(victim.ciphertext))
    altered[0] ^= 1
    SensitiveDetail.objects.filter(pk=victim.pk).update(ciphertext=bytes(altered))

    page = login(world.member_a).post(f"/items/{item.pk}/sensitive/")
    answer = _api(world.member_a).post(f"/api/v1/work-items/{item.pk}/sensitive/reveal")

    assert page.status_code == 409
    text = page.content.decode()
    assert "cannot be decrypted; it may have been tampered with" in text
    assert SSN not in text and IBAN not in text
    assert answer.status_code == 409 and answer.json()["detail"] == CANNOT_DECRYPT_VALUE
    assert AuditRecord.objects.filter(action="sensitive.decrypt_failed").count() == 2


def test_pages_and_the_api_show_masks_without_decrypting_anything(world: World, settings) -> None:
    item = _alpha(world)
    # Without the master key nothing can be decrypted: lists and pages must not need it.
    Path(settings.RELAYDESK_MASTER_KEY_FILE).unlink()

    page = login(world.member_a).get(f"/items/{item.pk}/").content.decode()
    portal = login(world.member_a).get("/portal/").content.decode()
    ops = login(world.lead).get(f"/items/{item.pk}/").content.decode()
    api = _api(world.member_a)
    listed = api.get("/api/v1/work-items").json()
    one = api.get(f"/api/v1/work-items/{item.pk}").json()

    for text in (page, portal, ops, json.dumps(listed), json.dumps(one)):
        for value in (IBAN, SSN, PIN):
            assert value not in text
    assert "•••• 3000" in page and "•••• 6789" in ops
    assert [d["masked"] for d in one["sensitive"]] == ["•••• 3000", "•••• 6789", "••••"]
    with pytest.raises(CannotDecrypt, match="cannot be decrypted"):
        do_reveal_sensitive(world.member_a, item)


def test_the_export_holds_the_values_in_full(world: World) -> None:
    _alpha(world)
    _bravo(world)
    out = io.BytesIO()

    result = do_export_client(world.client_admin_a, world.client_a, destination=out)

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        items = [json.loads(line) for line in archive.read("items.jsonl").decode().splitlines()]
    assert [(d["label"], d["value"]) for d in items[0]["confidential_details"]] == [
        ("IBAN", IBAN),
        ("SSN", SSN),
        ("PIN", PIN),
    ]
    assert BRAVO_IBAN not in out.getvalue().decode("latin-1")
    assert result.counts.details == 3 and result.counts.unreadable_details == []


def test_the_export_names_a_value_that_fails_and_keeps_the_others(world: World) -> None:
    item = _alpha(world)
    victim = item.sensitive_details.get(label="SSN")
    _swap_ciphertext(item.sensitive_details.get(label="IBAN"), victim)
    out = io.BytesIO()

    result = do_export_client(world.client_admin_a, world.client_a, destination=out)

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        (record,) = [json.loads(line) for line in archive.read("items.jsonl").decode().splitlines()]
    details = {d["label"]: d for d in record["confidential_details"]}
    assert details["IBAN"]["value"] == IBAN and details["PIN"]["value"] == PIN
    assert details["SSN"]["value"] is None and details["SSN"]["masked"] == "•••• 6789"
    assert details["SSN"]["note"] == CANNOT_DECRYPT_VALUE
    assert result.counts.unreadable_details == [victim.pk]
    export = AuditRecord.objects.get(action="client.export")
    assert export.detail["unreadable_details"] == [victim.pk]


def test_values_still_reveal_after_the_master_key_is_rotated(
    world: World, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    item = _alpha(world)
    before = _table()
    new_file = tmp_path / "new.key"
    write_key_file(new_file, b"\x07" * 32)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("keys", "rotate", "--new-key-file", str(new_file), stdout=io.StringIO())

    assert _table() == before  # values are not re-encrypted: their data key is the same
    assert ClientDataKey.objects.get(client=world.client_a).rewrapped_at is not None
    assert {d.value for d in do_reveal_sensitive(world.member_a, item)} == {IBAN, SSN, PIN}


def test_the_first_value_of_a_client_creates_its_data_key(world: World) -> None:
    assert not ClientDataKey.objects.exists()
    submit(world.member_a, world.engagement_a, title="No details")
    assert not ClientDataKey.objects.exists()  # nothing to encrypt, no key

    _alpha(world)

    assert list(ClientDataKey.objects.values_list("client__slug", "version")) == [("alpha-law", 1)]
    assert AuditRecord.objects.filter(action="vault.data_key.create").count() == 1


def _database_url_for_upgrade() -> tuple[str, Any]:
    """A database of its own for the upgrade test, and how to drop it afterwards."""
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        return "", lambda: None
    import psycopg

    name = f"{settings['NAME']}_upgrade"
    params = {
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "password": settings["PASSWORD"] or None,
    }

    def run(sql: str) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}"')
    run(f'CREATE DATABASE "{name}"')
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    url = f"postgres://{credentials}@{params['host']}:{params['port']}/{name}"
    return url, lambda: run(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.django_db
def test_upgrading_encrypts_values_stored_before_and_going_back_restores_them(
    tmp_path: Path,
) -> None:
    url, drop = _database_url_for_upgrade()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", ENV_MASTER_KEY, "RELAYDESK_MASTER_KEY_FILE")
    }
    env.update(RELAYDESK_VAR_DIR=str(tmp_path / "var"), SECRET_KEY="upgrade-test")
    if url:
        env["DATABASE_URL"] = url
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.vault.encrypt_existing"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        drop()
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    values = {"IBAN": IBAN, "PIN": "4321", "Claim": "CLM-2026-000981"}
    for client in ("alpha", "bravo"):
        for label, value in values.items():
            after = found["after"][f"{client}:{label}"]
            assert after["value"] == value and after["key_version"] == 1
            assert found["restored"][f"{client}:{label}"] == value
    assert found["after"]["alpha:IBAN"]["masked"] == "•••• 3000"
    assert found["after"]["alpha:PIN"]["masked"] == "••••"
    columns, *rows = found["raw"]
    assert "value" not in columns and len(rows) == 6
    assert not any(v in json.dumps(rows) for v in values.values())
    assert found["data_keys_created"] == 2  # one per client, audited
    assert (tmp_path / "var" / "master.key").exists()
