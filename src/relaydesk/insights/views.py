"""The client dashboard (charts, their CSV, objectives) and the objectives' writes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_figures_export
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.errors import ActionRefused
from relaydesk.insights import actions
from relaydesk.insights.charts import chart_csv
from relaydesk.insights.forms import DashboardFilter, ObjectiveForm
from relaydesk.insights.objectives import standing
from relaydesk.insights.queries import ClientDashboard, client_dashboard, live_objectives
from relaydesk.permissions import roles_required
from relaydesk.quality.views import record_refusal
from relaydesk.web import client_ip


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@roles_required(*roles_with(Permission.VIEW_DASHBOARD))
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Objectives and charts for a period; ``?chart=KEY&format=csv`` for one chart's CSV."""
    user = _user(request)
    form = DashboardFilter.with_defaults(user, request.GET)
    figures: ClientDashboard | None = None
    engagement_id: int | None = None
    if form.is_valid():
        data = form.cleaned_data
        engagement = data.get("engagement")
        service = data.get("service")
        engagement_id = engagement.pk if engagement else None
        figures = client_dashboard(
            user,
            start=data["start"],
            end=data["end"],
            engagement_id=engagement_id,
            service_id=service.pk if service else None,
        )
        if request.GET.get("format") == "csv":
            chart = figures.chart(request.GET.get("chart", ""))
            if chart is None:
                keys = ", ".join(c.key for c in figures.charts)
                return HttpResponseBadRequest(
                    f"Name one of the dashboard's charts: {keys}.", content_type="text/plain"
                )
            do_record_figures_export(user, f"Dashboard chart {chart.key}", data, client_ip(request))
            name = f"{chart.key}-{figures.start:%Y%m%d}-{figures.end:%Y%m%d}.csv"
            response = HttpResponse(chart_csv(chart), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
    standings = [standing(user, o) for o in live_objectives(user, engagement_id=engagement_id)]
    query = request.GET.copy()
    query.pop("chart", None)
    query.pop("format", None)
    return render(
        request,
        "insights/client_dashboard.html",
        {
            "form": form,
            "figures": figures,
            "standings": standings,
            "csv_url": "?" + query.urlencode() if query else "?",
            "may_set": can(user.role_enum, Permission.SET_OBJECTIVES),
        },
        status=200 if figures is not None else 400,
    )


@roles_required(*roles_with(Permission.VIEW_DASHBOARD))
@require_GET
def objectives(request: HttpRequest) -> HttpResponse:
    """Every live objective with where it stands, and the form to propose one."""
    user = _user(request)
    may_set = can(user.role_enum, Permission.SET_OBJECTIVES)
    return render(
        request,
        "insights/objectives.html",
        {
            "standings": [standing(user, o) for o in live_objectives(user)],
            "form": ObjectiveForm(user) if may_set else None,
            "may_set": may_set,
        },
    )


@roles_required(*roles_with(Permission.SET_OBJECTIVES))
@require_POST
def propose(request: HttpRequest) -> HttpResponse:
    """Propose a target; the other side agrees it."""
    user = _user(request)
    form = ObjectiveForm(user, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            objective = actions.do_propose_objective(
                user,
                data["engagement"],
                metric=data["metric"],
                target=data["target"],
                note=data["note"],
                source_ip=client_ip(request),
            )
        except ActionRefused as refusal:
            record_refusal(request, refusal, data["engagement"], data["engagement"].client_id)
            form.add_error("target", refusal.message)
        else:
            messages.success(
                request,
                f"{objective.get_metric_display()} target proposed for "
                f"{objective.engagement.name}; the other side agrees it.",
            )
            return redirect("insights:objectives")
    return render(
        request,
        "insights/objectives.html",
        {
            "standings": [standing(user, o) for o in live_objectives(user)],
            "form": form,
            "may_set": True,
        },
        status=400,
    )


def _decide(request: HttpRequest, objective_id: int, verb: str) -> HttpResponse:
    user = _user(request)
    # Refused exactly as a missing objective for whoever has no objectives at all.
    objective = (
        live_objectives(user, include_retired=True).filter(pk=objective_id).first()
        if can(user.role_enum, Permission.VIEW_DASHBOARD)
        else None
    )
    if objective is None:
        raise Http404("No such objective.")
    do = actions.do_agree_objective if verb == "agree" else actions.do_retire_objective
    try:
        do(user, objective, source_ip=client_ip(request))
    except ActionRefused as refusal:
        record_refusal(request, refusal, objective, objective.client_id)
        messages.error(request, refusal.message)
    else:
        said = "agreed" if verb == "agree" else "retired"
        messages.success(request, f"{objective.get_metric_display()} target {said}.")
    back = request.POST.get("next", "")
    return redirect(back if back == reverse("insights:dashboard") else "insights:objectives")


@login_required
@require_POST
def agree(request: HttpRequest, objective_id: int) -> HttpResponse:
    """The other side agrees a proposed target."""
    return _decide(request, objective_id, "agree")


@login_required
@require_POST
def retire(request: HttpRequest, objective_id: int) -> HttpResponse:
    """Retire a target: off the dashboard, kept on record."""
    return _decide(request, objective_id, "retire")
