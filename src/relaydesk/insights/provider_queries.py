"""The operations dashboard's figures: per site, team and agent, and the coverage heat map.

For the provider's operations leads and admins. Work figures are counted and summed by
the database from the roll-up (:class:`~relaydesk.insights.measure_models.ItemMeasure`),
grouped by site and agent: the last two days live, settled days from the dashboard's
daily roll-up (:mod:`relaydesk.insights.ops_daily`), counted once by these same
functions, day by day, so the two add up to the live figures to the second. SLA
attainment and quality come from :func:`relaydesk.sla.queries.attainment_figures` and
:func:`relaydesk.quality.queries.quality_figures` grouped by agent (a site's figures add
up its agents', which is what their grouping by site counts), so they agree with the
*Service levels* and *Quality* pages to the digit. Time on shift comes from the agents' shift
calendars (:class:`relaydesk.routing.queries.CalendarBook`): their site's weekly shifts
(their own shift's only, when they work one), less holidays, plus overtime.

Definitions:

- *completed*: items whose last completion falls in the period, counted for the agent
  who completed them and that agent's site (see :mod:`relaydesk.insights.measures`);
- *mean handle time*: their handled time (in progress, over every spell) per item;
- *handled time on shift*: of each agent, the time their items were in progress inside
  their shifts in the period (the item's slices, :class:`HandledSlice`, counted for who
  worked them, on the day they were worked, whichever item it was and whenever it was
  completed), hour by hour: in each UTC hour, the seconds in progress that fall on the
  agent's shift, at most the time they were on shift in that hour (several items in
  progress at once fill the hour, never more); time in progress off shift (an item left
  in progress overnight) does not count;
- *utilisation*: handled time on shift as a share of the time on shift in the period, up
  to now, so never above 100 % for an agent (time in progress counts once its spell ends:
  the agent stops, completes or hands the item on); a team's or site's is its agents' handled
  time on shift over their time on shift (with an engagement chosen: the share of shift
  time spent on its items);
- *team*: the agents working the same named shift at a site (Manila · Night); an agent
  who works every shift of their site is in the site's "Every shift" team. There is no
  other team in the workforce.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import CharField, Count, Func, Q, Sum
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.core.shifts import ShiftCalendar
from relaydesk.core.sla import ClockKind
from relaydesk.errors import NotAllowed
from relaydesk.figures import UtcDate, UtcHour, check_figures_request, utc_bounds
from relaydesk.insights.charts import Chart, Series
from relaydesk.insights.measure_models import HandledSlice, ItemMeasure
from relaydesk.quality.queries import QualityRow, quality_figures
from relaydesk.routing.queries import CalendarBook
from relaydesk.sla.queries import AttainmentRow, attainment_figures
from relaydesk.workforce.models import Agent, Site

__all__ = [
    "HEAT_LEVELS",
    "CompletedWork",
    "Coverage",
    "HeatCell",
    "HeatMap",
    "HeatRow",
    "OperationsDashboard",
    "PerformanceRow",
    "WorkCount",
    "arrivals",
    "arrivals_by_hour",
    "completed_work",
    "coverage_heat_map",
    "figure_text",
    "handled_by_agent_hour",
    "handled_on_shift",
    "on_shift",
    "on_shift_by_hour",
    "on_shift_intervals",
    "operations_dashboard",
    "shift_seconds",
]

HOURS = range(24)
#: Colour steps of the heat map: heat-1 (quietest) to heat-5 (busiest hour per person).
HEAT_LEVELS = 5
_DAY = dt.timedelta(days=1)
_HOUR = dt.timedelta(hours=1)
_HOUR_SECONDS = 3600
_HOUR_MICROSECONDS = _HOUR_SECONDS * 1_000_000
_MICROSECOND = dt.timedelta(microseconds=1)
#: UTC hours asked for at once when reading the slices of hours partly on shift.
_HOURS_PER_READ = 500
EVERY_SHIFT = "Every shift"

Interval = tuple[dt.datetime, dt.datetime]


def _require_dashboard(actor: User) -> None:
    if not can(actor.role_enum, Permission.VIEW_OPERATIONS_DASHBOARD):
        raise NotAllowed("The operations dashboard is for operations leads and provider admins.")


def figure_text(value: float | int | None) -> str:
    """A figure as the page and its CSV show it: a count as is, anything else to one
    decimal, nothing when there is no figure."""
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def _one_decimal(value: float) -> float:
    """Rounded half up to one decimal, as the other figures pages round."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), "ROUND_HALF_UP"))


# --- time on shift ------------------------------------------------------------------------------


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals joined, in start order."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def on_shift_intervals(
    calendar: ShiftCalendar, begin: dt.datetime, finish: dt.datetime
) -> list[Interval]:
    """When ``calendar`` is on shift from ``begin`` to ``finish``: its weekly shifts (less
    days off) and overtime, merged and clipped to the period."""
    zone = ZoneInfo(calendar.time_zone)
    # A shift that started the local day before may still run at ``begin``.
    first = begin.astimezone(zone).date() - _DAY
    last = finish.astimezone(zone).date()
    found = calendar.occurrences(first, last) + [
        (s, e) for s, e in calendar.extra if e > begin and s < finish
    ]
    clipped = ((max(s, begin), min(e, finish)) for s, e in found)
    return _merged((s, e) for s, e in clipped if e > s)


def shift_seconds(calendar: ShiftCalendar, begin: dt.datetime, finish: dt.datetime) -> int:
    """Seconds on shift by ``calendar`` from ``begin`` to ``finish``."""
    return int(sum((e - s).total_seconds() for s, e in on_shift_intervals(calendar, begin, finish)))


#: A UTC day and an hour of it (0–23).
Slot = tuple[dt.date, int]


#: Time on shift cut at UTC hours: per first instant of an hour, the parts of it on shift.
Cover = dict[dt.datetime, list[Interval]]


def _hour_cover(intervals: Iterable[Interval]) -> Cover:
    """The intervals cut at UTC hours: per first instant of an hour, the parts inside it."""
    cover: dict[dt.datetime, list[Interval]] = defaultdict(list)
    for start, end in intervals:
        at, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        while at < end:
            hour = at.replace(minute=0, second=0, microsecond=0)
            upto = min(hour + _HOUR, end)
            cover[hour].append((at, upto))
            at = upto
    return dict(cover)


def _slot_shares(intervals: Iterable[Interval]) -> dict[Slot, float]:
    """Hours on shift falling in each UTC hour of each UTC day."""
    shares: dict[Slot, float] = defaultdict(float)
    for start, end in intervals:
        at = start.astimezone(dt.UTC)
        while at < end:
            upto = min(at.replace(minute=0, second=0, microsecond=0) + _HOUR, end)
            shares[(at.date(), at.hour)] += (upto - at).total_seconds() / 3600
            at = upto
    return shares


class _Calendars:
    """The agents' calendars from one :class:`CalendarBook`, and when they are on shift in
    a period, each calendar worked out once (agents of the same shift share one)."""

    def __init__(self, agents: list[Agent]) -> None:
        self.book = CalendarBook(sites=list({a.site_id: a.site for a in agents}.values()))
        self._intervals: dict[tuple[int, dt.datetime, dt.datetime], list[Interval]] = {}
        self._covers: dict[tuple[int, dt.datetime, dt.datetime], Cover] = {}
        self._spans: dict[tuple[int, dt.datetime, dt.datetime], dict[dt.datetime, int]] = {}

    def key(self, agent: Agent) -> int:
        """The same for agents who share a calendar (the book keeps one per site, shift and
        own overtime)."""
        return id(self.book.for_agent(agent))

    def intervals(self, agent: Agent, begin: dt.datetime, finish: dt.datetime) -> list[Interval]:
        """When ``agent`` is on shift from ``begin`` to ``finish``."""
        key = (self.key(agent), begin, finish)
        if key not in self._intervals:
            calendar = self.book.for_agent(agent)
            self._intervals[key] = on_shift_intervals(calendar, begin, finish)
        return self._intervals[key]

    def seconds(self, agent: Agent, begin: dt.datetime, finish: dt.datetime) -> int:
        """Seconds ``agent`` is on shift from ``begin`` to ``finish``."""
        return int(sum((e - s).total_seconds() for s, e in self.intervals(agent, begin, finish)))

    def cover(self, agent: Agent, begin: dt.datetime, finish: dt.datetime) -> Cover:
        """When ``agent`` is on shift from ``begin`` to ``finish``, per UTC hour."""
        key = (self.key(agent), begin, finish)
        if key not in self._covers:
            self._covers[key] = _hour_cover(self.intervals(agent, begin, finish))
        return self._covers[key]

    def spans(
        self, agent: Agent, begin: dt.datetime, finish: dt.datetime
    ) -> dict[dt.datetime, int]:
        """Per UTC hour of :meth:`cover`, the microseconds of it on shift."""
        key = (self.key(agent), begin, finish)
        if key not in self._spans:
            cover = self.cover(agent, begin, finish)
            self._spans[key] = {hour: _microseconds(parts) for hour, parts in cover.items()}
        return self._spans[key]


def _agents(extra_user_ids: Iterable[int] = ()) -> list[Agent]:
    """Active agents, and any other agent named in the period's figures."""
    return list(
        Agent.objects.select_related("user", "site")
        .filter(Q(user__is_active=True) | Q(user_id__in=list(extra_user_ids)))
        .order_by("site__name", "user__full_name", "pk")
    )


@dataclass(frozen=True, slots=True)
class Coverage:
    """People on shift: per site and UTC hour of the day summed over the period's days
    (``per_site``), and at all sites per UTC day and hour (``per_slot``)."""

    per_site: dict[int, list[float]]
    per_slot: dict[Slot, float]


def on_shift(
    agents: list[Agent],
    begin: dt.datetime,
    finish: dt.datetime,
    calendars: _Calendars | None = None,
) -> Coverage:
    """Who of ``agents`` is on shift when from ``begin`` to ``finish``, by their calendars
    (each calendar worked out once, counted for every agent who has it)."""
    calendars = calendars or _Calendars(agents)
    sharing: dict[int, tuple[Agent, dict[int, int]]] = {}
    for agent in agents:
        _, sites = sharing.setdefault(calendars.key(agent), (agent, defaultdict(int)))
        sites[agent.site_id] += 1
    per_site: dict[int, list[float]] = {}
    per_slot: dict[Slot, float] = defaultdict(float)
    for first, sites in sharing.values():
        shares = _slot_shares(calendars.intervals(first, begin, finish))
        people = sum(sites.values())
        for (day, hour), value in shares.items():
            per_slot[(day, hour)] += value * people
        for site_id, count in sites.items():
            row = per_site.setdefault(site_id, [0.0] * 24)
            for (_, hour), value in shares.items():
                row[hour] += value * count
    return Coverage(per_site=per_site, per_slot=dict(per_slot))


def on_shift_by_hour(
    agents: list[Agent], begin: dt.datetime, finish: dt.datetime
) -> dict[int, list[float]]:
    """Per site id, the people on shift in each UTC hour of the day (0–23), summed over the
    period's days (divide by the days for a daily average)."""
    return on_shift(agents, begin, finish).per_site


# --- work figures from the roll-up -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkCount:
    """Items completed and their handled time, of one site and agent."""

    completed: int = 0
    handled_seconds: int = 0

    def plus(self, other: WorkCount) -> WorkCount:
        """The two counts added."""
        return WorkCount(
            self.completed + other.completed, self.handled_seconds + other.handled_seconds
        )


@dataclass(frozen=True, slots=True)
class CompletedWork:
    """The period's completed items by site, agent and UTC day (from one grouped query)."""

    groups: dict[tuple[int | None, int | None, dt.date], WorkCount]

    def by_site(self) -> dict[int | None, WorkCount]:
        """Items and handled time per site id."""
        return self._by(lambda site, agent, day: site)

    def by_agent(self) -> dict[int | None, WorkCount]:
        """Items and handled time per agent (user id)."""
        return self._by(lambda site, agent, day: agent)

    def per_day(self) -> dict[tuple[int | None, dt.date], int]:
        """Items per (site id, UTC day)."""
        counts: dict[tuple[int | None, dt.date], int] = defaultdict(int)
        for (site, _, day), count in self.groups.items():
            counts[(site, day)] += count.completed
        return dict(counts)

    def _by(
        self, key: Callable[[int | None, int | None, dt.date], int | None]
    ) -> dict[int | None, WorkCount]:
        sums: dict[int | None, WorkCount] = defaultdict(WorkCount)
        for (site, agent, day), count in self.groups.items():
            group = key(site, agent, day)
            sums[group] = sums[group].plus(count)
        return dict(sums)


class _StoredHour(Func):
    """A slice's ``hour`` as the database hands it back, without Django reading each row: a
    datetime on PostgreSQL, the stored UTC text (``YYYY-MM-DD HH:MM:SS``) on SQLite, which
    :func:`handled_by_agent_hour` reads once per distinct hour (a month grouped by agent and
    hour is tens of thousands of rows over some seven hundred hours)."""

    template = "%(expressions)s"
    output_field = CharField()


def _utc_hour(value: dt.datetime | str) -> dt.datetime:
    """An hour as :class:`_StoredHour` returns it, as an aware UTC datetime."""
    at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def handled_by_agent_hour(
    begin: dt.datetime, finish: dt.datetime, engagement_id: int | None = None
) -> dict[int, dict[dt.datetime, int]]:
    """Seconds in progress per agent (user id) and UTC hour (its first instant) from
    ``begin`` to ``finish`` (both on the hour): one grouped query on the slices, read from
    their hour index."""
    slices = HandledSlice.objects.filter(hour__gte=begin, hour__lt=finish, agent__isnull=False)
    if engagement_id is not None:
        slices = slices.filter(engagement_id=engagement_id)
    rows = (
        slices.annotate(at=_StoredHour("hour"))
        .values_list("agent_id", "at")
        .annotate(total=Sum("seconds"))
        .order_by()
    )
    hours: dict[dt.datetime | str, dt.datetime] = {}
    found: dict[int, dict[dt.datetime, int]] = defaultdict(dict)
    for agent_id, stored, total in rows:
        hour = hours.get(stored)
        if hour is None:
            hour = hours[stored] = _utc_hour(stored)
        found[agent_id][hour] = int(total or 0)
    return dict(found)


def _microseconds(intervals: Iterable[Interval]) -> int:
    """The length of ``intervals`` in whole microseconds (exact: no float is summed)."""
    return sum((end - start) // _MICROSECOND for start, end in intervals)


def whole_seconds(microseconds: int) -> int:
    """Microseconds to the nearest second, a half to the even second (as ``round``)."""
    seconds, rest = divmod(microseconds, 1_000_000)
    if rest > 500_000 or (rest == 500_000 and seconds % 2):
        seconds += 1
    return seconds


#: Whose handled time on shift a figure is: an agent (user id) and an engagement (None: all
#: of the agent's work together).
OnShiftKey = tuple[int, int | None]


def handled_on_shift(
    agents: list[Agent],
    begin: dt.datetime,
    finish: dt.datetime,
    engagement_id: int | None = None,
    *,
    calendars: _Calendars | None = None,
    handled: dict[int, dict[dt.datetime, int]] | None = None,
) -> dict[int, int]:
    """Per agent of ``agents`` (user id), their handled time on shift from ``begin`` to
    ``finish``, in seconds (see the module's definitions).

    The seconds per agent and hour are summed by the database (``handled``, when the caller
    has them already); an hour wholly on the agent's shift counts them up to the hour, one
    wholly off shift not at all. Only for the few hours a shift starts or ends inside (a
    half-hour time zone, overtime to the minute) are that agent's slices of that hour read,
    to count the seconds that fall on shift.
    """
    calendars = calendars or _Calendars(agents)
    if handled is None:
        handled = handled_by_agent_hour(begin, finish, engagement_id)
    counted = on_shift_microseconds_by_day(
        agents,
        begin,
        finish,
        {(user_id, engagement_id): hours for user_id, hours in handled.items()},
        calendars=calendars,
        engagement_id=engagement_id,
    )
    return {user_id: whole_seconds(sum(days.values())) for (user_id, _), days in counted.items()}


def on_shift_microseconds_by_day(
    agents: list[Agent],
    begin: dt.datetime,
    finish: dt.datetime,
    handled: dict[OnShiftKey, dict[dt.datetime, int]],
    *,
    calendars: _Calendars,
    engagement_id: int | None = None,
    per_engagement: bool = False,
) -> dict[OnShiftKey, dict[dt.date, int]]:
    """:func:`handled_on_shift` per UTC day, exact to the microsecond: for each agent and
    engagement of ``handled`` (seconds in progress per UTC hour, from ``begin`` to
    ``finish``), the time on shift with work on each day they had work.

    Each hour is counted on its own, so a period's figure is the sum of its days'. The
    slices of hours partly on shift are read of ``engagement_id`` (None: all), counted for
    the one key of their agent; with ``per_engagement``, ``handled`` has a key per agent and
    engagement and one of all their work (engagement None), and each slice counts for both.
    Agents not in ``agents`` are left out.
    """
    by_user = {agent.user_id: agent for agent in agents}
    counted: dict[OnShiftKey, dict[dt.date, int]] = {}
    partly: dict[int, dict[dt.datetime, list[Interval]]] = defaultdict(dict)
    pending: list[tuple[OnShiftKey, dt.datetime, int]] = []
    for key, hours in handled.items():
        agent = by_user.get(key[0])
        if agent is None:
            continue
        cover = calendars.cover(agent, begin, finish)
        spans = calendars.spans(agent, begin, finish)
        days: dict[dt.date, int] = defaultdict(int)
        for hour, seconds in hours.items():
            day = hour.date()
            span = spans.get(hour)
            if not span:
                days[day] += 0  # a day with work shows, even with none of it on shift
            elif span >= _HOUR_MICROSECONDS:
                days[day] += min(seconds, _HOUR_SECONDS) * 1_000_000
            else:
                days[day] += 0
                partly[key[0]][hour] = cover[hour]
                pending.append((key, hour, span))
        counted[key] = days
    if pending:
        overlaps = _on_shift_in_hours(partly, engagement_id, per_engagement)
        for (user_id, group), hour, span in pending:
            in_shift = overlaps.get((user_id, group, hour), 0)
            counted[(user_id, group)][hour.date()] += min(in_shift, span)
    return {key: dict(days) for key, days in counted.items()}


def _on_shift_in_hours(
    partly: dict[int, dict[dt.datetime, list[Interval]]],
    engagement_id: int | None,
    per_engagement: bool = False,
) -> dict[tuple[int, int | None, dt.datetime], int]:
    """Per (agent, engagement, hour) of ``partly``, the microseconds of the agent's slices
    in that hour that fall inside the given parts of it (the agent's time on shift in the
    hour); see :func:`on_shift_microseconds_by_day` for the engagements."""
    found: dict[tuple[int, int | None, dt.datetime], int] = defaultdict(int)
    hours = sorted({hour for per_hour in partly.values() for hour in per_hour})
    for first in range(0, len(hours), _HOURS_PER_READ):
        slices = HandledSlice.objects.filter(
            hour__in=hours[first : first + _HOURS_PER_READ], agent_id__in=list(partly)
        )
        if engagement_id is not None:
            slices = slices.filter(engagement_id=engagement_id)
        for user_id, engaged, stored, start, end in slices.values_list(
            "agent_id", "engagement_id", "hour", "started_at", "ended_at"
        ).order_by():
            hour = stored.astimezone(dt.UTC)
            on_shift = partly[user_id].get(hour)
            if on_shift is None:
                continue
            overlap = sum(
                max(0, (min(end, upto) - max(start, at)) // _MICROSECOND) for at, upto in on_shift
            )
            if per_engagement:
                found[(user_id, engaged, hour)] += overlap
                found[(user_id, None, hour)] += overlap
            else:
                found[(user_id, engagement_id, hour)] += overlap
    return found


def completed_work(
    begin: dt.datetime, finish: dt.datetime, engagement_id: int | None = None
) -> CompletedWork:
    """Items completed from ``begin`` to ``finish`` and their handled time, by site, agent
    and UTC day: one grouped query on the roll-up, read from its completion index."""
    measures = ItemMeasure.objects.filter(completed_at__gte=begin, completed_at__lt=finish)
    if engagement_id is not None:
        measures = measures.filter(engagement_id=engagement_id)
    rows = (
        measures.annotate(day=UtcDate("completed_at"))
        .values_list("site_id", "agent_id", "day")
        .annotate(n=Count("pk"), handled=Sum("handled_seconds"))
        .order_by()
    )
    return CompletedWork(
        {
            (site, agent, day): WorkCount(n, int(handled or 0))
            for site, agent, day, n, handled in rows
        }
    )


def arrivals(
    begin: dt.datetime, finish: dt.datetime, engagement_id: int | None = None
) -> dict[Slot, int]:
    """Items that arrived from ``begin`` to ``finish``, per UTC day and hour: one grouped
    query on the roll-up, read from its arrival index."""
    measures = ItemMeasure.objects.filter(created_at__gte=begin, created_at__lt=finish)
    if engagement_id is not None:
        measures = measures.filter(engagement_id=engagement_id)
    rows = (
        measures.annotate(day=UtcDate("created_at"), hour=UtcHour("created_at"))
        .values_list("day", "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(day, hour): n for day, hour, n in rows}


def arrivals_by_hour(
    begin: dt.datetime, finish: dt.datetime, engagement_id: int | None = None
) -> list[int]:
    """Items that arrived from ``begin`` to ``finish`` in each UTC hour of the day (0–23)."""
    counts = [0] * 24
    for (_, hour), n in arrivals(begin, finish, engagement_id).items():
        counts[hour] += n
    return counts


# --- the dashboard --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformanceRow:
    """One site, team or agent on the dashboard."""

    key: str
    label: str
    site: str
    completed: int
    handled_seconds: int
    shift_seconds: int
    handled_on_shift_seconds: int
    sla: AttainmentRow
    quality: QualityRow | None

    @property
    def mean_handle_minutes(self) -> float | None:
        """Handled time per completed item, in minutes to one decimal."""
        if not self.completed:
            return None
        return _one_decimal(self.handled_seconds / self.completed / 60)

    @property
    def utilisation(self) -> float | None:
        """Handled time on shift in per cent of time on shift, to one decimal; None without
        shifts."""
        if not self.shift_seconds:
            return None
        return _one_decimal(self.handled_on_shift_seconds * 100 / self.shift_seconds)

    @property
    def shift_hours(self) -> float:
        """Time on shift in hours, to one decimal."""
        return _one_decimal(self.shift_seconds / 3600)

    @property
    def sla_percent(self) -> float | None:
        """SLA attainment in per cent (as the *Service levels* page shows it)."""
        return self.sla.percent

    @property
    def quality_score(self) -> float | None:
        """The quality score (as the *Quality* page shows it)."""
        return self.quality.mean_score if self.quality is not None else None

    @property
    def reviews(self) -> int:
        """Standing reviews counted in the quality score."""
        return self.quality.reviews if self.quality is not None else 0


@dataclass(frozen=True, slots=True)
class HeatCell:
    """One site in one UTC hour: people on shift (daily average) and their local hour."""

    staff: float
    local: str
    # 1–5 by the hour's load per person, 0 without arrivals; None: nobody of the site on shift.
    level: int | None
    # Days of the period on which work arrived in this hour and nobody anywhere was on shift.
    gap_days: int = 0
    # Nobody at any site is ever on shift in this hour.
    uncovered: bool = False

    @property
    def staff_text(self) -> str:
        """People on shift as shown."""
        return figure_text(self.staff)

    @property
    def css(self) -> str:
        """The cell's classes: ``heat-off`` (nobody of the site on shift) or ``heat-0`` …
        ``heat-5``; ``heat-gap`` in an hour nobody anywhere ever works and work arrived in,
        ``heat-gap-days`` on top of the colour of a site that works an hour which had a gap
        on some days."""
        if self.level is None:
            return "heat-gap" if self.gap_days and self.uncovered else "heat-off"
        colour = f"heat-{self.level}"
        return f"{colour} heat-gap-days" if self.gap_days else colour


@dataclass(frozen=True, slots=True)
class HeatRow:
    """A site's row of the heat map."""

    site: str
    time_zone: str
    cells: list[HeatCell]


@dataclass(frozen=True, slots=True)
class HeatMap:
    """Arrivals against people on shift, per site and UTC hour of the day, averaged per day.

    ``load[h]`` is the items arriving in hour ``h`` per day; ``on_shift[h]`` the people
    on shift then at all sites, per day; ``per_person[h]`` their ratio, to two decimals
    (None with nobody on shift); ``gap_days[h]`` the days on which work arrived in hour
    ``h`` and nobody anywhere was on shift at any moment of it. The other figures are
    rounded to one decimal, as shown.
    """

    days: int
    rows: list[HeatRow]
    load: list[float]
    on_shift: list[float]
    per_person: list[float | None]
    levels: list[int | None]
    gap_days: list[int]
    legend: list[tuple[str, str]]

    @property
    def hours(self) -> range:
        """The columns: UTC hours 0–23."""
        return HOURS

    @property
    def gaps(self) -> list[int]:
        """The hours of the day with a gap on at least one day."""
        return [h for h in HOURS if self.gap_days[h]]

    @property
    def gap_hours(self) -> int:
        """How many hours of the period had a gap."""
        return sum(self.gap_days)

    @property
    def footer(self) -> list[tuple[str, str, str, str, str]]:
        """Per hour, as shown: arrivals, everyone on shift, load per person and its class,
        and the days with a gap."""
        return [
            (
                figure_text(self.load[h]),
                figure_text(self.on_shift[h]),
                "" if self.per_person[h] is None else f"{self.per_person[h]:.2f}",
                "heat-0" if self.levels[h] is None else f"heat-{self.levels[h]}",
                str(self.gap_days[h]) if self.gap_days[h] else "",
            )
            for h in HOURS
        ]

    @property
    def gap_text(self) -> list[str]:
        """The gaps as runs of hours with the days they happened on, e.g. "02:00–04:00 UTC
        (3 days)"."""
        runs: list[tuple[int, int, int]] = []
        for hour in self.gaps:
            if runs and runs[-1][1] == hour:
                runs[-1] = (runs[-1][0], hour + 1, max(runs[-1][2], self.gap_days[hour]))
            else:
                runs.append((hour, hour + 1, self.gap_days[hour]))
        if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == 24:
            # A run through midnight reads as one: 22:00–02:00.
            last = runs.pop()
            runs[0] = (last[0], runs[0][1], max(last[2], runs[0][2]))
        return [
            f"{a:02d}:00–{b % 24:02d}:00 UTC ({days} day{'s' if days != 1 else ''})"
            for a, b, days in runs
        ]


def _level(value: float | None, busiest: float) -> int | None:
    """The colour step of ``value`` against the busiest hour's load per person."""
    if value is None or busiest <= 0:
        return None
    return max(1, min(HEAT_LEVELS, math.ceil(value / busiest * HEAT_LEVELS - 1e-9)))


def _two_decimals(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), "ROUND_HALF_UP"))


def coverage_heat_map(
    actor: User,
    *,
    start: dt.date,
    end: dt.date,
    engagement_id: int | None = None,
    agents: list[Agent] | None = None,
    calendars: _Calendars | None = None,
    arrived_per_slot: dict[Slot, int] | None = None,
) -> HeatMap:
    """The site-by-hour coverage heat map over the UTC days ``start`` to ``end``.

    Load is the items arriving (of the engagement, if one is chosen) in each UTC hour of
    the day, per day of the period; staff the active agents on shift then by their
    calendars (holidays off, overtime on), per day. Each site's cell is coloured by the
    hour's load per person on shift (all sites together), when the site has someone on
    shift. A gap is an hour of a day in which work arrived and nobody at any site was on
    shift: counted day by day, so a holiday or a weekend shows even where other days are
    covered. ``arrived_per_slot``: the period's arrivals per UTC day and hour, when the caller has
    them (the dashboard, partly from its roll-up).
    """
    _require_dashboard(actor)
    check_figures_request(actor, start=start, end=end, group_by="site", engagement_id=engagement_id)
    begin, finish = utc_bounds(start, end)
    days = (end - start).days + 1
    agents = agents if agents is not None else _agents()
    coverage = on_shift(agents, begin, finish, calendars)
    arrived_in = arrived_per_slot
    if arrived_in is None:
        arrived_in = arrivals(begin, finish, engagement_id)
    arrived = [0] * 24
    gap_days = [0] * 24
    for (day, hour), n in arrived_in.items():
        arrived[hour] += n
        if n and coverage.per_slot.get((day, hour), 0.0) <= 0:
            gap_days[hour] += 1
    sites = sorted({a.site_id: a.site for a in agents}.values(), key=lambda s: s.name)
    staffed = [sum(coverage.per_site.get(s.pk, [0.0] * 24)[h] for s in sites) for h in HOURS]
    per_person: list[float | None] = [
        _two_decimals(arrived[h] / staffed[h]) if staffed[h] > 0 else None for h in HOURS
    ]
    busiest = max((v for v in per_person if v is not None), default=0.0)
    levels = [_level(v, busiest) if arrived[h] else None for h, v in enumerate(per_person)]
    # Local hours as they are on the period's last day (a clock change moves them by one).
    last_day = dt.datetime.combine(end, dt.time(0), tzinfo=dt.UTC)
    rows = []
    for site in sites:
        zone = ZoneInfo(site.time_zone)
        site_staff = coverage.per_site.get(site.pk, [0.0] * 24)
        cells = [
            HeatCell(
                staff=_one_decimal(site_staff[hour] / days),
                local=(last_day + hour * _HOUR).astimezone(zone).strftime("%H:%M"),
                level=(levels[hour] or 0) if site_staff[hour] > 0 else None,
                gap_days=gap_days[hour],
                uncovered=staffed[hour] <= 0,
            )
            for hour in HOURS
        ]
        rows.append(HeatRow(site=site.name, time_zone=site.time_zone, cells=cells))
    return HeatMap(
        days=days,
        rows=rows,
        load=[_one_decimal(n / days) for n in arrived],
        on_shift=[_one_decimal(v / days) for v in staffed],
        per_person=per_person,
        levels=levels,
        gap_days=gap_days,
        legend=_legend(busiest),
    )


def _legend(busiest: float) -> list[tuple[str, str]]:
    """(class, text) per colour step: the range of items per person on shift it stands for."""
    if busiest <= 0:
        return []
    step = busiest / HEAT_LEVELS
    return [(f"heat-{n}", f"up to {step * n:.2f}") for n in range(1, HEAT_LEVELS + 1)]


@dataclass
class OperationsDashboard:
    """Everything the operations dashboard shows for one period and engagement."""

    start: dt.date
    end: dt.date
    engagement_id: int | None
    sites: list[PerformanceRow]
    teams: list[PerformanceRow]
    agents: list[PerformanceRow]
    total: PerformanceRow
    heat_map: HeatMap
    days: list[dt.date]
    completed_per_day: dict[str, list[int]] = field(default_factory=dict)

    def charts(self) -> list[Chart]:
        """The dashboard's charts, in page order."""
        sites = [row for row in self.sites if row.key]
        labels = [row.label for row in sites]
        return [
            Chart(
                key="completed-per-day",
                title="Items completed per day, by site",
                kind="stacked",
                labels=[f"{day:%b %-d}" for day in self.days],
                series=[Series(name, values) for name, values in self.completed_per_day.items()],
                note="Counted on the UTC day of each item's last completion.",
            ),
            Chart(
                key="utilisation-by-site",
                title="Utilisation and SLA attainment by site",
                kind="bar",
                labels=labels,
                series=[
                    Series("Utilisation", [row.utilisation for row in sites]),
                    Series("SLA attainment", [row.sla_percent for row in sites]),
                ],
                unit="%",
                label_heading="Site",
                note=(
                    "Utilisation: time on items during the shift (items worked at once fill an "
                    "hour at most) over time on shift. "
                    "SLA: turnaround clocks met."
                ),
            ),
            Chart(
                key="handle-time-by-site",
                title="Mean handle time by site",
                kind="bar",
                labels=labels,
                series=[Series("Minutes per item", [row.mean_handle_minutes for row in sites])],
                unit="min",
                label_heading="Site",
            ),
            Chart(
                key="quality-by-site",
                title="Quality score by site",
                kind="bar",
                labels=labels,
                series=[Series("Quality score", [row.quality_score for row in sites])],
                label_heading="Site",
                note="The mean QA review score of the site's agents' work.",
            ),
        ]

    def chart(self, key: str) -> Chart | None:
        """The chart named ``key``, if there is one."""
        return next((c for c in self.charts() if c.key == key), None)


def _sum_quality(key: str, label: str, rows: list[QualityRow]) -> QualityRow | None:
    """Several groups' quality figures as one (the score stays the mean of all reviews)."""
    if not rows:
        return None
    defects: dict[str, int] = defaultdict(int)
    for row in rows:
        for category, count in row.defects.items():
            defects[category] += count
    return QualityRow(
        key=key,
        label=label,
        reviews=sum(r.reviews for r in rows),
        passed=sum(r.passed for r in rows),
        auto_failed=sum(r.auto_failed for r in rows),
        overturned=sum(r.overturned for r in rows),
        score_total=sum((r.score_total for r in rows), Decimal(0)),
        counted=sum(r.counted for r in rows),
        at_full_marks=sum(r.at_full_marks for r in rows),
        defects=dict(defects),
    )


def _by_site(
    sla_rows: Iterable[AttainmentRow], qa_rows: Iterable[QualityRow], site_of: dict[int, int]
) -> tuple[dict[str, AttainmentRow], dict[str, QualityRow]]:
    """Agents' SLA and quality rows added up per site id ("" for no site)."""

    def site_key(agent_key: str) -> str:
        site = site_of.get(int(agent_key)) if agent_key else None
        return str(site) if site else ""

    met: dict[str, list[AttainmentRow]] = defaultdict(list)
    for row in sla_rows:
        met[site_key(row.key)].append(row)
    reviewed: dict[str, list[QualityRow]] = defaultdict(list)
    for qa_row in qa_rows:
        reviewed[site_key(qa_row.key)].append(qa_row)
    sla = {
        key: AttainmentRow(
            key=key,
            label=key,
            met=sum(r.met for r in rows),
            breached=sum(r.breached for r in rows),
        )
        for key, rows in met.items()
    }
    quality = {key: _sum_quality(key, key, rows) for key, rows in reviewed.items()}
    return sla, {key: row for key, row in quality.items() if row is not None}


def _added(
    these: dict[int | None, WorkCount], those: dict[int | None, WorkCount]
) -> dict[int | None, WorkCount]:
    """Two sets of counts by the same key, added up."""
    added = dict(these)
    for key, count in those.items():
        added[key] = added[key].plus(count) if key in added else count
    return added


def operations_dashboard(
    actor: User, *, start: dt.date, end: dt.date, engagement_id: int | None = None
) -> OperationsDashboard:
    """The operations dashboard for ``actor`` over the UTC days ``start`` to ``end``
    (``end`` included), of one engagement or all. Refused (:class:`NotAllowed`) to anyone
    but operations leads and provider admins; a period or engagement no figures answer is
    refused as the figures pages refuse it."""
    # The roll-up counts with this module's functions: imported here, not above.
    from relaydesk.insights.ops_daily import kept_operations

    _require_dashboard(actor)
    check_figures_request(actor, start=start, end=end, group_by="site", engagement_id=engagement_id)
    begin, finish = utc_bounds(start, end)
    now = timezone.now()
    # SLA and quality as their pages count them, by agent. Their figures by site are those
    # of the agents' sites ("site" groups by the site of the agent holding the item, or
    # whose work was reviewed), so the site rows add up the agent rows: one pass over the
    # clocks and one over the reviews instead of two each (the tests check the two agree).
    sla_figures = attainment_figures(
        actor,
        kind=ClockKind.TURNAROUND,
        start=start,
        end=end,
        group_by="agent",
        engagement_id=engagement_id,
    )
    qa_figures = quality_figures(
        actor, start=start, end=end, group_by="agent", engagement_id=engagement_id
    )
    sla_agents = {r.key: r for r in sla_figures.rows}
    qa_agents = {r.key: r for r in qa_figures.rows}
    site_of = dict(Agent.objects.values_list("user_id", "site_id"))
    sla_sites, qa_sites = _by_site(sla_figures.rows, qa_figures.rows, site_of)
    # Settled days from the operations roll-up, the rest live from the items' roll-up,
    # counted the same way (each figure adds up per day).
    kept = kept_operations(start, end, engagement_id)
    live_begin = utc_bounds(kept.last, kept.last)[1] if kept is not None else begin
    work = completed_work(live_begin, finish, engagement_id)
    by_site, by_agent, per_day = work.by_site(), work.by_agent(), work.per_day()
    if kept is not None:
        by_site, by_agent = _added(by_site, kept.by_site), _added(by_agent, kept.by_agent)
        per_day.update(kept.per_day)  # days apart: no key in both
    handled = handled_by_agent_hour(live_begin, finish, engagement_id)
    kept_on_shift = kept.on_shift_microseconds if kept is not None else {}

    named = (
        {agent_id for agent_id in by_agent if agent_id}
        | {int(k) for k in (*sla_agents, *qa_agents) if k}
        | set(handled)
        | set(kept_on_shift)
    )
    agents = _agents(named)
    # Time on shift up to now: the rest of today has not been worked yet.
    calendars = _Calendars(agents)
    worked_until = max(begin, min(finish, now))
    on_shift_live = on_shift_microseconds_by_day(
        agents,
        live_begin,
        max(live_begin, worked_until),
        {(user_id, engagement_id): hours for user_id, hours in handled.items()},
        calendars=calendars,
        engagement_id=engagement_id,
    )
    microseconds = defaultdict(int, kept_on_shift)
    for (user_id, _), days_worked in on_shift_live.items():
        microseconds[user_id] += sum(days_worked.values())
    on_shift_handled = {user_id: whole_seconds(total) for user_id, total in microseconds.items()}
    arrived = arrivals(live_begin, finish, engagement_id)
    if kept is not None:
        arrived.update(kept.arrivals)  # days apart: no slot in both

    nobody = AttainmentRow(met=0, breached=0)
    agent_rows = []
    for agent in agents:
        key = str(agent.user_id)
        count = by_agent.get(agent.user_id, WorkCount())
        agent_rows.append(
            PerformanceRow(
                key=key,
                label=agent.user.full_name or agent.user.email,
                site=agent.site.name,
                completed=count.completed,
                handled_seconds=count.handled_seconds,
                shift_seconds=calendars.seconds(agent, begin, worked_until),
                handled_on_shift_seconds=on_shift_handled.get(agent.user_id, 0),
                sla=sla_agents.get(key, nobody),
                quality=qa_agents.get(key),
            )
        )

    # Teams: the agents of one shift at one site, added up from the agent rows.
    teams: dict[tuple[str, str], list[tuple[Agent, PerformanceRow]]] = defaultdict(list)
    for agent, row in zip(agents, agent_rows, strict=True):
        teams[(agent.site.name, agent.shift_name)].append((agent, row))
    team_rows = []
    for (site_name, shift), members in sorted(teams.items()):
        first = members[0][0]
        key = f"{first.site_id}:{shift}"
        label = f"{site_name} · {shift or EVERY_SHIFT}"
        rows = [row for _, row in members]
        team_rows.append(
            PerformanceRow(
                key=key,
                label=label,
                site=site_name,
                completed=sum(r.completed for r in rows),
                handled_seconds=sum(r.handled_seconds for r in rows),
                shift_seconds=sum(r.shift_seconds for r in rows),
                handled_on_shift_seconds=sum(r.handled_on_shift_seconds for r in rows),
                sla=AttainmentRow(
                    key=key,
                    label=label,
                    met=sum(r.sla.met for r in rows),
                    breached=sum(r.sla.breached for r in rows),
                ),
                quality=_sum_quality(key, label, [r.quality for r in rows if r.quality]),
            )
        )

    sites = {a.site_id: a.site for a in agents}
    sites.update((s.pk, s) for s in Site.objects.filter(pk__in=[k for k in by_site if k]))
    site_rows = []
    for site in sorted(sites.values(), key=lambda s: s.name):
        key = str(site.pk)
        count = by_site.get(site.pk, WorkCount())
        staff = [
            row for agent, row in zip(agents, agent_rows, strict=True) if agent.site_id == site.pk
        ]
        site_rows.append(
            PerformanceRow(
                key=key,
                label=site.name,
                site=site.name,
                completed=count.completed,
                handled_seconds=count.handled_seconds,
                shift_seconds=sum(row.shift_seconds for row in staff),
                handled_on_shift_seconds=sum(row.handled_on_shift_seconds for row in staff),
                sla=sla_sites.get(key, nobody),
                quality=qa_sites.get(key),
            )
        )
    # Work, clocks or reviews of nobody at a site (an item completed by someone who is no
    # agent, a clock of an item nobody holds): counted in the total, shown as "No site".
    unsited = by_site.get(None, WorkCount())
    if unsited.completed or "" in sla_sites or "" in qa_sites:
        site_rows.append(
            PerformanceRow(
                key="",
                label="No site",
                site="",
                completed=unsited.completed,
                handled_seconds=unsited.handled_seconds,
                shift_seconds=0,
                handled_on_shift_seconds=0,
                sla=sla_sites.get("", nobody),
                quality=qa_sites.get(""),
            )
        )
    total = PerformanceRow(
        key="total",
        label="All",
        site="",
        completed=sum(r.completed for r in site_rows),
        handled_seconds=sum(r.handled_seconds for r in site_rows),
        shift_seconds=sum(r.shift_seconds for r in site_rows),
        handled_on_shift_seconds=sum(r.handled_on_shift_seconds for r in site_rows),
        sla=sla_figures.total,
        quality=qa_figures.total,
    )

    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    completed_per_day = {
        row.label: [per_day.get((int(row.key) if row.key else None, day), 0) for day in days]
        for row in site_rows
        if row.key or row.completed
    }
    return OperationsDashboard(
        start=start,
        end=end,
        engagement_id=engagement_id,
        sites=site_rows,
        teams=team_rows,
        agents=agent_rows,
        total=total,
        heat_map=coverage_heat_map(
            actor,
            start=start,
            end=end,
            engagement_id=engagement_id,
            agents=agents,
            calendars=calendars,
            arrived_per_slot=arrived,
        ),
        days=days,
        completed_per_day=completed_per_day,
    )
