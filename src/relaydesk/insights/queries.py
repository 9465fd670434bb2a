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
Volumes and turnaround are read from the daily roll-up (:mod:`relaydesk.insights.daily`),
counted from the items themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement, PricingBasis
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.lifecycle import State
from relaydesk.core.permissions import Permission, can
from relaydesk.core.sla import ClockKind
from relaydesk.errors import NotAllowed
from relaydesk.figures import UtcDate, check_figures_request, utc_bounds
from relaydesk.insights.charts import Chart, Series
from relaydesk.insights.daily import (
    BUCKET_FIELDS,
    TURNAROUND_BUCKETS,
    CountedWork,
    WorkScope,
    days_from,
    work_scope,
)
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

# A service or jurisdiction chart shows this many bars; the rest are summed as "Other".
_MOST_BARS = 12
_HOUR = Decimal(3600)
_HOUR_IN_MICROSECONDS = Decimal(3_600_000_000)
_FTE_DAYS_PER_MONTH = Decimal("365") / 12


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


def daily_counts(work: CountedWork, field: str) -> dict[dt.date, int]:
    """The ``received``, ``delivered`` or ``cancelled`` items on each UTC day of ``work``
    (days without any left out)."""
    counts = work.summed(("day",), (field,))
    return {key[0]: int(figures[field]) for key, figures in counts.items() if figures[field]}  # type: ignore[misc]


def _cancelled_undelivered(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    return items.filter(state=State.CANCELLED.value, delivered_at__isnull=True)


def backlog_series(work: CountedWork) -> list[int]:
    """The backlog at the end of each UTC day of ``work``."""
    begin, _ = utc_bounds(work.start, work.end)
    items = work.scope.items()
    # Open at ``begin``: received before it and delivered after it or not at all, less
    # those cancelled before it. Read from the delivery side of an index, so the count
    # touches the period's deliveries and the undelivered items, not every delivery ever.
    before = (
        items.filter(created_at__lt=begin)
        .filter(Q(delivered_at__isnull=True) | Q(delivered_at__gte=begin))
        .count()
        - _cancelled_undelivered(items).filter(closed_at__lt=begin).count()
    )
    moves = work.summed(("day",), ("received", "delivered", "cancelled"))
    series, level = [], before
    for day in days_from(work.start, work.end):
        figures = moves.get((day,))
        if figures:
            level += int(figures["received"] - figures["delivered"] - figures["cancelled"])
        series.append(level)
    return series


def mean_turnaround_hours(work: CountedWork) -> tuple[Decimal | None, int]:
    """The mean turnaround in hours (half up, one decimal) of the items delivered in
    ``work``'s period, and how many there were."""
    figures = work.summed((), ("delivered", "turnaround_microseconds")).get(())
    delivered = int(figures["delivered"]) if figures else 0
    if not figures or not delivered:
        return None, 0
    took = Decimal(figures["turnaround_microseconds"])
    return _half_up(took / delivered / _HOUR_IN_MICROSECONDS), delivered


def turnaround_buckets(work: CountedWork) -> list[int]:
    """How many items delivered in the period took each of :data:`TURNAROUND_BUCKETS`."""
    figures = work.summed((), BUCKET_FIELDS).get(())
    return [int(figures[name]) if figures else 0 for name in BUCKET_FIELDS]


def received_and_delivered_by(work: CountedWork, dimension: str) -> list[tuple[str, int, int]]:
    """Items received and delivered in the period per ``service`` or ``jurisdiction`` (most
    received first); past :data:`_MOST_BARS` the rest are summed as "Other"."""
    column = {"service": "service_id", "jurisdiction": "jurisdiction"}[dimension]
    counts = work.summed((column,), ("received", "delivered"))
    names: dict[object, str] = {}
    if dimension == "service":
        names = dict(
            Service.objects.filter(pk__in=[k[0] for k in counts]).values_list("pk", "name")
        )
    received: dict[str, int] = defaultdict(int)
    delivered: dict[str, int] = defaultdict(int)
    for (value,), figures in counts.items():
        name = names.get(value, "") if dimension == "service" else str(value or "")
        name = name.strip() or "Not given"
        received[name] += int(figures["received"])
        delivered[name] += int(figures["delivered"])
    shown = sorted(
        (n for n in set(received) | set(delivered) if received[n] or delivered[n]),
        key=lambda n: (-received[n], n.casefold()),
    )
    rows = [(name, received[name], delivered[name]) for name in shown]
    if len(rows) > _MOST_BARS:
        rest = rows[_MOST_BARS - 1 :]
        rows = [
            *rows[: _MOST_BARS - 1],
            ("Other", sum(r[1] for r in rest), sum(r[2] for r in rest)),
        ]
    return rows


def _worked_by_engagement_day(
    scope: WorkScope,
    engagement_ids: list[int],
    begin: dt.datetime,
    finish: dt.datetime,
) -> dict[tuple[int, dt.date], int]:
    """Seconds worked on the scope's items of ``engagement_ids`` completed on each UTC day,
    per engagement."""
    # Read off the per-item roll-up, narrowed by its own engagement and completion time
    # (an index of both carries the worked time), without joining the items.
    rows = (
        scope.measures()
        .filter(
            engagement_id__in=engagement_ids,
            completed_at__gte=begin,
            completed_at__lt=finish,
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


def cost_by_day(work: CountedWork, engagements: QuerySet[Engagement]) -> list[Cost]:
    """The cost of the work per UTC day, one :class:`Cost` per currency (see the module).

    A few queries whatever the number of engagements: items delivered (from the daily
    roll-up) and hours worked per engagement and day, and each engagement's dedicated
    agents.
    """
    begin, finish = utc_bounds(work.start, work.end)
    days = days_from(work.start, work.end)
    position = {day: n for n, day in enumerate(days)}
    priced = list(engagements.annotate(staff=Count("dedicated_agents")).order_by("pk"))
    bases = {e.pricing_basis for e in priced}
    delivered: dict[tuple[int, dt.date], int] = {}
    if PricingBasis.PER_ITEM in bases:
        per = work.summed(("engagement_id", "day"), ("delivered",))
        delivered = {key: int(f["delivered"]) for key, f in per.items()}  # type: ignore[misc]
    hourly = [e.pk for e in priced if e.pricing_basis == PricingBasis.PER_HOUR]
    worked = _worked_by_engagement_day(work.scope, hourly, begin, finish) if hourly else {}
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
    scope = work_scope(actor, engagement_id=engagement_id, service_id=service_id)
    work = CountedWork(scope, start, end)
    days = days_from(start, end)
    labels = [_day_label(d) for d in days]
    received = daily_counts(work, "received")
    delivered = daily_counts(work, "delivered")
    backlog = backlog_series(work)
    mean_hours, _ = mean_turnaround_hours(work)
    engagements = visible_engagements(actor)
    if engagement_id is not None:
        engagements = engagements.filter(pk=engagement_id)
    costs = cost_by_day(work, engagements.order_by("pk"))
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
    services = received_and_delivered_by(work, "service")
    places = received_and_delivered_by(work, "jurisdiction")
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
            series=[Series("Items", turnaround_buckets(work))],
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
        in_rework=scope.items().filter(state=State.REWORK.value).count(),
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
