"""The reports pages: kept reports and making one now, one report with its downloads and
commentary, and the schedules that e-mail them.

Pages that name a report or schedule load it through the viewer's visibility and answer
404 for anything else, as if it did not exist; writes go through
:mod:`relaydesk.insights.report_actions`.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.errors import ActionRefused
from relaydesk.insights import report_actions as actions
from relaydesk.insights import report_downloads as downloads
from relaydesk.insights.forms import (
    CommentaryForm,
    EditScheduleForm,
    EngagementChooser,
    NewScheduleForm,
    ReportForm,
)
from relaydesk.insights.report_models import Report, ReportSchedule
from relaydesk.insights.reports import report_context, visible_reports, visible_schedules
from relaydesk.permissions import roles_required
from relaydesk.quality.views import record_refusal
from relaydesk.web import client_ip

_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# -- the list and making a report ----------------------------------------------------------


def _list_page(
    request: HttpRequest, form: ReportForm | None = None, *, status: int = 200
) -> HttpResponse:
    user = _user(request)
    may_manage = can(user.role_enum, Permission.MANAGE_REPORTS)
    pages = Paginator(visible_reports(user), _PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    return render(
        request,
        "insights/reports/list.html",
        {
            "page": page,
            "reports": page.object_list,
            "schedules": visible_schedules(user),
            "form": form or (ReportForm(user) if may_manage else None),
            "may_manage": may_manage,
            "is_client": user.is_client_user,
        },
        status=status,
    )


@roles_required(*roles_with(Permission.VIEW_REPORTS))
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    """Kept reports, newest first, the form to make one now, and the schedules."""
    return _list_page(request)


@roles_required(*roles_with(Permission.MANAGE_REPORTS))
@require_POST
def report_new(request: HttpRequest) -> HttpResponse:
    """Make a report now for an engagement and period, and open it."""
    user = _user(request)
    form = ReportForm(user, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            report = actions.do_create_report(
                user,
                data["engagement"],
                start=data["start"],
                end=data["end"],
                commentary=data.get("commentary", ""),
                source_ip=client_ip(request),
            )
        except ActionRefused as refusal:
            record_refusal(request, refusal, data["engagement"], data["engagement"].client_id)
            form.add_error(None, refusal.message)
        else:
            messages.success(request, "The report is ready.")
            return redirect("insights:reports:detail", report_id=report.pk)
    return _list_page(request, form, status=400)


# -- one report ----------------------------------------------------------------------------


def _report(request: HttpRequest, report_id: int) -> Report:
    report = visible_reports(_user(request)).filter(pk=report_id).first()
    if report is None:
        raise Http404("No such report.")
    return report


def _detail_page(
    request: HttpRequest, report: Report, form: CommentaryForm | None = None, *, status: int = 200
) -> HttpResponse:
    user = _user(request)
    # A report deleted under retention takes no commentary: it would print a PDF again.
    may_comment = (
        can(user.role_enum, Permission.WRITE_REPORT_COMMENTARY) and report.purged_at is None
    )
    if may_comment and form is None:
        form = CommentaryForm(initial={"commentary": report.commentary})
    context = report_context(report.summary, commentary=report.commentary)
    return render(
        request,
        "insights/reports/detail.html",
        {
            **context,
            "report": report,
            "form": form if may_comment else None,
            "is_client": user.is_client_user,
        },
        status=status,
    )


@login_required
@require_GET
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """A kept report: what it printed, its downloads, and the lead's commentary."""
    return _detail_page(request, _report(request, report_id))


@require_POST
@login_required
def report_commentary(request: HttpRequest, report_id: int) -> HttpResponse:
    """The lead writes or changes a report's commentary; its PDF is drawn again."""
    report = _report(request, report_id)
    user = _user(request)
    form = CommentaryForm(request.POST)
    if form.is_valid():
        try:
            actions.do_set_report_commentary(
                user, report, form.cleaned_data["commentary"], source_ip=client_ip(request)
            )
        except ActionRefused as refusal:
            record_refusal(request, refusal, report, report.client_id)
            if refusal.status == 403:
                return render(request, "403.html", {"reason": refusal.message}, status=403)
            if refusal.status == 410:
                # Deleted under retention meanwhile: the page no longer offers the form,
                # so the reason goes above it.
                messages.error(request, refusal.message)
                return _detail_page(request, report, status=410)
            form.add_error("commentary", refusal.message)
        else:
            messages.success(request, "Commentary saved; the PDF shows it.")
            return redirect("insights:reports:detail", report_id=report.pk)
    return _detail_page(request, report, form, status=400)


def _serve(request: HttpRequest, report_id: int, make: downloads.Maker) -> HttpResponse:
    """A report's download; one refused (deleted under retention, or failing to decrypt)
    shows the report's page with the reason, under its status (410, 409)."""
    report = _report(request, report_id)
    try:
        response = make(_user(request), report, client_ip(request))
    except ActionRefused as refusal:
        if refusal.status == 403:
            return render(request, "403.html", {"reason": refusal.message}, status=403)
        messages.error(request, refusal.message)
        return _detail_page(request, report, status=refusal.status)
    # The page guards are typed for HttpResponse; a streamed file goes out the same way.
    return cast(HttpResponse, response)


@login_required
@require_GET
def report_pdf(request: HttpRequest, report_id: int) -> HttpResponse:
    """The report's PDF, decrypted and checked whole before it is sent (audited)."""
    return _serve(request, report_id, downloads.pdf_response)


@login_required
@require_GET
def report_csv(request: HttpRequest, report_id: int) -> HttpResponse:
    """The period's items as CSV, as they stand now, streamed (audited)."""
    return _serve(request, report_id, downloads.csv_response)


@login_required
@require_GET
def report_xlsx(request: HttpRequest, report_id: int) -> HttpResponse:
    """The period's items as an XLSX workbook, as they stand now (audited)."""
    return _serve(request, report_id, downloads.xlsx_response)


# -- schedules -----------------------------------------------------------------------------


@roles_required(*roles_with(Permission.MANAGE_REPORTS))
@require_http_methods(["GET", "POST"])
def schedule_new(request: HttpRequest) -> HttpResponse:
    """Schedule an engagement's report: first the engagement, then whom it goes to."""
    user = _user(request)
    chooser = EngagementChooser(user, request.GET or None)
    engagement: Engagement | None = None
    if chooser.is_bound and chooser.is_valid():
        engagement = chooser.cleaned_data["engagement"]
    if engagement is None:
        return render(
            request,
            "insights/reports/schedule_new.html",
            {"chooser": chooser, "form": None},
            status=400 if request.method == "POST" or chooser.is_bound else 200,
        )
    form = NewScheduleForm(user, engagement, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            schedule = actions.do_create_schedule(
                user,
                engagement,
                frequency=data["frequency"],
                recipients=[u.pk for u in data["recipients"]],
                attach_xlsx=data["attach_xlsx"],
                attach_csv=data["attach_csv"],
                source_ip=client_ip(request),
            )
        except ActionRefused as refusal:
            record_refusal(request, refusal, engagement, engagement.client_id)
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request, f"{schedule.engagement.name}: the report goes out {schedule.cadence}."
            )
            return redirect("insights:reports:schedule", schedule_id=schedule.pk)
    return render(
        request,
        "insights/reports/schedule_new.html",
        {"chooser": chooser, "form": form, "engagement": engagement},
        status=400 if request.method == "POST" else 200,
    )


def _schedule(request: HttpRequest, schedule_id: int) -> ReportSchedule:
    schedule = visible_schedules(_user(request)).filter(pk=schedule_id).first()
    if schedule is None:
        raise Http404("No such report schedule.")
    return schedule


def _schedule_page(
    request: HttpRequest,
    schedule: ReportSchedule,
    *,
    form: EditScheduleForm | None = None,
    commentary: CommentaryForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    may_manage = can(user.role_enum, Permission.MANAGE_REPORTS)
    may_comment = can(user.role_enum, Permission.WRITE_REPORT_COMMENTARY)
    people = list(schedule.recipients.all())
    shown = [p for p in people if not user.is_client_user or p.client_id == user.client_id]
    if may_manage and form is None:
        form = EditScheduleForm(
            user,
            schedule.engagement,
            initial={
                "recipients": [p.pk for p in people],
                "attach_xlsx": schedule.attach_xlsx,
                "attach_csv": schedule.attach_csv,
                "active": schedule.active,
            },
        )
    if may_comment and commentary is None:
        commentary = CommentaryForm(initial={"commentary": schedule.next_commentary})
    return render(
        request,
        "insights/reports/schedule.html",
        {
            "schedule": schedule,
            "recipients": shown,
            "hidden_recipients": len(people) - len(shown),
            "reports": visible_reports(user).filter(schedule=schedule)[:12],
            "form": form if may_manage else None,
            "commentary_form": commentary if may_comment else None,
            "is_client": user.is_client_user,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def schedule_detail(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """A schedule: whom it sends to, its last reports; change, pause or resume it."""
    schedule = _schedule(request, schedule_id)
    if request.method != "POST":
        return _schedule_page(request, schedule)
    user = _user(request)
    if not can(user.role_enum, Permission.MANAGE_REPORTS):
        reason = "Only those who manage reports change a schedule."
        return render(request, "403.html", {"reason": reason}, status=403)
    form = EditScheduleForm(user, schedule.engagement, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_update_schedule(
                user,
                schedule,
                recipients=[u.pk for u in data["recipients"]],
                attach_xlsx=data["attach_xlsx"],
                attach_csv=data["attach_csv"],
                active=data["active"],
                source_ip=client_ip(request),
            )
        except ActionRefused as refusal:
            record_refusal(request, refusal, schedule, schedule.client_id)
            form.add_error(None, refusal.message)
        else:
            messages.success(request, "Schedule saved.")
            return redirect("insights:reports:schedule", schedule_id=schedule.pk)
    return _schedule_page(request, schedule, form=form, status=400)


@require_POST
@login_required
def schedule_commentary(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """The lead writes the commentary of a schedule's next report."""
    schedule = _schedule(request, schedule_id)
    user = _user(request)
    form = CommentaryForm(request.POST)
    if form.is_valid():
        try:
            actions.do_set_schedule_commentary(
                user, schedule, form.cleaned_data["commentary"], source_ip=client_ip(request)
            )
        except ActionRefused as refusal:
            record_refusal(request, refusal, schedule, schedule.client_id)
            if refusal.status == 403:
                return render(request, "403.html", {"reason": refusal.message}, status=403)
            form.add_error("commentary", refusal.message)
        else:
            messages.success(request, "Saved: the next report prints this commentary.")
            return redirect("insights:reports:schedule", schedule_id=schedule.pk)
    return _schedule_page(request, schedule, commentary=form, status=400)
