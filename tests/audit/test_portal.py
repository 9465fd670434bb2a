"""Given two clients' trails, a client admin reads and exports only their own."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from relaydesk.audit.actions import record
from relaydesk.audit.chain import record_hash
from relaydesk.audit.models import AuditRecord
from relaydesk.work.actions import do_add_attachment, do_add_comment, do_assign
from tests.conftest import World, login, submit

pytestmark = pytest.mark.django_db


def trails(world: World) -> tuple[str, str]:
    """An item for each client; returns the two items' references."""
    mine = submit(world.member_a, world.engagement_a, title="Alpha batch")
    theirs = submit(world.member_b, world.engagement_b, "customer-support", title="Bravo case")
    return mine.reference, theirs.reference


def body(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def export(browser: HttpClient, query: str = "") -> list[dict[str, str]]:
    response = browser.get("/portal/audit/export.csv" + query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(text)))


def test_client_admin_sees_only_their_clients_records_linked_to_their_items(world: World) -> None:
    mine, theirs = trails(world)
    page = body(login(world.client_admin_a).get("/portal/audit/"))
    assert "work_item.submit" in page  # the code, kept as the filter's value and a tooltip
    assert ">Request submitted</span>" in page  # and what it means, in words
    assert "service: data-entry" not in page and "Service: Data entry" in page
    assert mine in page and f'href="/items/{mine.split("-")[-1]}/"' in page
    assert theirs not in page
    assert world.member_b.email not in page and world.member_a.email in page


def test_members_and_provider_staff_are_refused(world: World) -> None:
    for user in (world.member_a, world.agent, world.admin):
        browser = login(user)
        assert browser.get("/portal/audit/").status_code == 403
        assert browser.get("/portal/audit/export.csv").status_code == 403


def test_the_nav_offers_the_trail_to_client_admins_only(world: World) -> None:
    assert "Audit trail" in body(login(world.client_admin_a).get("/portal/"))
    assert "Audit trail" not in body(login(world.member_a).get("/portal/"))


def test_internal_work_is_left_out_of_the_clients_view(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    do_add_comment(world.agent, item, "Provider-only note", visibility="internal")
    do_add_attachment(
        world.agent,
        item,
        SimpleUploadedFile("notes.txt", b"x", "text/plain"),
        visibility="internal",
    )
    do_add_comment(world.member_a, item, "Visible question")
    rows = export(login(world.client_admin_a))
    actions = [r["action"] for r in rows]
    assert "work_item.assign" not in actions
    assert actions.count("comment.add") == 1  # the client's own, not the internal one
    assert "attachment.add" not in actions
    assert "notes.txt" not in str(rows)


def test_filters_narrow_by_action_person_and_day(world: World) -> None:
    trails(world)
    submit(world.client_admin_a, world.engagement_a, title="By the admin")
    old = dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)
    record(actor=world.member_a, action="work_item.accept", obj=None, client=world.client_a, at=old)
    browser = login(world.client_admin_a)
    by_person = export(browser, f"?person={world.client_admin_a.pk}&action=work_item.submit")
    assert len(by_person) == 1 and by_person[0]["actor_id"] == str(world.client_admin_a.pk)
    # The admin reads in Manila time: 20:00 on 2 January there is 12:00 UTC.
    on_the_day = export(browser, "?date_from=2026-01-02&date_to=2026-01-02")
    assert [r["action"] for r in on_the_day] == ["work_item.accept"]
    page = body(browser.get("/portal/audit/?date_from=2026-01-02&date_to=2026-01-02"))
    assert "2026-01-02 20:00:00" in page


def test_the_export_holds_the_clients_records_and_is_itself_recorded(world: World) -> None:
    trails(world)
    browser = login(world.client_admin_a)
    rows = export(browser)
    ours = AuditRecord.objects.filter(client=world.client_a)
    assert {r["client_id"] for r in rows} == {str(world.client_a.pk)}
    assert [int(r["record"]) for r in rows] == sorted(
        ours.exclude(action="audit.export").values_list("seq", flat=True)
    )
    # Each line carries what its hash covers, so the client can check it on its own.
    row = rows[0]
    fields = {
        "seq": int(row["record"]),
        "at": dt.datetime.fromisoformat(row["at_utc"]),
        "actor_id": int(row["actor_id"]) if row["actor_id"] else None,
        "actor_label": row["actor"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "client_id": int(row["client_id"]),
        "source_ip": row["source_ip"] or None,
        "detail": json.loads(row["detail"]),
        "prev_hash": row["prev_hash"],
    }
    assert record_hash(fields) == row["hash"]
    [exported] = AuditRecord.objects.filter(action="audit.export")
    assert exported.actor == world.client_admin_a and exported.client_id == world.client_a.pk
    assert exported.detail["rows"] == len(rows)


def test_a_formula_in_a_recorded_value_is_defused_in_the_csv(world: World) -> None:
    record(
        actor=None,
        actor_label='=HYPERLINK("http://evil.test")',
        action="auth.login_failed",
        obj=None,
        client=world.client_a,
    )
    [row] = [r for r in export(login(world.client_admin_a)) if r["action"] == "auth.login_failed"]
    assert row["actor"] == '\'=HYPERLINK("http://evil.test")'


def test_the_command_exports_a_client_and_verify_still_passes(world: World) -> None:
    from io import StringIO

    from django.core.management import call_command

    trails(world)
    out = StringIO()
    call_command("audit", "export", "--client", world.client_b.slug, stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows and {r["client_id"] for r in rows} == {str(world.client_b.pk)}
    assert AuditRecord.objects.filter(action="audit.export", client=world.client_b).count() == 1
    verified = StringIO()
    call_command("audit", "verify", stdout=verified)
    assert verified.getvalue().startswith("OK:")
