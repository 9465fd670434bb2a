"""The dashboard API: the client dashboard's figures and charts, and objectives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.figures import default_period
from relaydesk.insights import actions
from relaydesk.insights.charts import Chart
from relaydesk.insights.models import Metric, Objective
from relaydesk.insights.objectives import Standing, standing
from relaydesk.insights.queries import client_dashboard, live_objectives
from relaydesk.web import client_ip
from relaydesk.work.api import ERRORS
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["dashboard"])

READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
FIGURE_ERRORS = {400: ErrorOut, **READ_ERRORS}


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


class DashboardQuery(Schema):
    """Which figures: the period (UTC days; the last 30 by default), engagement, service."""

    start: dt.date | None = None
    end: dt.date | None = None
    engagement_id: int | None = None
    service_id: int | None = None


class SeriesOut(Schema):
    label: str
    values: list[float | None]


class ChartOut(Schema):
    key: str
    title: str
    unit: str
    labels: list[str]
    series: list[SeriesOut]


class CostOut(Schema):
    currency: str
    total: Decimal


class DashboardOut(Schema):
    start: dt.date
    end: dt.date
    received: int
    delivered: int
    backlog: int
    in_rework: int
    sla_attainment_percent: float | None
    quality_score: float | None
    mean_turnaround_hours: Decimal | None
    cost: list[CostOut]
    charts: list[ChartOut]


def _chart_out(chart: Chart) -> ChartOut:
    return ChartOut(
        key=chart.key,
        title=chart.title,
        unit=chart.unit,
        labels=list(chart.labels),
        series=[
            SeriesOut(label=s.label, values=[None if v is None else float(v) for v in s.values])
            for s in chart.series
        ],
    )


@router.get("/dashboard", response={200: DashboardOut, **FIGURE_ERRORS}, summary="Dashboard")
def dashboard(request: HttpRequest, query: Query[DashboardQuery]) -> DashboardOut:
    """The client dashboard's headline figures and every chart's series, as the *Dashboard*
    page and its CSV show them. A client's people get their own client's figures; 403 for
    roles without a dashboard, 404 for an engagement you cannot see."""
    start, end = default_period(query.start, query.end)
    figures = client_dashboard(
        _user(request),
        start=start,
        end=end,
        engagement_id=query.engagement_id,
        service_id=query.service_id,
    )
    return DashboardOut(
        start=figures.start,
        end=figures.end,
        received=figures.received,
        delivered=figures.delivered,
        backlog=figures.backlog,
        in_rework=figures.in_rework,
        sla_attainment_percent=figures.attainment,
        quality_score=figures.quality_score,
        mean_turnaround_hours=figures.mean_turnaround,
        cost=[CostOut(currency=c.currency, total=c.total) for c in figures.costs],
        charts=[_chart_out(c) for c in figures.charts],
    )


class ObjectiveIn(Schema):
    engagement_id: int
    metric: Metric
    target: Decimal
    note: str = ""


class ObjectiveOut(Schema):
    id: int
    engagement_id: int
    metric: str
    label: str
    target: Decimal
    note: str
    proposed_by: str
    proposed_at: dt.datetime
    agreed_by: str | None
    agreed_at: dt.datetime | None
    value: Decimal | None
    status: str
    period: str
    trend: list[tuple[str, Decimal | None]]


def _objective_out(seen: Standing) -> ObjectiveOut:
    o = seen.objective
    return ObjectiveOut(
        id=o.pk,
        engagement_id=o.engagement_id,
        metric=o.metric,
        label=seen.definition.label,
        target=o.target,
        note=o.note,
        proposed_by=o.proposed_by.full_name,
        proposed_at=o.proposed_at,
        agreed_by=o.agreed_by.full_name if o.agreed_by else None,
        agreed_at=o.agreed_at,
        value=seen.value,
        status=seen.status,
        period=seen.definition.period,
        trend=seen.trend,
    )


def _check_reader(user: User) -> None:
    if not can(user.role_enum, Permission.VIEW_DASHBOARD):
        raise NotAllowed("Your role does not see objectives.")


@router.get("/objectives", response={200: list[ObjectiveOut], **READ_ERRORS}, summary="Objectives")
def list_objectives(request: HttpRequest, engagement_id: int | None = None) -> list[ObjectiveOut]:
    """The live objectives of the engagements you see, each with its current value, status
    (met, missed, open, unknown) and trend."""
    user = _user(request)
    _check_reader(user)
    found = live_objectives(user, engagement_id=engagement_id)
    return [_objective_out(standing(user, o)) for o in found]


@router.post("/objectives", response={201: ObjectiveOut, **ERRORS}, summary="Propose an objective")
def propose_objective(request: HttpRequest, body: ObjectiveIn) -> Status[ObjectiveOut]:
    """Propose a target for one figure of an engagement; the other side agrees it. A new
    target for a figure replaces the live one (kept on record)."""
    user = _user(request)
    objective = actions.do_propose_objective(
        user,
        body.engagement_id,
        metric=body.metric,
        target=body.target,
        note=body.note,
        source_ip=client_ip(request),
    )
    return Status(201, _objective_out(standing(user, objective)))


def _found(user: User, objective_id: int) -> Objective:
    found = (
        live_objectives(user, include_retired=True).filter(pk=objective_id).first()
        if can(user.role_enum, Permission.VIEW_DASHBOARD)
        else None
    )
    if found is None:
        raise NotFound(f"No objective {objective_id}.")
    return found


@router.post(
    "/objectives/{objective_id}/agree",
    response={200: ObjectiveOut, **ERRORS},
    summary="Agree an objective",
)
def agree_objective(request: HttpRequest, objective_id: int) -> ObjectiveOut:
    """The other side agrees a proposed objective (409 for your own side's proposal)."""
    user = _user(request)
    agreed = actions.do_agree_objective(
        user, _found(user, objective_id), source_ip=client_ip(request)
    )
    return _objective_out(standing(user, agreed))


@router.post(
    "/objectives/{objective_id}/retire",
    response={200: ObjectiveOut, **ERRORS},
    summary="Retire an objective",
)
def retire_objective(request: HttpRequest, objective_id: int) -> ObjectiveOut:
    """Retire an objective: off the dashboard, kept on record."""
    user = _user(request)
    retired = actions.do_retire_objective(
        user, _found(user, objective_id), source_ip=client_ip(request)
    )
    return _objective_out(standing(user, retired))
