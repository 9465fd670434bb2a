"""Engagement reports: the PDF prints the dashboard's own figures, the items files list the
period's items, schedules e-mail each period once, and a client sees only its own."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
import zoneinfo
from decimal import Decimal
from urllib import request as urllib_request

import openpyxl
import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.insights.actions import do_propose_objective
from relaydesk.insights.charts import Chart, Series
from relaydesk.insights.queries import client_dashboard
from relaydesk.insights.report_actions import (
    do_create_report,
    do_create_schedule,
    do_run_due_reports,
    do_set_report_commentary,
    do_set_schedule_commentary,
    do_update_schedule,
    due_period,
    pdf_of,
)
from relaydesk.insights.report_models import Report, ReportSchedule
from relaydesk.insights.reports import (
    ITEM_HEADINGS,
    charts_of,
    render_pdf,
    report_html,
)
from relaydesk.insights.svg import chart_svg
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, login

pytestmark = pytest.mark.django_db
UTC = dt.UTC
H = dt.timedelta(hours=1)


def _today() -> dt.date:
    return timezone.now().astimezone(UTC).date()


def _noon(days_ago: int) -> dt.datetime:
    return dt.datetime.combine(_today() - dt.timedelta(days=days_ago), dt.time(12), tzinfo=UTC)


def _received(world: World, at: dt.datetime, title: str, **fields: object) -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk,
            service_slug="data-entry",
            title=title,
            **fields,  # type: ignore[arg-type]
        ),
        at=at,
    )
    return item


def _deliver(world: World, item: WorkItem, at: dt.datetime) -> None:
    do_assign(world.lead, item, world.agent.agent, at=item.created_at + dt.timedelta(minutes=1))
    do_transition(world.agent, item, Action.START, at=item.created_at + dt.timedelta(minutes=2))
    do_transition(world.agent, item, Action.COMPLETE, at=at)


@pytest.fixture
def week(world: World) -> dict[str, WorkItem]:
    """Client A's last days: three received 4 days ago (two delivered, after 4 h and 26 h),
    one cancelled; an old one still open; client B one received and delivered."""
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    first = _received(world, _noon(4) - 2 * H, "First claim batch", jurisdiction="US-FL")
    second = _received(world, _noon(4), '=HYPERLINK("http://x.test")')
    third = _received(world, _noon(4) + H, "Third batch")
    old = _received(world, _noon(20), "Old batch")
    _deliver(world, first, _noon(4) + 2 * H)
    _deliver(world, second, _noon(3) + 2 * H)
    do_transition(world.member_a, third, Action.CANCEL, at=_noon(2))
    theirs, _ = do_submit_work_item(
        world.member_b,
        NewWorkItem(
            engagement_id=world.engagement_b.pk,
            service_slug="data-entry",
            title="Bravo secret batch",
        ),
        at=_noon(3),
    )
    do_propose_objective(world.lead, world.engagement_a, metric="backlog_ceiling", target=5)
    return {"first": first, "second": second, "third": third, "old": old, "theirs": theirs}


def _body(response: object) -> bytes:
    """A download's bytes: the files are streamed."""
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def _period() -> tuple[dt.date, dt.date]:
    return _today() - dt.timedelta(days=5), _today()


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _cell(value: float | int | None, unit: str) -> str:
    """A chart table's cell as the dashboard's table writes it."""
    if value is None:
        return "–"
    return f"{value} %" if unit == "%" else str(value)


def _kpis(html: str) -> list[str]:
    return [
        " ".join(v.split())
        for v in re.findall(r'<span class="kpi-value">(.*?)</span>', html, flags=re.S)
    ]


def test_the_pdf_prints_the_dashboards_figures_to_the_digit(world: World, week: dict) -> None:
    start, end = _period()
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    figures = client_dashboard(
        world.client_admin_a, start=start, end=end, engagement_id=world.engagement_a.pk
    )

    # The kept figures are the dashboard's, chart by chart, and the PDF draws those.
    assert [c.key for c in charts_of(report.summary)] == [c.key for c in figures.charts]
    for kept, shown in zip(charts_of(report.summary), figures.charts, strict=True):
        assert list(kept.labels) == list(shown.labels)
        assert [list(s.values) for s in kept.series] == [list(s.values) for s in shown.series]
    assert report.summary["headline"]["received"] == figures.received == 3
    assert report.summary["headline"]["delivered"] == figures.delivered == 2
    assert report.summary["headline"]["mean_turnaround"] == str(figures.mean_turnaround)

    pdf = pdf_of(report)
    assert pdf.startswith(b"%PDF")
    text = " ".join(_pdf_text(pdf).split())
    # Every headline figure as the dashboard page writes it.
    page = login(world.client_admin_a).get(
        f"/dashboard/?start={start}&end={end}&engagement={world.engagement_a.pk}"
    )
    assert page.status_code == 200
    kpis = _kpis(page.content.decode())
    assert kpis[:3] == ["3", "2", "1"] and "15.0 h" in kpis
    for value in kpis:
        assert value in text, f"the PDF does not print the dashboard's {value!r}"
    # Every row of every chart's table: its label, then its values in order.
    for chart in figures.charts:
        if chart.is_empty:  # no cost in this engagement: said, not tabled
            assert "Nothing in this period." in text
            continue
        for label, values in chart.rows():
            cells = r"\s+".join(re.escape(_cell(v, chart.unit)) for v in values)
            assert re.search(re.escape(label) + r"\s+" + cells, text), (chart.key, label)
    # The objective as it stood at the end of the period, the engagement and the period.
    assert "Backlog" in text and "at most 5" in text
    assert world.engagement_a.name in text and world.client_a.name in text
    assert f"{start:%-d %B %Y}" in text


def test_the_pdf_is_stored_encrypted_and_a_changed_file_is_refused(
    world: World, week: dict
) -> None:
    start, end = _period()
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    with report.pdf.open("rb") as stored:
        raw = stored.read()
    assert not raw.startswith(b"%PDF")
    assert world.engagement_a.name.encode() not in raw and b"Claims" not in raw
    assert report.pdf_size == len(pdf_of(report))

    browser = login(world.client_admin_a)
    download = browser.get(f"/dashboard/reports/{report.pk}/report.pdf")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith('attachment; filename="report-claims')
    assert _body(download).startswith(b"%PDF")
    assert AuditRecord.objects.filter(action="report.download", object_id=str(report.pk)).exists()

    tampered = bytearray(raw)
    tampered[-20] ^= 0xFF
    with open(report.pdf.path, "wb") as stored_file:
        stored_file.write(bytes(tampered))
    refused = browser.get(f"/dashboard/reports/{report.pk}/report.pdf")
    assert refused.status_code == 409
    assert "cannot be decrypted" in refused.content.decode()
    assert "You can't open this page" not in refused.content.decode()  # the report's page
    assert AuditRecord.objects.filter(action="report.decrypt_failed").count() == 1


def test_the_leads_commentary_is_printed_and_the_figures_stay_as_kept(
    world: World, week: dict
) -> None:
    start, end = _period()
    report = do_create_report(
        world.lead,
        world.engagement_a,
        start=start,
        end=end,
        commentary="Volumes doubled after the new intake form.",
    )
    assert "Volumes doubled after the new intake form." in _pdf_text(pdf_of(report))
    kept = report.summary
    # More work arrives; the kept report still says what it said.
    _received(world, _noon(1), "Late batch")
    changed = do_set_report_commentary(
        world.lead, report, "Two agents joined in Manila.\nTurnaround should fall."
    )
    assert changed.summary == kept and changed.summary["headline"]["received"] == 3
    html = report_html(changed.summary, commentary=changed.commentary)
    assert "Two agents joined in Manila." in html
    text = _pdf_text(pdf_of(changed))
    assert "Two agents joined in Manila." in text and "Volumes doubled" not in text

    # Only the provider's leads write it: a client's admin is refused, nothing changes.
    with pytest.raises(NotAllowed):
        do_set_report_commentary(world.client_admin_a, report, "Ours")
    refused = login(world.client_admin_a).post(
        f"/dashboard/reports/{report.pk}/commentary/", {"commentary": "Ours"}
    )
    assert refused.status_code == 403
    with pytest.raises(Conflict):
        do_set_report_commentary(
            world.lead, report, "Two agents joined in Manila.\nTurnaround should fall."
        )
    page = login(world.lead).post(
        f"/dashboard/reports/{report.pk}/commentary/", {"commentary": "x" * 5001}
    )
    assert page.status_code == 400
    report.refresh_from_db()
    assert report.commentary.startswith("Two agents")


def test_the_items_files_list_the_periods_items_and_nothing_internal(
    world: World, week: dict
) -> None:
    start, end = _period()
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    browser = login(world.member_a)
    response = browser.get(f"/dashboard/reports/{report.pk}/items.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = _body(response).decode()
    rows = list(csv.reader(io.StringIO(body)))
    first, second, third = week["first"], week["second"], week["third"]
    assert rows[0] == list(ITEM_HEADINGS)
    assert rows[1:] == [
        [
            first.reference,
            "First claim batch",
            "Data entry",
            "US-FL",
            "Normal",
            "Delivered",
            (_noon(4) - 2 * H).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (_noon(4) + 2 * H).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "4.0",
        ],
        [
            second.reference,
            '\'=HYPERLINK("http://x.test")',  # never a formula
            "Data entry",
            "",
            "Normal",
            "Delivered",
            _noon(4).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (_noon(3) + 2 * H).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "26.0",
        ],
        [
            third.reference,
            "Third batch",
            "Data entry",
            "",
            "Normal",
            "Cancelled",
            (_noon(4) + H).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "",
            "",
        ],
    ]
    # The old item was neither received nor delivered in the period; no agent is named.
    assert "Old batch" not in body and world.agent.full_name not in body

    xlsx = browser.get(f"/dashboard/reports/{report.pk}/items.xlsx")
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(_body(xlsx))).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == list(ITEM_HEADINGS)
    assert [row[0] for row in cells[1:]] == [first.reference, second.reference, third.reference]
    assert cells[1][8] == 4.0 and cells[2][8] == 26.0 and cells[3][8] in (None, "")
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert world.agent.full_name not in str(cells)
    downloads = AuditRecord.objects.filter(action="report.download", object_id=str(report.pk))
    assert sorted(r.detail["format"] for r in downloads) == ["csv", "xlsx"]


def _monday_after(day: dt.date) -> dt.datetime:
    monday = day + dt.timedelta(days=7 - day.weekday())
    return dt.datetime.combine(monday, dt.time(6), tzinfo=UTC)


def test_a_schedule_sends_each_period_once_with_the_pdf_attached(
    world: World, week: dict, settings
) -> None:
    settings.RELAYDESK_BASE_URL = "https://relaydesk.example"
    schedule = do_create_schedule(
        world.client_admin_a,
        world.engagement_a,
        frequency="weekly",
        recipients=[world.client_admin_a.pk, world.member_a.pk],
        attach_xlsx=True,
    )
    do_set_schedule_commentary(world.lead, schedule, "A calm week.")
    monday = _monday_after(_today())

    run = do_run_due_reports(at=monday)
    assert (run.built, run.sent, run.failed) == (1, 1, 0)
    report = Report.objects.get(schedule=schedule)
    start, end = due_period("weekly", monday)
    assert (report.period_start, report.period_end) == (start, end)
    assert end - start == dt.timedelta(days=6) and start.weekday() == 0
    assert report.kind == "scheduled" and report.created_by is None
    assert report.commentary == "A calm week." and report.sent_at is not None
    assert sorted(report.recipients) == sorted([world.client_admin_a.email, world.member_a.email])
    schedule.refresh_from_db()
    assert schedule.next_commentary == ""

    # One e-mail per person, so nobody sees the others' addresses.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(report.recipients)
    for message in mail.outbox:
        assert len(message.to) == 1
        names = [a[0] for a in message.attachments]
        assert names[0].endswith(".pdf") and names[1].endswith("-items.xlsx")
        assert message.attachments[0][1].startswith(b"%PDF")
        assert "A calm week." in _pdf_text(message.attachments[0][1])
        assert f"https://relaydesk.example/dashboard/reports/{report.pk}/items.csv" in message.body
        assert world.engagement_a.name in message.subject

    # The same period is never sent again, however often the sweep runs.
    for later in (monday, monday + H, monday + dt.timedelta(days=3)):
        assert do_run_due_reports(at=later) == type(run)(0, 0, 0)
    assert len(mail.outbox) == 2 and Report.objects.filter(schedule=schedule).count() == 1

    # The next Monday brings the next week's report; a paused schedule sends nothing.
    nxt = do_run_due_reports(at=monday + dt.timedelta(days=7))
    assert (nxt.built, nxt.sent) == (1, 1) and len(mail.outbox) == 4
    do_update_schedule(
        world.client_admin_a,
        schedule,
        recipients=[world.member_a.pk],
        attach_xlsx=False,
        attach_csv=False,
        active=False,
    )
    assert do_run_due_reports(at=monday + dt.timedelta(days=14)).built == 0
    assert len(mail.outbox) == 4


def test_a_failed_email_is_tried_again_without_sending_twice(
    world: World, week: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    do_create_schedule(
        world.lead,
        world.engagement_a,
        frequency="monthly",
        recipients=[world.client_admin_a.pk, world.lead.pk],
    )
    first_of_month = (_today().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    at = dt.datetime.combine(first_of_month, dt.time(7), tzinfo=UTC)
    from django.core.mail import EmailMessage

    original = EmailMessage.send

    def flaky(message: EmailMessage, fail_silently: bool = False) -> int:
        if message.to == [world.lead.email]:
            raise OSError("mail server down")
        return original(message, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", flaky)
    run = do_run_due_reports(at=at)
    assert (run.built, run.sent, run.failed) == (1, 0, 1)
    report = Report.objects.get()
    assert report.sent_at is None and report.recipients == [world.client_admin_a.email]
    start, end = due_period("monthly", at)
    assert start.day == 1 and (end + dt.timedelta(days=1)).day == 1
    assert (report.period_start, report.period_end) == (start, end)

    monkeypatch.setattr(EmailMessage, "send", original)
    again = do_run_due_reports(at=at + H)
    assert (again.built, again.sent) == (0, 1)
    assert [m.to for m in mail.outbox] == [[world.client_admin_a.email], [world.lead.email]]
    assert do_run_due_reports(at=at + 2 * H).sent == 0 and len(mail.outbox) == 2


def test_a_client_never_sees_another_clients_reports(world: World, week: dict) -> None:
    start, end = _period()
    theirs = do_create_report(world.lead, world.engagement_b, start=start, end=end)
    schedule = do_create_schedule(
        world.client_admin_b,
        world.engagement_b,
        frequency="weekly",
        recipients=[world.member_b.pk],
    )
    mine = do_create_report(world.client_admin_a, world.engagement_a, start=start, end=end)
    for user in (world.client_admin_a, world.member_a):
        browser = login(user)
        listed = browser.get("/dashboard/reports/")
        assert listed.status_code == 200
        html = listed.content.decode()
        assert f"/dashboard/reports/{mine.pk}/" in html
        assert f"/dashboard/reports/{theirs.pk}/" not in html
        assert world.engagement_b.name not in html
        for suffix in ("", "report.pdf", "items.csv", "items.xlsx"):
            assert browser.get(f"/dashboard/reports/{theirs.pk}/{suffix}").status_code == 404
        assert browser.get(f"/dashboard/reports/schedules/{schedule.pk}/").status_code == 404
    with pytest.raises(NotFound):
        do_set_report_commentary(world.lead, 999_999, "x")
    with pytest.raises(NotFound):
        do_update_schedule(
            world.client_admin_a,
            schedule,
            recipients=[world.member_a.pk],
            attach_xlsx=False,
            attach_csv=False,
            active=False,
        )
    with pytest.raises(NotFound):
        do_create_report(world.client_admin_a, world.engagement_b, start=start, end=end)
    # Agents and reviewers have no reports at all.
    for user in (world.agent, world.qa):
        browser = login(user)
        assert browser.get("/dashboard/reports/").status_code == 403
        assert browser.get(f"/dashboard/reports/{mine.pk}/").status_code == 404
    # A client's member reads reports but does not make them.
    member = login(world.member_a)
    assert member.get(f"/dashboard/reports/{mine.pk}/").status_code == 200
    made = member.post(
        "/dashboard/reports/new/",
        {"engagement": world.engagement_a.pk, "start": start, "end": end},
    )
    assert made.status_code == 403


def test_bad_input_gives_clear_errors_and_stores_nothing(world: World, week: dict) -> None:
    browser = login(world.client_admin_a)
    reversed_period = browser.post(
        "/dashboard/reports/new/",
        {"engagement": world.engagement_a.pk, "start": "2026-05-10", "end": "2026-05-01"},
    )
    assert reversed_period.status_code == 400
    assert "The period ends before it starts" in reversed_period.content.decode()
    theirs = browser.post(
        "/dashboard/reports/new/",
        {"engagement": world.engagement_b.pk, "start": "2026-05-01", "end": "2026-05-10"},
    )
    assert theirs.status_code == 400
    assert "Select a valid choice" in theirs.content.decode()
    future = _today() + dt.timedelta(days=3)
    ahead = browser.post(
        "/dashboard/reports/new/",
        {"engagement": world.engagement_a.pk, "start": _today(), "end": future},
    )
    assert ahead.status_code == 400
    assert "covers days that have begun" in ahead.content.decode()
    with pytest.raises(Invalid, match="ends before it starts"):
        do_create_report(
            world.lead, world.engagement_a, start=dt.date(2026, 5, 10), end=dt.date(2026, 5, 1)
        )
    with pytest.raises(Invalid, match="at most three years"):
        do_create_report(
            world.lead, world.engagement_a, start=dt.date(2020, 1, 1), end=dt.date(2024, 1, 1)
        )
    with pytest.raises(NotAllowed, match="delivery lead"):
        do_create_report(
            world.client_admin_a,
            world.engagement_a,
            start=_today(),
            end=_today(),
            commentary="Ours",
        )
    # Recipients come from those who may see the engagement's reports.
    with pytest.raises(Invalid, match="among the people"):
        do_create_schedule(
            world.client_admin_a,
            world.engagement_a,
            frequency="weekly",
            recipients=[world.member_b.pk],
        )
    with pytest.raises(Invalid, match="among the people"):
        do_create_schedule(
            world.lead, world.engagement_a, frequency="weekly", recipients=[world.agent.pk]
        )
    with pytest.raises(Invalid, match="at least one"):
        do_create_schedule(world.lead, world.engagement_a, frequency="weekly", recipients=[])
    with pytest.raises(Invalid, match="weekly or monthly"):
        do_create_schedule(
            world.lead, world.engagement_a, frequency="daily", recipients=[world.lead.pk]
        )
    page = browser.post(
        f"/dashboard/reports/schedules/new/?engagement={world.engagement_a.pk}",
        {"frequency": "weekly", "recipients": [world.member_b.pk]},
    )
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
    do_create_schedule(
        world.lead, world.engagement_a, frequency="weekly", recipients=[world.lead.pk]
    )
    with pytest.raises(Conflict, match="already sends a weekly report"):
        do_create_schedule(
            world.lead, world.engagement_a, frequency="weekly", recipients=[world.lead.pk]
        )
    assert Report.objects.count() == 0 and ReportSchedule.objects.count() == 1


def test_the_pages_make_a_report_and_keep_it_newest_first(world: World, week: dict) -> None:
    start, end = _period()
    browser = login(world.lead)
    assert "Create report" in browser.get("/dashboard/reports/").content.decode()
    made = browser.post(
        "/dashboard/reports/new/",
        {
            "engagement": world.engagement_a.pk,
            "start": start,
            "end": end,
            "commentary": "First look.",
        },
    )
    assert made.status_code == 302
    report = Report.objects.get()
    assert made["Location"] == f"/dashboard/reports/{report.pk}/"
    page = browser.get(made["Location"]).content.decode()
    assert "First look." in page and 'class="chart-svg"' in page
    older = do_create_report(
        world.lead, world.engagement_a, start=start, end=end, at=timezone.now() - H
    )
    html = browser.get("/dashboard/reports/").content.decode()
    assert html.index(f"/dashboard/reports/{report.pk}/") < html.index(
        f"/dashboard/reports/{older.pk}/"
    )
    # Times in the viewer's zone (Manila, UTC+8).
    made_at = report.created_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert f"{made_at:%H:%M}" in html
    # A client's people are not told who at the provider made it.
    seen = login(world.client_admin_a).get("/dashboard/reports/").content.decode()
    assert "by the provider" in seen and world.lead.email not in seen
    detail = login(world.member_a).get(f"/dashboard/reports/{report.pk}/").content.decode()
    assert "First look." in detail and "your delivery lead" in detail
    # The dashboard links to the reports.
    assert 'href="/dashboard/reports/"' in browser.get("/dashboard/").content.decode()
    # A client's admin schedules one through the pages, choosing among their own people.
    admin = login(world.client_admin_a)
    form = admin.get(f"/dashboard/reports/schedules/new/?engagement={world.engagement_a.pk}")
    assert world.member_a.email in form.content.decode()
    assert world.lead.email not in form.content.decode()
    saved = admin.post(
        f"/dashboard/reports/schedules/new/?engagement={world.engagement_a.pk}",
        {"frequency": "monthly", "recipients": [world.member_a.pk], "attach_csv": "on"},
    )
    assert saved.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.attach_csv and list(schedule.recipients.all()) == [world.member_a]


def _svg(chart: Chart) -> ET.Element:
    return ET.fromstring(chart_svg(chart))


NS = "{http://www.w3.org/2000/svg}"


def test_each_kind_of_chart_draws_as_svg_from_its_figures() -> None:
    days = ["2026-11-01", "2026-11-02", "2026-11-03"]
    bars = Chart(
        "v", "Volume <b>", "bar", days, [Series("In", [1, 2, None]), Series("Out", [0, 3, 4])]
    )
    drawn = _svg(bars)
    assert drawn.get("aria-label") == "Volume <b>"
    rects = drawn.findall(f"{NS}rect")
    # One bar per figure (a missing one is left out), and two legend swatches.
    assert len(rects) == 5 + 2
    line = Chart("b", "Backlog", "line", days, [Series("Backlog", [3, None, 5], dashed=True)])
    polyline = _svg(line).find(f"{NS}polyline")
    assert polyline is not None and len(polyline.get("points", "").split()) == 2
    assert polyline.get("stroke-dasharray") == "5 3"
    stacked = Chart(
        "s",
        "Stacked",
        "stacked",
        days,
        [Series("A", [1, 2, 3]), Series("B", [1, 1, 1]), Series("Cap", [5, 5, 5], kind="line")],
        unit="h",
    )
    drawn = _svg(stacked)
    assert len(drawn.findall(f"{NS}polyline")) == 1
    assert any(t.text == "5 h" for t in drawn.iter(f"{NS}text"))
    hbar = Chart("h", "By service", "hbar", ["Data entry", "Drafting"], [Series("In", [5, 7])])
    texts = [t.text for t in _svg(hbar).iter(f"{NS}text")]
    assert "Data entry" in texts and "Drafting" in texts
    percent = Chart("p", "SLA", "line", ["Week 1"], [Series("Met", [87.5])], unit="%")
    assert any(t.text == "100 %" for t in _svg(percent).iter(f"{NS}text"))
    empty = Chart("e", "Nothing", "bar", [], [Series("In", [])])
    assert "Nothing in this period." in chart_svg(empty)


def test_drawing_the_pdf_fetches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    monkeypatch.setattr(
        urllib_request.OpenerDirector, "open", lambda self, *a, **k: opened.append(a)
    )
    pdf = render_pdf(
        '<p>Hello</p><img src="http://example.test/x.png"><img src="file:///etc/hostname">'
        '<link rel="stylesheet" href="https://example.test/x.css">'
    )
    assert pdf.startswith(b"%PDF") and opened == []


def test_objective_values_in_the_report_are_the_standings(world: World, week: dict) -> None:
    start, end = _period()
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end)
    (objective,) = report.summary["objectives"]
    assert objective["label"] == "Backlog" and objective["target"] == "5.00"
    # The backlog at the end of the period: the old item (the rest delivered or cancelled).
    assert Decimal(objective["value"]) == 1 and objective["status"] == "met"


def test_the_send_reports_command_sends_what_is_due(world: World, week: dict) -> None:
    from django.core.management import CommandError, call_command

    do_create_schedule(
        world.lead, world.engagement_a, frequency="weekly", recipients=[world.member_a.pk]
    )
    out = io.StringIO()
    call_command("send_reports", at=_monday_after(_today()).isoformat(), stdout=out)
    assert out.getvalue().strip() == "reports: 1 built, 1 e-mailed, 0 failing"
    assert [m.to for m in mail.outbox] == [[world.member_a.email]]
    with pytest.raises(CommandError, match="time zone"):
        call_command("send_reports", at="2026-12-01T06:00")


def test_the_generated_time_is_in_the_engagements_zone(world: World, week: dict) -> None:
    start, end = _period()
    at = dt.datetime.combine(_today(), dt.time(3, 30), tzinfo=UTC)
    report = do_create_report(world.lead, world.engagement_a, start=start, end=end, at=at)
    eastern = at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    with timezone.override("Asia/Manila"):  # whoever looks, wherever they are
        html = report_html(report.summary)
    assert f"{eastern:%H:%M} (America/New_York)" in html
