"""The client dashboard's figures, counted by the database.

One definition per figure, used by the dashboard, its CSV, the API, the objectives and
the reports:

- *received*: items submitted on the day; *delivered*: items whose latest delivery was
  on the day (work sent back and delivered again counts on its new day);
- *backlog* at the end of a day: items received by then, not delivered and not cancelled
  by then;
- *turnaround*: hours from receipt to the latest delivery, of items delivered in the
  period;
- *SLA attainment* and *quality* are the Service levels and Quality pages' own figures
  (:func:`relaydesk.sla.queries.attainment_figures`,
  :func:`relaydesk.quality.queries.quality_figures`), by week;
- *cost*: per item, the rate for each item delivered; per hour, the rate for each hour
  worked on items completed (the worked time of :mod:`relaydesk.insights.measures`); per
  full-time equivalent, the monthly rate for each dedicated agent (at least one), by day.

Days are UTC days, ``end`` included. A client's people see their own client's figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement, PricingBasis
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.lifecycle import State
from relaydesk.core.permissions import Permission, can
from relaydesk.core.sla import ClockKind
from relaydesk.errors import NotAllowed
from relaydesk.figures import check_figures_request, utc_bounds
from relaydesk.insights.charts import Chart, Series
from relaydesk.insights.measures import UtcDate
from relaydesk.insights.models import Objective
from relaydesk.quality.queries import quality_figures
from relaydesk.sla.queries import attainment_figures
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import visible_work_items

__all__ = [
    "TURNAROUND_BUCKETS",
    "ClientDashboard",
    "backlog_series",
    "client_dashboard",
    "cost_by_day",
    "daily_counts",
    "dashboard_items",
    "live_objectives",
    "mean_turnaround_hours",
]

#: Turnaround buckets: (label, upper bound in hours; None: no bound).
TURNAROUND_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("Under 4 h", 4),
    ("4–8 h", 8),
    ("8–24 h", 24),
    ("1–2 days", 48),
    ("2–3 days", 72),
    ("3–5 days", 120),
    ("Over 5 days", None),
)
# A service or jurisdiction chart shows this many bars; the rest are summed as "Other".
_MOST_BARS = 12
_HOUR = Decimal(3600)
_FTE_DAYS_PER_MONTH = Decimal("365") / 12


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _half_up(value: Decimal, places: str = "0.1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def live_objectives(
    actor: User, *, engagement_id: int | None = None, include_retired: bool = False
) -> QuerySet[Objective]:
    """The objectives of the engagements ``actor`` sees (one engagement when asked), the
    retired ones only when asked."""
    found = Objective.objects.filter(
        engagement__in=visible_engagements(actor).values("pk")
    ).select_related("engagement__client", "proposed_by", "agreed_by")
    if not include_retired:
        found = found.filter(retired_at__isnull=True)
    if engagement_id is not None:
        found = found.filter(engagement_id=engagement_id)
    return found.order_by("engagement__client__name", "engagement__name", "metric")


def dashboard_items(
    actor: User, *, engagement_id: int | None = None, service_id: int | None = None
) -> QuerySet[WorkItem]:
    """The items the dashboard counts for ``actor``: those they may see, narrowed to one
    engagement and one service when asked."""
    items = visible_work_items(actor)
    if engagement_id is not None:
        items = items.filter(engagement_id=engagement_id)
    if service_id is not None:
        items = items.filter(service_id=service_id)
    return items


def daily_counts(
    items: QuerySet[WorkItem], column: str, begin: dt.datetime, finish: dt.datetime
) -> dict[dt.date, int]:
    """How many of ``items`` have ``column`` on each UTC day from ``begin`` to ``finish``."""
    rows = (
        items.filter(**{f"{column}__gte": begin, f"{column}__lt": finish})
        .annotate(day=UtcDate(column))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
        .order_by()
    )
    return {day: n for day, n in rows}


def _cancelled_undelivered(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    return items.filter(state=State.CANCELLED.value, delivered_at__isnull=True)


def backlog_series(items: QuerySet[WorkItem], start: dt.date, end: dt.date) -> list[int]:
    """The backlog at the end of each UTC day from ``start`` to ``end``."""
    begin, finish = utc_bounds(start, end)
    before = (
        items.filter(created_at__lt=begin).count()
        - items.filter(delivered_at__lt=begin).count()
        - _cancelled_undelivered(items).filter(closed_at__lt=begin).count()
    )
    received = daily_counts(items, "created_at", begin, finish)
    delivered = daily_counts(items, "delivered_at", begin, finish)
    cancelled = daily_counts(_cancelled_undelivered(items), "closed_at", begin, finish)
    series, level = [], before
    for day in _days(start, end):
        level += received.get(day, 0) - delivered.get(day, 0) - cancelled.get(day, 0)
        series.append(level)
    return series


def _took() -> ExpressionWrapper:
    return ExpressionWrapper(F("delivered_at") - F("created_at"), output_field=DurationField())


def mean_turnaround_hours(
    items: QuerySet[WorkItem], begin: dt.datetime, finish: dt.datetime
) -> tuple[Decimal | None, int]:
    """The mean turnaround in hours (half up, one decimal) of the items delivered from
    ``begin`` to ``finish``, and how many there were."""
    figures = items.filter(delivered_at__gte=begin, delivered_at__lt=finish).aggregate(
        total=Sum(_took()), n=Count("pk")
    )
    if not figures["n"]:
        return None, 0
    seconds = Decimal(figures["total"].total_seconds())
    return _half_up(seconds / figures["n"] / _HOUR), figures["n"]


def turnaround_buckets(
    items: QuerySet[WorkItem], begin: dt.datetime, finish: dt.datetime
) -> list[int]:
    """How many items delivered in the period took each of :data:`TURNAROUND_BUCKETS`."""
    counts: dict[str, Count] = {}
    lower: dt.timedelta | None = None
    for index, (_, hours) in enumerate(TURNAROUND_BUCKETS):
        upper = dt.timedelta(hours=hours) if hours is not None else None
        condition = Q()
        if lower is not None:
            condition &= Q(took__gte=lower)
        if upper is not None:
            condition &= Q(took__lt=upper)
        counts[f"b{index}"] = Count("pk", filter=condition)
        lower = upper
    figures = (
        items.filter(delivered_at__gte=begin, delivered_at__lt=finish)
        .annotate(took=_took())
        .aggregate(**counts)
    )
    return [figures[f"b{index}"] for index in range(len(TURNAROUND_BUCKETS))]


def received_and_delivered_by(
    items: QuerySet[WorkItem], column: str, begin: dt.datetime, finish: dt.datetime
) -> list[tuple[str, int, int]]:
    """Items received and delivered in the period per value of ``column`` (most received
    first); past :data:`_MOST_BARS` the rest are summed as "Other"."""

    def per(time_column: str) -> dict[str, int]:
        rows = (
            items.filter(**{f"{time_column}__gte": begin, f"{time_column}__lt": finish})
            .values(column)
            .annotate(n=Count("pk"))
            .values_list(column, "n")
            .order_by()
        )
        return {str(value or "").strip() or "Not given": n for value, n in rows}

    received, delivered = per("created_at"), per("delivered_at")
    names = sorted(
        set(received) | set(delivered), key=lambda n: (-received.get(n, 0), n.casefold())
    )
    rows = [(name, received.get(name, 0), delivered.get(name, 0)) for name in names]
    if len(rows) > _MOST_BARS:
        rest = rows[_MOST_BARS - 1 :]
        rows = [
            *rows[: _MOST_BARS - 1],
            ("Other", sum(r[1] for r in rest), sum(r[2] for r in rest)),
        ]
    return rows


def _delivered_by_engagement_day(
    items: QuerySet[WorkItem], begin: dt.datetime, finish: dt.datetime
) -> dict[tuple[int, dt.date], int]:
    """Items delivered per engagement and UTC day of the period."""
    rows = (
        items.filter(delivered_at__gte=begin, delivered_at__lt=finish)
        .annotate(day=UtcDate("delivered_at"))
        .values("engagement_id", "day")
        .annotate(n=Count("pk"))
        .values_list("engagement_id", "day", "n")
        .order_by()
    )
    return {(engagement, day): n for engagement, day, n in rows}


def _worked_by_engagement_day(
    items: QuerySet[WorkItem], begin: dt.datetime, finish: dt.datetime
) -> dict[tuple[int, dt.date], int]:
    """Seconds worked on ``items`` completed on each UTC day, per engagement."""
    from relaydesk.insights.measure_models import ItemMeasure

    rows = (
        ItemMeasure.objects.filter(
            item__in=items.values("pk"), completed_at__gte=begin, completed_at__lt=finish
        )
        .annotate(day=UtcDate("completed_at"))
        .values("engagement_id", "day")
        .annotate(seconds=Sum("handled_seconds"))
        .values_list("engagement_id", "day", "seconds")
        .order_by()
    )
    return {(engagement, day): int(seconds or 0) for engagement, day, seconds in rows}


@dataclass(frozen=True, slots=True)
class Cost:
    """What the work cost in one currency: per day, and in all."""

    currency: str
    per_day: list[Decimal]

    @property
    def total(self) -> Decimal:
        """The period's cost, to the cent."""
        return _half_up(sum(self.per_day, Decimal(0)), "0.01")


def cost_by_day(
    items: QuerySet[WorkItem],
    engagements: QuerySet[Engagement],
    start: dt.date,
    end: dt.date,
) -> list[Cost]:
    """The cost of the work per UTC day, one :class:`Cost` per currency (see the module).

    Three queries whatever the number of engagements: items delivered and hours worked
    per engagement and day, and each engagement's dedicated agents.
    """
    begin, finish = utc_bounds(start, end)
    days = _days(start, end)
    position = {day: n for n, day in enumerate(days)}
    priced = list(engagements.annotate(staff=Count("dedicated_agents")).order_by("pk"))
    bases = {e.pricing_basis for e in priced}
    delivered = (
        _delivered_by_engagement_day(items, begin, finish) if PricingBasis.PER_ITEM in bases else {}
    )
    worked = (
        _worked_by_engagement_day(items, begin, finish) if PricingBasis.PER_HOUR in bases else {}
    )
    rates = {e.pk: e for e in priced}
    totals: dict[str, list[Decimal]] = {
        currency: [Decimal(0)] * len(days) for currency in {e.currency for e in priced}
    }
    for (engagement_id, day), n in delivered.items():
        engagement = rates.get(engagement_id)
        if engagement is not None and engagement.pricing_basis == PricingBasis.PER_ITEM:
            totals[engagement.currency][position[day]] += engagement.rate * n
    for (engagement_id, day), seconds in worked.items():
        engagement = rates.get(engagement_id)
        if engagement is not None and engagement.pricing_basis == PricingBasis.PER_HOUR:
            totals[engagement.currency][position[day]] += engagement.rate * Decimal(seconds) / _HOUR
    for engagement in priced:
        if engagement.pricing_basis == PricingBasis.PER_FTE:
            staff = max(1, engagement.staff)
            daily = engagement.rate * staff / _FTE_DAYS_PER_MONTH
            for day in days:
                if engagement.is_active_on(day):
                    totals[engagement.currency][position[day]] += daily
    return [
        Cost(currency, [_half_up(v, "0.01") for v in values])
        for currency, values in sorted(totals.items())
    ]


@dataclass(frozen=True, slots=True)
class ClientDashboard:
    """The client dashboard for one period: headline figures and charts."""

    start: dt.date
    end: dt.date
    received: int
    delivered: int
    backlog: int
    in_rework: int
    attainment: float | None
    quality_score: float | None
    mean_turnaround: Decimal | None
    costs: list[Cost]
    charts: list[Chart] = field(default_factory=list)

    def chart(self, key: str) -> Chart | None:
        """The chart named ``key``."""
        return next((c for c in self.charts if c.key == key), None)


def _day_label(day: dt.date) -> str:
    return day.isoformat()


def client_dashboard(
    actor: User,
    *,
    start: dt.date,
    end: dt.date,
    engagement_id: int | None = None,
    service_id: int | None = None,
) -> ClientDashboard:
    """The dashboard ``actor`` sees for ``start`` to ``end``: volume, backlog, SLA and
    quality trends, turnaround, work by service and jurisdiction, and cost."""
    if not can(actor.role_enum, Permission.VIEW_DASHBOARD):
        raise NotAllowed("Your role does not see the dashboard.")
    check_figures_request(
        actor, start=start, end=end, group_by="service", engagement_id=engagement_id
    )
    items = dashboard_items(actor, engagement_id=engagement_id, service_id=service_id)
    begin, finish = utc_bounds(start, end)
    days = _days(start, end)
    labels = [_day_label(d) for d in days]
    received = daily_counts(items, "created_at", begin, finish)
    delivered = daily_counts(items, "delivered_at", begin, finish)
    backlog = backlog_series(items, start, end)
    mean_hours, _ = mean_turnaround_hours(items, begin, finish)
    engagements = visible_engagements(actor)
    if engagement_id is not None:
        engagements = engagements.filter(pk=engagement_id)
    costs = cost_by_day(items, engagements.order_by("pk"), start, end)
    sla = attainment_figures(
        actor,
        kind=ClockKind.TURNAROUND,
        start=start,
        end=end,
        group_by="week",
        engagement_id=engagement_id,
        service_id=service_id,
    )
    quality = quality_figures(
        actor,
        start=start,
        end=end,
        group_by="week",
        engagement_id=engagement_id,
        service_id=service_id,
    )
    services = received_and_delivered_by(items, "service__name", begin, finish)
    places = received_and_delivered_by(items, "jurisdiction", begin, finish)
    charts = [
        Chart(
            key="volume",
            title="Received and delivered per day",
            kind="bar",
            labels=labels,
            series=[
                Series("Received", [received.get(d, 0) for d in days]),
                Series("Delivered", [delivered.get(d, 0) for d in days]),
            ],
        ),
        Chart(
            key="backlog",
            title="Backlog at the end of each day",
            kind="line",
            labels=labels,
            series=[Series("Backlog", backlog)],
            note="Received and not yet delivered or cancelled.",
        ),
        Chart(
            key="sla",
            title="Turnaround SLA attainment by week",
            kind="line",
            unit="%",
            labels=[row.label for row in sla.rows],
            series=[Series("Met", [row.percent for row in sla.rows])],
            label_heading="Week",
            note="The Service levels page's figures: targets met or missed in each week.",
        ),
        Chart(
            key="quality",
            title="Quality by week",
            kind="line",
            unit="%",
            labels=[row.label for row in quality.rows],
            series=[
                Series("Quality score", [row.mean_score for row in quality.rows]),
                Series("Pass rate", [row.pass_rate for row in quality.rows]),
            ],
            label_heading="Week",
            note="The Quality page's figures: reviews written in each week.",
        ),
        Chart(
            key="turnaround",
            title="Turnaround of delivered items",
            kind="bar",
            labels=[label for label, _ in TURNAROUND_BUCKETS],
            series=[Series("Items", turnaround_buckets(items, begin, finish))],
            label_heading="Receipt to delivery",
        ),
        Chart(
            key="services",
            title="Work by service",
            kind="hbar",
            labels=[name for name, _, _ in services],
            series=[
                Series("Received", [r for _, r, _ in services]),
                Series("Delivered", [d for _, _, d in services]),
            ],
            label_heading="Service",
        ),
        Chart(
            key="jurisdictions",
            title="Work by jurisdiction",
            kind="hbar",
            labels=[name for name, _, _ in places],
            series=[
                Series("Received", [r for _, r, _ in places]),
                Series("Delivered", [d for _, _, d in places]),
            ],
            label_heading="Jurisdiction",
        ),
        Chart(
            key="cost",
            title="Cost to date",
            kind="line",
            labels=labels,
            series=[Series(cost.currency, _running(cost.per_day)) for cost in costs],
            note="Running total over the period, by the engagements' pricing.",
        ),
    ]
    return ClientDashboard(
        start=start,
        end=end,
        received=sum(received.values()),
        delivered=sum(delivered.values()),
        backlog=backlog[-1] if backlog else 0,
        in_rework=items.filter(state=State.REWORK.value).count(),
        attainment=sla.total.percent,
        quality_score=quality.total.mean_score,
        mean_turnaround=mean_hours,
        costs=costs,
        charts=charts,
    )


def _running(values: list[Decimal]) -> list[float]:
    total, out = Decimal(0), []
    for value in values:
        total += value
        out.append(float(total))
    return out
