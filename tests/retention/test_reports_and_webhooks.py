"""Reports and webhooks in the client's data lifecycle.

Given reports and webhook endpoints of clients A and B, when A's data is exported, then
the ZIP holds A's reports (their PDFs decrypted, their items files) and A's endpoints
with their delivery log, never a signing secret and nothing of B. When the purge runs,
reports made longer ago than their engagement's retention lose their PDF and
commentary (the row stays as a tombstone, audited) and finished webhook deliveries
older than the retention are deleted; nothing inside the retention is touched.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Engagement
from relaydesk.errors import Gone
from relaydesk.insights.report_actions import (
    do_create_report,
    do_create_schedule,
    do_set_report_commentary,
    pdf_of,
)
from relaydesk.insights.report_models import Report
from relaydesk.retention.actions import do_export_client, do_purge_expired
from relaydesk.retention.export import SECRETS_LEFT_OUT
from relaydesk.vault.actions import CannotDecrypt
from relaydesk.webhooks.actions import do_create_endpoint, queue_event
from relaydesk.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import World, login, submit
from tests.retention.test_purge import keep_for

pytestmark = pytest.mark.django_db

COMMENTARY = "Volumes doubled after the new intake form 6620."
BRAVO_COMMENTARY = "Bravo's quiet month 8181."


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def _lines(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.decode().splitlines()]


def _report(world: World, engagement: Engagement, *, days_ago: int = 0, **kw: Any) -> Report:
    """A report of the week before, made ``days_ago`` days ago."""
    at = timezone.now() - dt.timedelta(days=days_ago)
    end = at.astimezone(dt.UTC).date()
    return do_create_report(
        world.lead, engagement, start=end - dt.timedelta(days=6), end=end, at=at, **kw
    )


def _endpoint(world: World, engagement: Engagement, url: str) -> tuple[WebhookEndpoint, str]:
    admin = world.client_admin_a if engagement.client_id == world.client_a.pk else None
    return do_create_endpoint(
        admin or world.client_admin_b,
        engagement_id=engagement.pk,
        url=url,
        event_types=["work_item.delivered"],
        description="Case system",
    )


def _delivery(
    endpoint: WebhookEndpoint, *, days_ago: int, state: str = "succeeded", title: str = "x"
) -> WebhookDelivery:
    at = timezone.now() - dt.timedelta(days=days_ago)
    (delivery,) = queue_event(
        endpoint.engagement, "work_item.delivered", {"work_item": {"title": title}}, at=at
    )
    finished = state != "pending"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=state,
        attempts=1 if finished else 0,
        last_attempt_at=at if finished else None,
        next_attempt_at=None if finished else at,
        last_status_code=200 if state == "succeeded" else None,
    )
    delivery.refresh_from_db()
    return delivery


# -- the export ----------------------------------------------------------------------------


def test_the_export_holds_the_reports_and_the_webhooks_but_no_secret_and_nothing_of_b(
    world: World,
) -> None:
    submit(world.member_a, world.engagement_a, title="Alpha claim batch 31")
    report = _report(world, world.engagement_a, commentary=COMMENTARY)
    do_create_schedule(
        world.lead,
        world.engagement_a,
        frequency="weekly",
        recipients=[world.member_a.pk, world.lead.pk],
    )
    endpoint, secret = _endpoint(world, world.engagement_a, "https://hooks.alpha.test/in")
    delivered = _delivery(endpoint, days_ago=1, title="Alpha delivered batch 31")
    bravo_report = _report(world, world.engagement_b, commentary=BRAVO_COMMENTARY)
    bravo_endpoint, bravo_secret = _endpoint(
        world, world.engagement_b, "https://hooks.bravo.test/in"
    )
    _delivery(bravo_endpoint, days_ago=1, title="Bravo delivered 77")
    out = io.BytesIO()

    result = do_export_client(world.client_admin_a, world.client_a, destination=out)

    members = _members(out.getvalue())
    client = json.loads(members["client.json"])
    assert client["format_version"] == 2
    # The report: what it said, the figures it printed, its files decrypted.
    (exported,) = _lines(members["reports.jsonl"])
    assert exported["id"] == report.pk and exported["status"] == "ready"
    assert exported["commentary"] == COMMENTARY
    assert exported["figures"]["headline"] == report.summary["headline"]
    assert exported["period_start"] == str(report.period_start)
    assert exported["created_by"] == "the provider"  # as the pages name the lead to a client
    files = exported["files"]
    assert files["pdf"] == f"reports/{report.pk}-{report.file_stem()}.pdf"
    assert members[files["pdf"]] == pdf_of(report)
    assert files["pdf_sha256"] == report.pdf_sha256
    # Its items are the export's own items, not written again per report.
    assert not [name for name in members if name.endswith(("-items.csv", "-items.xlsx"))]
    titles = [line["title"] for line in _lines(members["items.jsonl"])]
    assert "Alpha claim batch 31" in titles
    (schedule,) = json.loads(members["report_schedules.json"])["schedules"]
    assert schedule["recipients"] == {"to": [world.member_a.email], "provider_recipients": 1}
    # The endpoint and its log, and a sentence saying the secrets are left out.
    webhooks = json.loads(members["webhooks.json"])
    assert webhooks["secrets"] == SECRETS_LEFT_OUT
    (hook,) = webhooks["endpoints"]
    assert hook["url"] == "https://hooks.alpha.test/in" and hook["description"] == "Case system"
    assert not any("secret" in key and key != "secret_rolled_at" for key in hook)
    (log,) = _lines(members["webhook_deliveries.jsonl"])
    assert log["id"] == delivered.pk and log["endpoint_id"] == endpoint.pk
    assert log["payload"]["data"]["work_item"]["title"] == "Alpha delivered batch 31"
    assert log["state"] == "succeeded"
    # No secret anywhere in the file, and nothing of B or of the provider's people.
    everything = b"".join(members.values())
    for leaked in (secret, bravo_secret):
        assert leaked.encode() not in everything
    records = b"".join(
        content for name, content in members.items() if name.endswith((".json", "l", ".csv"))
    )
    assert endpoint.secret_hint.encode() not in records
    for other in (
        BRAVO_COMMENTARY,
        "hooks.bravo.test",
        "Bravo delivered 77",
        world.engagement_b.name,
        world.lead.email,
        world.lead.full_name,
    ):
        assert other.encode() not in records, other
    assert BRAVO_COMMENTARY.encode() not in everything and b"hooks.bravo" not in everything
    assert not any(name.startswith(f"reports/{bravo_report.pk}-") for name in members)
    counts = result.counts
    assert (counts.reports, counts.report_files, counts.schedules) == (1, 1, 1)  # its PDF
    assert (counts.webhook_endpoints, counts.webhook_deliveries) == (1, 1)
    record = AuditRecord.objects.get(action="client.export")
    assert record.detail["reports"] == 1 and record.detail["webhook_deliveries"] == 1


def test_the_portal_page_counts_the_reports_and_webhooks(world: World) -> None:
    _report(world, world.engagement_a)
    endpoint, _ = _endpoint(world, world.engagement_a, "https://hooks.alpha.test/in")
    _delivery(endpoint, days_ago=0)
    text = login(world.client_admin_a).get("/portal/export/").content.decode()
    assert "1 report, one per line" in text
    assert "1 webhook endpoint and 1 delivery" in text
    assert "Signing secrets are left out" in text


def test_a_purged_report_is_exported_without_files(world: World) -> None:
    keep_for(world.engagement_a, 30)
    old = _report(world, world.engagement_a, days_ago=31, commentary=COMMENTARY)
    do_purge_expired()
    out = io.BytesIO()

    result = do_export_client(world.admin, world.client_a, destination=out)

    members = _members(out.getvalue())
    (exported,) = _lines(members["reports.jsonl"])
    assert exported["id"] == old.pk and exported["status"] == "purged"
    assert exported["purged_at"] and exported["commentary"] == ""
    assert exported["files"]["pdf"] is None
    assert "retention" in exported["files"]["note"]
    assert not any(name.startswith("reports/") for name in members)
    assert COMMENTARY.encode() not in b"".join(members.values())
    assert result.counts.purged_reports == 1


# -- the purge -----------------------------------------------------------------------------


def test_a_report_past_retention_loses_its_pdf_and_commentary_and_keeps_a_tombstone(
    world: World,
) -> None:
    keep_for(world.engagement_a, 30)
    old = _report(world, world.engagement_a, days_ago=31, commentary=COMMENTARY)
    name = old.pdf.name
    assert name and default_storage.exists(name)
    figures, digest, size = old.summary, old.pdf_sha256, old.pdf_size

    run = do_purge_expired()

    assert [r.report_id for r in run.reports] == [old.pk]
    assert not default_storage.exists(name), "the stored PDF must be gone"
    old.refresh_from_db()
    assert old.purged_at == run.at and old.pdf.name == "" and old.commentary == ""
    # The tombstone: period, figures, size and digest stay.
    assert (old.summary, old.pdf_sha256, old.pdf_size) == (figures, digest, size)
    assert old.status == "purged"
    with pytest.raises(CannotDecrypt):
        pdf_of(old)
    with pytest.raises(Gone):
        do_set_report_commentary(world.lead, old, "Back again")
    record = AuditRecord.objects.get(action="retention.purge", object_type="Report")
    assert record.object_id == str(old.pk) and record.client_id == world.client_a.pk
    assert record.detail["retention_days"] == 30 and record.detail["bytes"] == size
    assert record.detail["commentary"] is True
    summary = AuditRecord.objects.get(action="retention.purge_run")
    assert summary.detail["reports"] == 1 and summary.detail["report_bytes"] == size

    # Its page and its downloads say so; the API lists it without links.
    browser = login(world.member_a)
    page = browser.get(f"/dashboard/reports/{old.pk}/").content.decode()
    assert "Deleted under the engagement's retention" in page
    assert COMMENTARY not in page and f"/dashboard/reports/{old.pk}/report.pdf" not in page
    for suffix in ("report.pdf", "items.csv", "items.xlsx"):
        gone = browser.get(f"/dashboard/reports/{old.pk}/{suffix}")
        assert gone.status_code == 410
        assert "deleted on" in gone.content.decode()
        assert "You can't open this page" not in gone.content.decode()  # the report's page
    _, secret = do_create_api_token(world.member_a, name="retention")
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    (listed,) = api.get("/api/v1/reports").json()["items"]
    assert listed["status"] == "purged" and listed["purged_at"]
    assert (listed["pdf_url"], listed["csv_url"], listed["xlsx_url"]) == (None, None, None)
    for path in ("pdf", "csv", "xlsx"):
        gone = api.get(f"/api/v1/reports/{old.pk}/{path}")
        assert gone.status_code == 410
        assert gone.json()["detail"] == (
            f"This report was deleted on {run.at:%Y-%m-%d} under the engagement's retention "
            "policy; its PDF and items files are no longer available."
        )
    assert not AuditRecord.objects.filter(action="report.download").exists()
    # A second run changes nothing.
    again = do_purge_expired()
    assert again.reports == [] and again.failed == []
    assert AuditRecord.objects.filter(action="retention.purge").count() == 1


def test_reports_inside_retention_or_without_one_are_untouched(world: World) -> None:
    keep_for(world.engagement_a, 30)
    recent = _report(world, world.engagement_a, days_ago=29, commentary=COMMENTARY)
    forever = _report(world, world.engagement_pip, days_ago=400, commentary=COMMENTARY)
    bravo = _report(world, world.engagement_b, days_ago=400, commentary=BRAVO_COMMENTARY)
    untouched = [recent, forever, bravo]

    def state(report: Report) -> tuple[object, ...]:
        report.refresh_from_db()
        return (report.purged_at, report.pdf.name, report.commentary, report.summary)

    before = [state(r) for r in untouched]

    run = do_purge_expired()

    assert run.reports == []
    assert [state(r) for r in untouched] == before
    for report in untouched:
        assert pdf_of(report).startswith(b"%PDF")
    # Counted from when it was made: two days later the recent one is due.
    later = do_purge_expired(now=timezone.now() + dt.timedelta(days=2))
    assert [r.report_id for r in later.reports] == [recent.pk]


def test_old_webhook_deliveries_are_deleted_and_recent_or_waiting_ones_kept(
    world: World,
) -> None:
    keep_for(world.engagement_a, 10)
    endpoint, _ = _endpoint(world, world.engagement_a, "https://hooks.alpha.test/in")
    old = _delivery(endpoint, days_ago=11)
    given_up = _delivery(endpoint, days_ago=12, state="given_up")
    recent = _delivery(endpoint, days_ago=9)
    waiting = _delivery(endpoint, days_ago=11, state="pending")
    bravo_endpoint, _ = _endpoint(world, world.engagement_b, "https://hooks.bravo.test/in")
    bravo_old = _delivery(bravo_endpoint, days_ago=25)  # B keeps everything: no retention

    preview = do_purge_expired(dry_run=True)
    assert preview.deliveries == 2
    assert WebhookDelivery.objects.count() == 5
    out = io.StringIO()
    call_command("purge", "--dry-run", stdout=out)
    assert (
        f"webhook endpoint {endpoint.pk} Alpha Law · Claims support: 2 delivery record(s)"
        in out.getvalue()
    )

    run = do_purge_expired()

    assert [(d.endpoint_id, d.deliveries) for d in run.delivery_logs] == [(endpoint.pk, 2)]
    remaining = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, waiting.pk, bravo_old.pk}
    assert not {old.pk, given_up.pk} & remaining
    record = AuditRecord.objects.get(action="retention.purge", object_type="WebhookEndpoint")
    assert record.object_id == str(endpoint.pk) and record.client_id == world.client_a.pk
    assert record.detail["deliveries"] == 2 and record.detail["retention_days"] == 10
    summary = AuditRecord.objects.get(action="retention.purge_run")
    assert summary.detail["deliveries"] == 2
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert do_purge_expired().delivery_logs == []


def test_the_command_reports_the_reports_it_deletes(world: World) -> None:
    keep_for(world.engagement_a, 7)
    old = _report(world, world.engagement_a, days_ago=8)
    out = io.StringIO()

    call_command("purge", "-v", "2", stdout=out)

    text = out.getvalue()
    assert f"report {old.pk} Alpha Law · Claims support" in text
    assert "Deleted the PDF of 1 report(s)" in text
    old.refresh_from_db()
    assert old.purged_at is not None
