"""What each objective measures, and where an engagement stands against it.

Every value comes from the dashboard's own definitions (:mod:`relaydesk.insights.queries`)
or the Service levels and Quality pages' (:func:`relaydesk.sla.queries.attainment_figures`,
:func:`relaydesk.quality.queries.quality_figures`), over the same periods those pages show
by default, so an objective never disagrees with a chart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core.permissions import Permission, can
from relaydesk.core.sla import ClockKind
from relaydesk.figures import DEFAULT_DAYS
from relaydesk.insights.models import Metric, Objective

__all__ = ["DEFINITIONS", "Definition", "Standing", "standing"]

# How many points the trend shows.
TREND_POINTS = 6


@dataclass(frozen=True, slots=True)
class Definition:
    """How a metric reads: its label, unit, which way is better, over which period."""

    label: str
    unit: str  # "%", "score" (0-100), "h", "items" or "cost"
    at_most: bool  # the target is a ceiling (else a floor)
    period: str  # what the value covers, as people read it
    whole: bool = False
    example: str = "95"


DEFINITIONS: dict[Metric, Definition] = {
    Metric.SLA_ATTAINMENT: Definition(
        "Turnaround SLA attainment", "%", False, f"last {DEFAULT_DAYS} days", example="95"
    ),
    Metric.QUALITY_SCORE: Definition(
        "Quality score", "score", False, f"last {DEFAULT_DAYS} days", example="90"
    ),
    Metric.TURNAROUND_HOURS: Definition(
        "Mean turnaround",
        "h",
        True,
        f"items delivered in the last {DEFAULT_DAYS} days",
        example="24",
    ),
    Metric.BACKLOG_CEILING: Definition("Backlog", "items", True, "now", whole=True, example="50"),
    Metric.MONTHLY_VOLUME: Definition(
        "Monthly volume", "items", False, "delivered this month", whole=True, example="500"
    ),
    Metric.COST_CAP: Definition("Monthly cost", "cost", True, "this month", example="25000"),
}


@dataclass(frozen=True, slots=True)
class Standing:
    """An objective's current value, its trend and whether it is met.

    ``status``: "met", "missed", "open" (a monthly floor not reached yet this month) or
    "unknown" (no figure yet). ``trend`` holds (label, value) points, oldest first.
    """

    objective: Objective
    definition: Definition
    value: Decimal | None
    status: str
    trend: list[tuple[str, Decimal | None]]
    currency: str = ""
    may_agree: bool = False  # the viewer is on the other side and may agree it

    def _text(self, value: Decimal | None) -> str:
        if value is None:
            return "–"
        unit = self.definition.unit
        if unit == "%":
            return f"{value:.1f} %"
        if unit == "h":
            return f"{value:.1f} h"
        if unit == "score":
            return f"{value:.1f}"
        if unit == "cost":
            return f"{self.currency} {value:,.2f}"
        return f"{value:,.0f}"

    @property
    def value_text(self) -> str:
        """The current value as people read it (per cent, hours, money or items)."""
        return self._text(self.value)

    @property
    def target_text(self) -> str:
        """The target as people read it."""
        return self._text(self.objective.target)

    @property
    def direction(self) -> str:
        """ "up", "down" or "flat" from the previous trend point to the last."""
        known = [v for _, v in self.trend if v is not None]
        if len(known) < 2 or known[-1] == known[-2]:
            return "flat"
        return "up" if known[-1] > known[-2] else "down"

    @property
    def improving(self) -> bool | None:
        """Whether the last move of the trend goes the good way (None: no move)."""
        if self.direction == "flat":
            return None
        return (self.direction == "down") == self.definition.at_most

    def spark_points(self) -> str:
        """The trend as an SVG polyline's points in a 100 × 30 box (empty: too few)."""
        known = [(n, v) for n, (_, v) in enumerate(self.trend) if v is not None]
        if len(known) < 2:
            return ""
        values = [float(v) for _, v in known] + [float(self.objective.target)]
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        last = max(len(self.trend) - 1, 1)
        return " ".join(
            f"{100 * n / last:.1f},{28 - 26 * (float(v) - low) / span:.1f}" for n, v in known
        )

    def target_y(self) -> str:
        """Where the target line sits in the sparkline's box."""
        values = [float(v) for _, v in self.trend if v is not None] + [float(self.objective.target)]
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        return f"{28 - 26 * (float(self.objective.target) - low) / span:.1f}"


def _decimal(value: float | Decimal | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _status(
    definition: Definition, value: Decimal | None, target: Decimal, *, monthly: bool
) -> str:
    if value is None:
        return "unknown"
    if definition.at_most:
        return "met" if value <= target else "missed"
    if value >= target:
        return "met"
    return "open" if monthly else "missed"


def _month_starts(today: dt.date, count: int) -> list[dt.date]:
    firsts = [today.replace(day=1)]
    while len(firsts) < count:
        previous = firsts[-1] - dt.timedelta(days=1)
        firsts.append(previous.replace(day=1))
    return list(reversed(firsts))


def standing(actor: User, objective: Objective, *, today: dt.date | None = None) -> Standing:
    """Where ``objective``'s engagement stands today (UTC), as ``actor`` may see it."""
    from relaydesk.insights.daily import CountedWork, work_scope
    from relaydesk.insights.queries import (
        backlog_series,
        cost_by_day,
        daily_counts,
        mean_turnaround_hours,
    )
    from relaydesk.quality.queries import quality_figures
    from relaydesk.sla.queries import attainment_figures

    today = today or timezone.now().astimezone(dt.UTC).date()
    metric, definition = objective.metric_enum, DEFINITIONS[objective.metric_enum]
    engagement = objective.engagement
    scope = work_scope(actor, engagement_id=engagement.pk)
    window_start = today - dt.timedelta(days=DEFAULT_DAYS - 1)
    weeks_start = today - dt.timedelta(days=7 * TREND_POINTS - 1)
    value: Decimal | None
    trend: list[tuple[str, Decimal | None]]
    if metric is Metric.SLA_ATTAINMENT:
        sla_now = attainment_figures(
            actor,
            kind=ClockKind.TURNAROUND,
            start=window_start,
            end=today,
            engagement_id=engagement.pk,
        )
        value = _decimal(sla_now.total.percent)
        sla_weeks = attainment_figures(
            actor,
            kind=ClockKind.TURNAROUND,
            start=weeks_start,
            end=today,
            group_by="week",
            engagement_id=engagement.pk,
        )
        trend = [(row.label, _decimal(row.percent)) for row in sla_weeks.rows]
    elif metric is Metric.QUALITY_SCORE:
        qa_now = quality_figures(actor, start=window_start, end=today, engagement_id=engagement.pk)
        value = _decimal(qa_now.total.mean_score)
        qa_weeks = quality_figures(
            actor, start=weeks_start, end=today, group_by="week", engagement_id=engagement.pk
        )
        trend = [(row.label, _decimal(row.mean_score)) for row in qa_weeks.rows]
    elif metric is Metric.TURNAROUND_HOURS:
        value = mean_turnaround_hours(CountedWork(scope, window_start, today))[0]
        trend = []
        for n in range(TREND_POINTS):
            first = weeks_start + dt.timedelta(days=7 * n)
            week = CountedWork(scope, first, first + dt.timedelta(days=6))
            hours = mean_turnaround_hours(week)[0]
            trend.append((f"Week of {first:%-d %b}", hours))
    elif metric is Metric.BACKLOG_CEILING:
        series = backlog_series(CountedWork(scope, weeks_start, today))
        value = Decimal(series[-1])
        trend = [
            (f"{weeks_start + dt.timedelta(days=n):%-d %b}", Decimal(series[n]))
            for n in range(6, len(series), 7)
        ]
    else:
        months = _month_starts(today, TREND_POINTS)
        trend = []
        for first in months:
            last = min(today, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))
            month = CountedWork(scope, first, last)
            if metric is Metric.MONTHLY_VOLUME:
                month_value = Decimal(sum(daily_counts(month, "delivered").values()))
            else:
                costs = cost_by_day(month, Engagement.objects.filter(pk=engagement.pk))
                month_value = costs[0].total if costs else Decimal(0)
            trend.append((f"{first:%b %Y}", month_value))
        value = trend[-1][1]
    status = _status(
        definition,
        value,
        objective.target,
        monthly=metric in (Metric.MONTHLY_VOLUME,),
    )
    currency = engagement.currency if definition.unit == "cost" else ""
    may_agree = (
        objective.agreed_at is None
        and can(actor.role_enum, Permission.SET_OBJECTIVES)
        and objective.proposed_by.is_client_user != actor.is_client_user
    )
    return Standing(objective, definition, value, status, trend, currency, may_agree)
