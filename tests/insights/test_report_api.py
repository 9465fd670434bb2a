"""The reports API: the same reports, rules and downloads as the *Reports* pages.

A client's admin makes a report through the API and downloads its PDF and items files
(audited as the pages' downloads are); another client's report is 404 like a missing one;
roles without reports are refused as the pages refuse them; and the figures the API lists
are those the report's page shows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import openpyxl
import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.permissions import Permission
from relaydesk.insights.report_actions import do_create_report, do_create_schedule, pdf_of
from relaydesk.insights.report_models import Report, ReportSchedule
from relaydesk.insights.reports import ITEM_HEADINGS
from tests.conftest import World, login, submit
from tests.core.test_permissions import EXPECTED

pytestmark = pytest.mark.django_db


def _api(user: User) -> HttpClient:
    _, secret = do_create_api_token(user, name="reports")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _period() -> tuple[dt.date, dt.date]:
    today = timezone.now().astimezone(dt.UTC).date()
    return today - dt.timedelta(days=6), today


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def _work(world: World) -> None:
    """Two items of client A's engagement and one of B's, received today."""
    submit(world.member_a, world.engagement_a, title="Alpha claim batch 1")
    submit(world.member_a, world.engagement_a, title="Alpha claim batch 2")
    submit(world.member_b, world.engagement_b, "customer-support", title="Bravo refund 9")


def test_a_client_admin_makes_a_report_through_the_api_and_downloads_it(world: World) -> None:
    _work(world)
    start, end = _period()
    http = _api(world.client_admin_a)

    made = http.post(
        "/api/v1/reports",
        {"engagement_id": world.engagement_a.pk, "start": str(start), "end": str(end)},
        content_type="application/json",
    )

    assert made.status_code == 201, made.content
    shown = made.json()
    report = Report.objects.get()
    assert shown["id"] == report.pk and shown["kind"] == "on_demand"
    assert shown["status"] == "ready" and shown["created_by"] == world.client_admin_a.full_name
    assert (shown["period_start"], shown["period_end"]) == (str(start), str(end))
    assert shown["headline"]["received"] == 2
    assert shown["page_url"] == f"/dashboard/reports/{report.pk}/"
    assert shown["pdf_url"] == f"/api/v1/reports/{report.pk}/pdf"
    assert AuditRecord.objects.filter(action="report.create", object_id=str(report.pk)).exists()

    pdf = http.get(shown["pdf_url"])
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith('attachment; filename="report-claims-support')
    assert pdf["X-Content-Type-Options"] == "nosniff"
    assert pdf["Cache-Control"] == "private, no-store"
    content = _body(pdf)
    assert content == pdf_of(report) and int(pdf["Content-Length"]) == len(content)
    assert content.startswith(b"%PDF") and len(content) == shown["pdf_size"]

    rows = list(csv.reader(io.StringIO(_body(http.get(shown["csv_url"])).decode())))
    assert rows[0] == list(ITEM_HEADINGS)
    assert sorted(r[1] for r in rows[1:]) == ["Alpha claim batch 1", "Alpha claim batch 2"]
    sheet = openpyxl.load_workbook(io.BytesIO(_body(http.get(shown["xlsx_url"])))).active
    assert sheet is not None and sheet.max_row == 3

    # Audited exactly as the pages' downloads: one record per download, with its format.
    downloads = AuditRecord.objects.filter(action="report.download", object_id=str(report.pk))
    assert sorted(r.detail["format"] for r in downloads) == ["csv", "pdf", "xlsx"]
    assert {r.actor_id for r in downloads} == {world.client_admin_a.pk}
    assert {r.source_ip for r in downloads} == {"127.0.0.1"}
    assert {r.client_id for r in downloads} == {world.client_a.pk}
    page = login(world.client_admin_a).get(f"/dashboard/reports/{report.pk}/report.pdf")
    assert _body(page) == content
    assert AuditRecord.objects.filter(action="report.download").count() == 4


def test_another_clients_report_and_schedule_answer_404_as_if_missing(world: World) -> None:
    start, end = _period()
    theirs = do_create_report(
        world.lead, world.engagement_b, start=start, end=end, commentary="Bravo note 4411"
    )
    schedule = do_create_schedule(
        world.client_admin_b, world.engagement_b, frequency="weekly", recipients=[world.member_b.pk]
    )
    for user in (world.client_admin_a, world.member_a):
        http = _api(user)
        for path in ("", "/pdf", "/csv", "/xlsx"):
            found = http.get(f"/api/v1/reports/{theirs.pk}{path}")
            missing = http.get(f"/api/v1/reports/999999{path}")
            assert found.status_code == missing.status_code == 404
            assert found.json() == {"detail": f"No report {theirs.pk}."}
        assert http.get(f"/api/v1/report-schedules/{schedule.pk}").status_code == 404
        changed = http.patch(
            f"/api/v1/report-schedules/{schedule.pk}",
            {"active": False},
            content_type="application/json",
        )
        assert changed.status_code == 404
        listed = http.get("/api/v1/reports")
        assert listed.status_code == 200 and listed.json() == {"count": 0, "items": []}
        assert "Bravo" not in listed.content.decode()
        assert http.get("/api/v1/report-schedules").json() == []
        refused = http.get(f"/api/v1/reports?engagement_id={world.engagement_b.pk}")
        assert refused.status_code == 404
    # Nothing was downloaded or changed.
    assert not AuditRecord.objects.filter(action="report.download").exists()
    assert ReportSchedule.objects.get().active


def test_people_without_reports_are_refused_as_the_pages_refuse_them(world: World) -> None:
    start, end = _period()
    mine = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    schedule = do_create_schedule(
        world.lead, world.engagement_a, frequency="weekly", recipients=[world.member_a.pk]
    )
    for user in (world.agent, world.qa):
        http = _api(user)
        listed = http.get("/api/v1/reports")
        assert listed.status_code == 403
        assert listed.json() == {"detail": "Your role does not see reports."}
        assert login(user).get("/dashboard/reports/").status_code == 403
        assert http.get(f"/api/v1/reports/{mine.pk}").status_code == 404
        assert http.get(f"/api/v1/reports/{mine.pk}/pdf").status_code == 404
        assert login(user).get(f"/dashboard/reports/{mine.pk}/").status_code == 404
    # A client's member reads reports but does not make or schedule them.
    member = _api(world.member_a)
    assert member.get(f"/api/v1/reports/{mine.pk}").status_code == 200
    made = member.post(
        "/api/v1/reports",
        {"engagement_id": world.engagement_a.pk, "start": str(start), "end": str(end)},
        content_type="application/json",
    )
    assert made.status_code == 403
    assert made.json() == {"detail": "Your role does not make reports."}
    paused = member.patch(
        f"/api/v1/report-schedules/{schedule.pk}",
        {"active": False},
        content_type="application/json",
    )
    assert paused.status_code == 403
    assert Report.objects.count() == 1 and ReportSchedule.objects.get().active


def _kpis(html: str) -> list[str]:
    return [
        " ".join(v.split())
        for v in re.findall(r'<span class="kpi-value">(.*?)</span>', html, flags=re.S)
    ]


def test_the_figures_the_api_lists_are_those_the_page_shows(world: World) -> None:
    _work(world)
    start, end = _period()
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    older = do_create_report(
        world.lead,
        world.engagement_a,
        start=start,
        end=end - dt.timedelta(days=1),
        at=timezone.now() - dt.timedelta(hours=1),
    )

    listed = (
        _api(world.member_a).get(f"/api/v1/reports?engagement_id={world.engagement_a.pk}").json()
    )

    assert listed["count"] == 2
    assert [r["id"] for r in listed["items"]] == [report.pk, older.pk]  # newest first, as listed
    shown = listed["items"][0]
    # A client's people are not told who at the provider made it, on the page or here.
    assert shown["created_by"] == "the provider"
    page = login(world.member_a).get(f"/dashboard/reports/{report.pk}/").content.decode()
    headline = shown["headline"]

    def one_decimal(value: Any) -> str:
        return "–" if value is None else f"{float(value):.1f}"

    figures = [
        str(headline["received"]),
        str(headline["delivered"]),
        str(headline["backlog"]),
        str(headline["in_rework"]),
        "–"
        if headline["sla_attainment_percent"] is None
        else f"{one_decimal(headline['sla_attainment_percent'])} %",
        one_decimal(headline["quality_score"]),
        "–"
        if headline["mean_turnaround_hours"] is None
        else f"{one_decimal(headline['mean_turnaround_hours'])} h",
    ]
    assert _kpis(page)[:7] == figures
    assert headline["received"] == 2
    # The detail holds every chart the page draws, with the same series.
    detail = _api(world.member_a).get(f"/api/v1/reports/{report.pk}").json()
    assert [c["key"] for c in detail["charts"]] == [c["key"] for c in report.summary["charts"]]
    for chart in detail["charts"]:
        assert f'id="{chart["key"]}"' in page
    # The period as the list page writes it, and the time it was made.
    listing = login(world.member_a).get("/dashboard/reports/").content.decode()
    assert f"{start:%-d %b %Y} – {end:%-d %b %Y}" in listing
    made = dt.datetime.fromisoformat(shown["created_at"])  # JSON keeps milliseconds
    assert abs(made - report.created_at) < dt.timedelta(milliseconds=1)
    assert shown["status"] == "ready" and shown["kind"] == "on_demand"


# -- every operation for every role, against the permission matrix -------------------------


@pytest.mark.parametrize(
    "who",
    [
        "provider_admin",
        "ops_lead",
        "agent",
        "qa_reviewer",
        "supervising_attorney",
        "client_admin_a",
        "client_member_a",
        "client_admin_b",
        "client_member_b",
    ],
)
def test_every_reports_operation_follows_the_permission_matrix(world: World, who: str) -> None:
    user = world.users()[who]
    start, end = _period()
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    schedule = do_create_schedule(
        world.lead, world.engagement_a, frequency="weekly", recipients=[world.member_a.pk]
    )
    views = user.role_enum in EXPECTED[Permission.VIEW_REPORTS]
    manages = user.role_enum in EXPECTED[Permission.MANAGE_REPORTS]
    sees_a = views and (user.client_id is None or user.client_id == world.client_a.pk)
    http = _api(user)

    read_one = 200 if sees_a else 404
    # Each operation (as the schema names it) and the answer the matrix calls for.
    expected = {
        ("get", "/reports"): 200 if views else 403,
        ("post", "/reports"): 403 if not manages else 201 if sees_a else 404,
        ("get", "/reports/{report_id}"): read_one,
        ("get", "/reports/{report_id}/pdf"): read_one,
        ("get", "/reports/{report_id}/csv"): read_one,
        ("get", "/reports/{report_id}/xlsx"): read_one,
        ("get", "/report-schedules"): 200 if views else 403,
        ("post", "/report-schedules"): 403 if not manages else 201 if sees_a else 404,
        ("get", "/report-schedules/{schedule_id}"): read_one,
        ("patch", "/report-schedules/{schedule_id}"): (
            404 if not sees_a else 200 if manages else 403
        ),
    }
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("post", "/reports"): {
            "engagement_id": world.engagement_a.pk,
            "start": str(start),
            "end": str(end),
        },
        ("post", "/report-schedules"): {
            "engagement_id": world.engagement_a.pk,
            "frequency": "monthly",
            "recipients": [world.member_a.pk],
        },
        ("patch", "/report-schedules/{schedule_id}"): {"attach_csv": True},
    }
    answered = {}
    for method, template in expected:
        path = "/api/v1" + template.format(report_id=report.pk, schedule_id=schedule.pk)
        body = bodies.get((method, template))
        if body is None:
            response = getattr(http, method)(path)
        else:
            response = getattr(http, method)(path, body, content_type="application/json")
        answered[(method, template)] = response.status_code
    assert answered == expected
    # Every reports operation of the schema is in this table.
    from relaydesk.config.api import api

    ours = {
        (method, path.removeprefix("/api/v1"))
        for path, operations in api.get_openapi_schema()["paths"].items()
        for method in operations
        if path.startswith(("/api/v1/reports", "/api/v1/report-schedules"))
    }
    assert ours == set(expected)


def test_a_change_to_a_schedule_keeps_what_it_leaves_out(world: World) -> None:
    schedule = do_create_schedule(
        world.lead,
        world.engagement_a,
        frequency="weekly",
        recipients=[world.member_a.pk, world.client_admin_a.pk],
        attach_csv=True,
    )
    http = _api(world.lead)
    paused = http.patch(
        f"/api/v1/report-schedules/{schedule.pk}",
        {"active": False},
        content_type="application/json",
    )
    assert paused.status_code == 200, paused.content
    schedule.refresh_from_db()
    assert (schedule.active, schedule.attach_csv, schedule.attach_xlsx) == (False, True, False)
    assert set(schedule.recipients.values_list("pk", flat=True)) == {
        world.member_a.pk,
        world.client_admin_a.pk,
    }
    # A second change, made from the first's answer without its "active", keeps it paused.
    xlsx = http.patch(
        f"/api/v1/report-schedules/{schedule.pk}",
        {"attach_xlsx": True},
        content_type="application/json",
    )
    assert xlsx.status_code == 200
    assert (xlsx.json()["active"], xlsx.json()["attach_xlsx"], xlsx.json()["attach_csv"]) == (
        False,
        True,
        True,
    )
