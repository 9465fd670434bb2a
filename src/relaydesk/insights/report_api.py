"""The reports API: kept engagement reports, making one now, their downloads, and schedules.

The same actions and the same rules as the *Reports* pages: reading takes
``VIEW_REPORTS`` (403 for the list otherwise), making and scheduling ``MANAGE_REPORTS``;
a report or schedule you may not see answers 404, as if it did not exist. Downloads are
served, checked and audited by :mod:`relaydesk.insights.report_downloads`, as the pages'.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status

from relaydesk.accounts.models import User
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.insights import report_actions as actions
from relaydesk.insights import report_downloads as downloads
from relaydesk.insights.report_models import Report, ReportKind, ReportSchedule
from relaydesk.insights.report_schemas import (
    FrequencyName,
    RecipientOut,
    ReportChartOut,
    ReportCostOut,
    ReportDetailOut,
    ReportHeadlineOut,
    ReportIn,
    ReportKindName,
    ReportObjectiveOut,
    ReportOut,
    ReportPage,
    ReportSeriesOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
)
from relaydesk.insights.reports import (
    charts_of,
    visible_reports,
    visible_schedules,
)
from relaydesk.web import client_ip
from relaydesk.work.api import ERRORS
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["reports"])

READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
# A download may also be refused: the PDF fails to decrypt (409), retention deleted it (410).
DOWNLOAD_ERRORS = {409: ErrorOut, 410: ErrorOut, **READ_ERRORS}


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def _may_read(user: User) -> None:
    if not can(user.role_enum, Permission.VIEW_REPORTS):
        raise NotAllowed("Your role does not see reports.")


def _check_engagement(user: User, engagement_id: int | None) -> None:
    if engagement_id is None:
        return
    if not visible_engagements(user).filter(pk=engagement_id).exists():
        raise NotFound(f"No engagement {engagement_id}.")


def _report(user: User, report_id: int) -> Report:
    found = visible_reports(user).filter(pk=report_id).first()
    if found is None:
        raise NotFound(f"No report {report_id}.")
    return found


def _schedule(user: User, schedule_id: int) -> ReportSchedule:
    found = visible_schedules(user).filter(pk=schedule_id).first()
    if found is None:
        raise NotFound(f"No report schedule {schedule_id}.")
    return found


def _person(viewer: User, person: User | None) -> str | None:
    """A person as the pages name them: a client's people are not told who at the
    provider it was."""
    if person is None:
        return None
    if viewer.is_client_user and not person.is_client_user:
        return "the provider"
    return person.full_name or person.email


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _headline(summary: dict[str, Any]) -> ReportHeadlineOut:
    kept = summary.get("headline", {})
    return ReportHeadlineOut(
        received=kept.get("received", 0),
        delivered=kept.get("delivered", 0),
        backlog=kept.get("backlog", 0),
        in_rework=kept.get("in_rework", 0),
        sla_attainment_percent=kept.get("attainment"),
        quality_score=kept.get("quality_score"),
        mean_turnaround_hours=_decimal(kept.get("mean_turnaround")),
        cost=[
            ReportCostOut(currency=c["currency"], total=Decimal(c["total"]))
            for c in kept.get("costs", [])
        ],
    )


def _link(name: str, report: Report) -> str | None:
    if report.purged_at is not None:
        return None
    return reverse(f"api-v1:{name}", kwargs={"report_id": report.pk})


def report_out(viewer: User, report: Report) -> ReportOut:
    """A report as the API lists it, named for ``viewer`` as the pages name it."""
    return ReportOut(
        id=report.pk,
        engagement_id=report.engagement_id,
        engagement=report.engagement.name,
        client=report.engagement.client.name,
        kind=report.kind,  # type: ignore[arg-type]
        schedule_id=report.schedule_id,
        period_start=report.period_start,
        period_end=report.period_end,
        status=report.status,  # type: ignore[arg-type]
        created_at=report.created_at,
        created_by=(
            None if report.kind == ReportKind.SCHEDULED else _person(viewer, report.created_by)
        ),
        commentary=report.commentary,
        commentary_at=report.commentary_at,
        sent_at=report.sent_at,
        purged_at=report.purged_at,
        pdf_size=report.pdf_size,
        pdf_sha256=report.pdf_sha256,
        headline=_headline(report.summary),
        page_url=reverse("insights:reports:detail", args=[report.pk]),
        pdf_url=_link("report_pdf", report),
        csv_url=_link("report_csv", report),
        xlsx_url=_link("report_xlsx", report),
    )


def _detail_out(viewer: User, report: Report) -> ReportDetailOut:
    summary = report.summary
    objectives = [
        ReportObjectiveOut(
            label=o["label"],
            value=_decimal(o.get("value")),
            target=Decimal(o["target"]),
            value_text=o.get("value_text", ""),
            target_text=o.get("target_text", ""),
            at_most=o.get("at_most", False),
            status=o.get("status", ""),
            period=o.get("period", ""),
            agreed=o.get("agreed", False),
        )
        for o in summary.get("objectives", [])
    ]
    charts = [
        ReportChartOut(
            key=chart.key,
            title=chart.title,
            unit=chart.unit,
            labels=list(chart.labels),
            series=[
                ReportSeriesOut(
                    label=s.label, values=[None if v is None else float(v) for v in s.values]
                )
                for s in chart.series
            ],
        )
        for chart in charts_of(summary)
    ]
    return ReportDetailOut(
        **report_out(viewer, report).dict(),
        objectives_as_at=summary.get("objectives_as_at", report.period_end),
        objectives=objectives,
        charts=charts,
    )


class ReportFilter(Schema):
    """Which reports: one engagement's or all you see, one kind or both, one page of them."""

    engagement_id: int | None = None
    kind: ReportKindName | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


@router.get("/reports", response={200: ReportPage, **READ_ERRORS}, summary="List reports")
def list_reports(request: HttpRequest, filters: Query[ReportFilter]) -> ReportPage:
    """The kept reports you may see, newest first, made on demand and by schedules: each
    with its period (UTC days), status, creation time, the headline figures it printed
    and its download links. 403 for roles without reports; 404 for an engagement you
    cannot see."""
    user = _user(request)
    _may_read(user)
    _check_engagement(user, filters.engagement_id)
    reports = visible_reports(user)
    if filters.engagement_id is not None:
        reports = reports.filter(engagement_id=filters.engagement_id)
    if filters.kind:
        reports = reports.filter(kind=filters.kind)
    page = reports[filters.offset : filters.offset + filters.limit]
    return ReportPage(count=reports.count(), items=[report_out(user, r) for r in page])


@router.post("/reports", response={201: ReportOut, **ERRORS}, summary="Make a report now")
def create_report(request: HttpRequest, payload: ReportIn) -> Status[ReportOut]:
    """Make an engagement's report for a period of UTC days now, as the *Create report*
    button does, and keep it: 201 with the report. 403 for roles that do not make reports,
    and for commentary from anyone but the provider's delivery leads; 404 for an engagement
    you cannot see; 409 when the server cannot draw PDFs; 422 for a period that ends before
    it starts, has not begun, or is longer than three years."""
    user = _user(request)
    report = actions.do_create_report(
        user,
        payload.engagement_id,
        start=payload.start,
        end=payload.end,
        commentary=payload.commentary,
        source_ip=client_ip(request),
    )
    return Status(201, report_out(user, _report(user, report.pk)))


@router.get(
    "/reports/{report_id}",
    response={200: ReportDetailOut, **READ_ERRORS},
    summary="A report",
)
def get_report(request: HttpRequest, report_id: int) -> ReportDetailOut:
    """One report with everything it printed: headline figures, the objectives as they
    stood at the end of the period, every chart's series (404 for a report you may not
    see)."""
    user = _user(request)
    return _detail_out(user, _report(user, report_id))


@router.get(
    "/reports/{report_id}/pdf",
    response={200: None, **DOWNLOAD_ERRORS},
    url_name="report_pdf",
    summary="Download a report's PDF",
)
def download_report_pdf(request: HttpRequest, report_id: int) -> HttpResponseBase:
    """The PDF (``application/pdf``), decrypted and checked whole before the first byte is
    sent; every download is audited. 409 when the stored file fails to decrypt; 410 once
    the engagement's retention deleted it."""
    user = _user(request)
    return downloads.pdf_response(user, _report(user, report_id), client_ip(request))


@router.get(
    "/reports/{report_id}/csv",
    response={200: None, **DOWNLOAD_ERRORS},
    url_name="report_csv",
    summary="Download a report's items as CSV",
)
def download_report_csv(request: HttpRequest, report_id: int) -> HttpResponseBase:
    """The items received or delivered in the report's period, as they stand now, streamed
    as CSV (``text/csv``); audited. 410 once the engagement's retention deleted the
    report."""
    user = _user(request)
    return downloads.csv_response(user, _report(user, report_id), client_ip(request))


@router.get(
    "/reports/{report_id}/xlsx",
    response={200: None, **DOWNLOAD_ERRORS},
    url_name="report_xlsx",
    summary="Download a report's items as XLSX",
)
def download_report_xlsx(request: HttpRequest, report_id: int) -> HttpResponseBase:
    """The items of the report's period, as they stand now, as an XLSX workbook; audited.
    410 once the engagement's retention deleted the report."""
    user = _user(request)
    return downloads.xlsx_response(user, _report(user, report_id), client_ip(request))


# -- schedules -----------------------------------------------------------------------------


def schedule_out(viewer: User, schedule: ReportSchedule) -> ScheduleOut:
    """A schedule as the API shows it: a client's people see their own recipients, and
    only how many the provider added."""
    people = list(schedule.recipients.all())
    shown = [p for p in people if not viewer.is_client_user or p.client_id == viewer.client_id]
    return ScheduleOut(
        id=schedule.pk,
        engagement_id=schedule.engagement_id,
        engagement=schedule.engagement.name,
        frequency=schedule.frequency,  # type: ignore[arg-type]
        cadence=schedule.cadence,
        active=schedule.active,
        attach_xlsx=schedule.attach_xlsx,
        attach_csv=schedule.attach_csv,
        recipients=[
            RecipientOut(id=p.pk, name=p.full_name or p.email, email=p.email) for p in shown
        ],
        other_recipients=len(people) - len(shown),
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
        created_by=_person(viewer, schedule.created_by) or "",
        page_url=reverse("insights:reports:schedule", args=[schedule.pk]),
    )


class ScheduleFilter(Schema):
    """Which schedules: one engagement's, or all you see."""

    engagement_id: int | None = None
    frequency: FrequencyName | None = None


@router.get(
    "/report-schedules",
    response={200: list[ScheduleOut], **READ_ERRORS},
    summary="List report schedules",
)
def list_schedules(request: HttpRequest, filters: Query[ScheduleFilter]) -> list[ScheduleOut]:
    """The report schedules you may see, active and paused. 403 for roles without reports;
    404 for an engagement you cannot see."""
    user = _user(request)
    _may_read(user)
    _check_engagement(user, filters.engagement_id)
    schedules = visible_schedules(user)
    if filters.engagement_id is not None:
        schedules = schedules.filter(engagement_id=filters.engagement_id)
    if filters.frequency:
        schedules = schedules.filter(frequency=filters.frequency)
    return [schedule_out(user, s) for s in schedules]


@router.post(
    "/report-schedules",
    response={201: ScheduleOut, **ERRORS},
    summary="Schedule a report",
)
def create_schedule(request: HttpRequest, payload: ScheduleIn) -> Status[ScheduleOut]:
    """E-mail an engagement's report every week (Mondays, the week before) or month (the
    1st, the month before): 201 with the schedule. 403 for roles that do not schedule
    reports; 404 for an engagement you cannot see; 409 when the engagement already has an
    active schedule this often; 422 for no recipients or people who may not see the
    engagement's reports."""
    user = _user(request)
    schedule = actions.do_create_schedule(
        user,
        payload.engagement_id,
        frequency=payload.frequency,
        recipients=payload.recipients,
        attach_xlsx=payload.attach_xlsx,
        attach_csv=payload.attach_csv,
        source_ip=client_ip(request),
    )
    return Status(201, schedule_out(user, _schedule(user, schedule.pk)))


@router.get(
    "/report-schedules/{schedule_id}",
    response={200: ScheduleOut, **READ_ERRORS},
    summary="A report schedule",
)
def get_schedule(request: HttpRequest, schedule_id: int) -> ScheduleOut:
    """One schedule you may see (404 otherwise)."""
    user = _user(request)
    return schedule_out(user, _schedule(user, schedule_id))


@router.patch(
    "/report-schedules/{schedule_id}",
    response={200: ScheduleOut, **ERRORS},
    summary="Change a report schedule",
)
def update_schedule(request: HttpRequest, schedule_id: int, payload: SchedulePatch) -> ScheduleOut:
    """Change whom a schedule e-mails, what it attaches, or pause (``"active": false``)
    and resume it; fields left out stay. 403 for roles that do not schedule reports; 409
    when resuming it would make a second active schedule this often; 422 as when making
    one."""
    user = _user(request)
    schedule = _schedule(user, schedule_id)
    changed = actions.do_update_schedule(
        user,
        schedule,
        recipients=payload.recipients,
        attach_xlsx=payload.attach_xlsx,
        attach_csv=payload.attach_csv,
        active=payload.active,
        source_ip=client_ip(request),
    )
    return schedule_out(user, _schedule(user, changed.pk))
