"""The operations dashboard's daily roll-up (:mod:`.ops_daily_models`): counted once, read
ever after.

A settled day (one that ended more than a day ago) is counted the first time the
operations dashboard shows it (or by the worker, as it settles, with the client
dashboard's days: :func:`relaydesk.insights.daily.do_count_settled_days`), and kept: per
agent, what they completed and their handled time on shift, and per hour what arrived,
per engagement and for all engagements together. The last two days are always counted
live. So a year's view reads some twenty thousand small rows instead of every item and
every hour in progress of the year, and the figures stay exactly those counted live from
the items' roll-up (:class:`~relaydesk.insights.measure_models.ItemMeasure`,
:class:`~relaydesk.insights.measure_models.HandledSlice`): the same functions count both.

What moves a figure of a settled day forgets that day in its own transaction, and it is
counted again when next shown:

- an item's row replayed with another completion, agent, site, handled time or arrival,
  or other time in progress (:func:`relaydesk.insights.measures.refresh_measure`, through
  :func:`forget_item_days`): the days it leaves and the days it lands on;
- a change of the shift calendars (:func:`connect_calendar_forgetting`): a holiday or
  overtime forgets the days around it, a site, its weekly shifts or an agent's site or
  shift every day kept;
- ``relaydesk rebuild-measures`` forgets every day.

Counting and forgetting never cross: on PostgreSQL a writer holds an advisory lock on the
roll-up, and a count only goes ahead if it gets that lock at once (else the view counts the
period live); SQLite writes one transaction at a time. A view also checks, after its
reads, that no day it read was forgotten or counted again meanwhile (each count is
stamped), and reads again if one was.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.signals import post_delete, post_save, pre_save

from relaydesk.figures import UtcDate, UtcHour, utc_bounds
from relaydesk.insights.daily import days_from, last_settled_day
from relaydesk.insights.measure_models import HandledSlice, ItemMeasure
from relaydesk.insights.ops_daily_models import (
    CountedOperationsDay,
    DailyAgentOnShift,
    DailyAgentWork,
    HourlyArrivals,
)
from relaydesk.insights.provider_queries import (
    OnShiftKey,
    Slot,
    WorkCount,
    _Calendars,
    _StoredHour,
    _utc_hour,
    on_shift_microseconds_by_day,
)
from relaydesk.tenancy import rowsecurity
from relaydesk.workforce.models import Agent, ShiftException, ShiftPattern, Site

__all__ = [
    "KeptOperations",
    "connect_calendar_forgetting",
    "count_settled_operations_days",
    "forget_all_operations_days",
    "forget_item_days",
    "forget_operations_days",
    "kept_operations",
]

# The advisory lock of the roll-up: a class of its own ("OP"), beside the client
# dashboard's per-engagement keys.
_LOCK_KEY = 0x4F50 << 32
# Days counted in one transaction: a year's first count holds the lock a month at a time.
_DAYS_PER_COUNT = 31
# A holiday is a site's local day (its shifts that start then may run into the next), and
# overtime a window: the UTC days either may touch, with a day to spare.
_CALENDAR_SLACK = dt.timedelta(days=2)


@dataclass
class KeptOperations:
    """The operations figures of the settled UTC days ``start`` to ``last`` of one
    engagement or all, read from the roll-up.

    Items completed and their handled time per site (``by_site``) and per agent
    (``by_agent``), and completed per site and day (``per_day``), as
    :class:`~relaydesk.insights.provider_queries.CompletedWork` adds them up;
    ``on_shift_microseconds``: per agent (user id) with time in progress in the period,
    their handled time on shift; ``arrivals``: items per (UTC day, hour).
    """

    start: dt.date
    last: dt.date
    by_site: dict[int | None, WorkCount] = field(default_factory=dict)
    by_agent: dict[int | None, WorkCount] = field(default_factory=dict)
    per_day: dict[tuple[int | None, dt.date], int] = field(default_factory=dict)
    on_shift_microseconds: dict[int, int] = field(default_factory=dict)
    arrivals: dict[Slot, int] = field(default_factory=dict)


# --- locks and marks ---------------------------------------------------------------------------


def _lock() -> None:
    """Hold the roll-up until the transaction ends (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [_LOCK_KEY])


def _try_lock() -> bool:
    """Take the roll-up until the transaction ends if no one holds it (PostgreSQL; SQLite's
    transactions already take turns). Never waits, so a count holds up neither a writer nor
    another page."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s::bigint)", [_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _uncounted(first: dt.date, last: dt.date) -> list[dt.date]:
    done = set(
        CountedOperationsDay.objects.filter(day__gte=first, day__lte=last).values_list(
            "day", flat=True
        )
    )
    return [day for day in days_from(first, last) if day not in done]


def _stamp(first: dt.date, last: dt.date) -> tuple[int, dt.datetime | None]:
    """How many of the days are counted, and when the latest was: a day forgotten changes
    the first, a day counted again the second."""
    marks = CountedOperationsDay.objects.filter(day__gte=first, day__lte=last).aggregate(
        n=Count("pk"), latest=Max("counted_at")
    )
    return marks["n"], marks["latest"]


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """``days`` as runs of consecutive days (first, last), none longer than a count takes."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        follows = runs and runs[-1][1] + dt.timedelta(days=1) == day
        if follows and (day - runs[-1][0]).days < _DAYS_PER_COUNT:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# --- counting ----------------------------------------------------------------------------------


def count_settled_operations_days(first: dt.date, last: dt.date) -> int | None:
    """Count the settled days from ``first`` to ``last`` not yet in the roll-up; returns how
    many were counted, or None when another transaction holds the roll-up (the caller
    counts live).

    Counted for the provider, whoever asks: the roll-up is every client's work together,
    and only the operations dashboard reads it.
    """
    last = min(last, last_settled_day())
    if first > last or not _uncounted(first, last):
        return 0
    counted = 0
    for start, end in _runs(_uncounted(first, last)):
        with transaction.atomic(), rowsecurity.within(rowsecurity.PROVIDER):
            if not _try_lock():
                return None
            missing = _uncounted(start, end)  # again, under the lock
            for run in _runs(missing):
                _count(*run)
            CountedOperationsDay.objects.bulk_create(
                CountedOperationsDay(day=day) for day in missing
            )
            counted += len(missing)
    return counted


def _count(first: dt.date, last: dt.date) -> None:
    """Write the roll-up's rows of the days ``first`` to ``last`` (none kept yet)."""
    begin, finish = utc_bounds(first, last)
    # Items completed, per engagement and of all engagements.
    work: dict[tuple[dt.date, int | None, int | None, int | None], list[int]] = defaultdict(
        lambda: [0, 0]
    )
    completed = (
        ItemMeasure.objects.filter(completed_at__gte=begin, completed_at__lt=finish)
        .annotate(day=UtcDate("completed_at"))
        .values_list("day", "engagement_id", "site_id", "agent_id")
        .annotate(n=Count("pk"), handled=Sum("handled_seconds"))
        .order_by()
    )
    for day, engagement_id, site_id, agent_id, n, seconds in completed:
        for engaged in (engagement_id, None):
            figures = work[(day, engaged, site_id, agent_id)]
            figures[0] += n
            figures[1] += int(seconds or 0)
    _write(
        DailyAgentWork,
        ("day", "engagement", "site", "agent", "completed", "handled_seconds"),
        ((*key, n, handled) for key, (n, handled) in work.items()),
    )
    # Arrivals per hour.
    arrived: dict[tuple[dt.date, int, int | None], int] = defaultdict(int)
    arrivals = (
        ItemMeasure.objects.filter(created_at__gte=begin, created_at__lt=finish)
        .annotate(day=UtcDate("created_at"), hour=UtcHour("created_at"))
        .values_list("day", "hour", "engagement_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, hour, engagement_id, n in arrivals:
        arrived[(day, hour, engagement_id)] += n
        arrived[(day, hour, None)] += n
    _write(
        HourlyArrivals,
        ("day", "hour", "engagement", "arrived"),
        ((*key, n) for key, n in arrived.items()),
    )
    # Handled time on shift, per engagement and of all engagements (capped per hour, so
    # counted for both rather than added up).
    handled: dict[OnShiftKey, dict[dt.datetime, int]] = defaultdict(lambda: defaultdict(int))
    hours: dict[Any, dt.datetime] = {}
    slices = (
        HandledSlice.objects.filter(hour__gte=begin, hour__lt=finish, agent__isnull=False)
        .annotate(at=_StoredHour("hour"))
        .values_list("agent_id", "engagement_id", "at")
        .annotate(total=Sum("seconds"))
        .order_by()
    )
    for agent_id, engagement_id, stored, total in slices:
        hour = hours.get(stored)
        if hour is None:
            hour = hours[stored] = _utc_hour(stored)
        handled[(agent_id, engagement_id)][hour] += int(total or 0)
        handled[(agent_id, None)][hour] += int(total or 0)
    agents = list(
        Agent.objects.select_related("user", "site").filter(
            user_id__in={agent_id for agent_id, _ in handled}
        )
    )
    on_shift = on_shift_microseconds_by_day(
        agents,
        begin,
        finish,
        {key: dict(per_hour) for key, per_hour in handled.items()},
        calendars=_Calendars(agents),
        per_engagement=True,
    )
    _write(
        DailyAgentOnShift,
        ("day", "engagement", "agent", "handled_on_shift_microseconds"),
        (
            (day, engaged, agent_id, microseconds)
            for (agent_id, engaged), days in on_shift.items()
            for day, microseconds in days.items()
        ),
    )


def _write(model: Any, fields: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert plain rows (days, ids and counts) into the model's table: ``COPY`` on
    PostgreSQL, one prepared insert on SQLite. A month's first count is tens of thousands
    of rows, which as model instances would spend most of the count in Django."""
    columns = ", ".join(f'"{model._meta.get_field(name).column}"' for name in fields)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            # Days as SQLite keeps them: ISO text.
            cursor.executemany(
                f'INSERT INTO "{table}" ({columns}) VALUES ({marks})',
                [(row[0].isoformat(), *row[1:]) for row in rows],
            )


# --- reading -----------------------------------------------------------------------------------


def kept_operations(
    start: dt.date, end: dt.date, engagement_id: int | None = None
) -> KeptOperations | None:
    """The figures of the period's settled days from the roll-up, counting the days not
    counted yet; None when no day of the period is settled, or when the roll-up is being
    counted or changed elsewhere (the caller then counts the whole period live)."""
    settled = last_settled_day()
    if start > settled:
        return None
    last = min(end, settled)
    if count_settled_operations_days(start, last) is None:
        return None
    stamp = _stamp(start, last)
    for _ in range(3):
        kept = _read(start, last, engagement_id)
        moved = _stamp(start, last)
        if moved == stamp:
            return kept
        # A day was forgotten or counted again while it was read: count what is missing,
        # and read once more.
        if count_settled_operations_days(start, last) is None:
            return None
        stamp = _stamp(start, last)
    return None


def _read(start: dt.date, last: dt.date, engagement_id: int | None) -> KeptOperations:
    """The roll-up's rows of the days, of the engagement (None: of all engagements)."""
    of = Q(engagement_id=engagement_id) if engagement_id is not None else Q(engagement__isnull=True)
    period = Q(day__gte=start, day__lte=last)
    kept = KeptOperations(start=start, last=last)
    work = DailyAgentWork.objects.filter(of, period).order_by()
    # Summed by the database: a year is some twenty thousand rows of agent-days.
    summed = {"n": Sum("completed"), "handled": Sum("handled_seconds")}
    kept.by_agent = {
        agent_id: WorkCount(int(n), int(handled))
        for agent_id, n, handled in work.values_list("agent_id").annotate(**summed)
    }
    by_site: dict[int | None, WorkCount] = {}
    for site_id, day, n, handled in work.values_list("site_id", "day").annotate(**summed):
        kept.per_day[(site_id, day)] = int(n)
        count = WorkCount(int(n), int(handled))
        by_site[site_id] = by_site[site_id].plus(count) if site_id in by_site else count
    kept.by_site = by_site
    kept.on_shift_microseconds = {
        agent_id: int(total or 0)
        for agent_id, total in DailyAgentOnShift.objects.filter(of, period)
        .values_list("agent_id")
        .annotate(total=Sum("handled_on_shift_microseconds"))
        .order_by()
    }
    kept.arrivals = {
        (day, hour): int(n)
        for day, hour, n in HourlyArrivals.objects.filter(of, period)
        .values_list("day", "hour")
        .annotate(n=Sum("arrived"))
        .order_by()
    }
    return kept


# --- forgetting --------------------------------------------------------------------------------


def forget_operations_days(days: Iterable[dt.date]) -> None:
    """Drop the roll-up of those of ``days`` it keeps, in the caller's transaction: a figure
    of theirs moved, and they are counted again when next shown."""
    # A day later too: a change begun before midnight may commit after it, when its day
    # has just settled and may be counted.
    reach = last_settled_day() + dt.timedelta(days=1)
    past = {day for day in days if day <= reach}
    if not past:
        return
    with transaction.atomic():
        _lock()
        for model in (DailyAgentWork, DailyAgentOnShift, HourlyArrivals, CountedOperationsDay):
            model.objects.filter(day__in=past).delete()


def forget_all_operations_days() -> int:
    """Drop the whole roll-up (it is counted again as it is shown); returns the days
    dropped."""
    with transaction.atomic():
        _lock()
        for model in (DailyAgentWork, DailyAgentOnShift, HourlyArrivals):
            model.objects.all().delete()
        dropped, _ = CountedOperationsDay.objects.all().delete()
    return dropped


#: What of an item's row the roll-up counts: completion, who and where, handled time,
#: engagement and arrival (see :func:`forget_item_days`).
MEASURE_COLUMNS = (
    "completed_at",
    "engagement_id",
    "site_id",
    "agent_id",
    "handled_seconds",
    "created_at",
)
#: What of an item's slices the roll-up counts.
SLICE_COLUMNS = ("agent_id", "engagement_id", "hour", "started_at", "ended_at", "seconds")


def forget_item_days(
    before: tuple[Any, ...] | None,
    after: tuple[Any, ...],
    slices_before: Iterable[tuple[Any, ...]],
    slices_after: Iterable[tuple[Any, ...]],
) -> None:
    """An item's row of the dashboards' roll-up was replayed (its :data:`MEASURE_COLUMNS`
    ``before`` and ``after``, None when it had none, and its slices' :data:`SLICE_COLUMNS`):
    forget the settled days on which what the operations roll-up counts of it moved."""
    days: set[dt.date] = set()

    def completion(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return row[:5]  # completed_at, engagement, site, agent, handled time

    def arrival(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return row[1], row[5]  # engagement, created_at

    if before is None or completion(before) != completion(after):
        days.update(row[0].astimezone(dt.UTC).date() for row in (before, after) if row and row[0])
    if before is None or arrival(before) != arrival(after):
        days.update(row[5].astimezone(dt.UTC).date() for row in (before, after) if row)
    moved = set(slices_before) ^ set(slices_after)
    days.update(row[2].astimezone(dt.UTC).date() for row in moved)
    if days:
        forget_operations_days(days)


# --- shift calendars ---------------------------------------------------------------------------


def _exception_days(row: ShiftException) -> set[dt.date]:
    """The UTC days a holiday or overtime may move time on shift on."""
    if row.day is not None:
        first, last = row.day - _CALENDAR_SLACK, row.day + _CALENDAR_SLACK
    elif row.starts_at is not None and row.ends_at is not None:
        first = (row.starts_at.astimezone(dt.UTC) - _CALENDAR_SLACK).date()
        last = (row.ends_at.astimezone(dt.UTC) + _CALENDAR_SLACK).date()
    else:
        return set()
    # Only days the roll-up may keep: a holiday planned for next month forgets nothing.
    last = min(last, last_settled_day() + dt.timedelta(days=1))
    return set(days_from(first, last)) if first <= last else set()


def _remember_exception(sender: object, instance: ShiftException, **kwargs: object) -> None:
    """Before a holiday or overtime is changed: the days it covered until now."""
    stored = ShiftException.objects.filter(pk=instance.pk).first() if instance.pk else None
    instance._days_before = _exception_days(stored) if stored else set()  # type: ignore[attr-defined]


def _exception_changed(sender: object, instance: ShiftException, **kwargs: object) -> None:
    """A holiday or overtime was added, changed or removed: forget the days it moves."""
    before: set[dt.date] = getattr(instance, "_days_before", set())
    forget_operations_days(before | _exception_days(instance))


def _remember_agent(sender: object, instance: Agent, **kwargs: object) -> None:
    """Before an agent is changed: the site and shift their calendar came from."""
    stored = None
    if instance.pk:
        stored = Agent.objects.filter(pk=instance.pk).values_list("site_id", "shift_name").first()
    instance._calendar_before = stored  # type: ignore[attr-defined]


def _agent_changed(
    sender: object, instance: Agent, created: bool = False, **kwargs: object
) -> None:
    """A new agent, or one moved to another site or shift: their every day is counted
    anew."""
    before = getattr(instance, "_calendar_before", None)
    if created or before != (instance.site_id, instance.shift_name):
        forget_all_operations_days()


def _calendar_changed(sender: object, **kwargs: object) -> None:
    """A site or its weekly shifts changed (or an agent left): every day is counted anew."""
    forget_all_operations_days()


def connect_calendar_forgetting() -> None:
    """Forget the roll-up's days that a change of the shift calendars moves, with the change
    (called once at start-up, from the app's ``ready()``).

    Model signals, so every way the back office and the tools save sites, weekly shifts,
    holidays, overtime and agents is heard; bulk writes (``update()``, ``bulk_create()``)
    are not, and are followed by ``relaydesk rebuild-measures`` where one is ever used on
    a settled day.
    """
    uid = "insights-ops-daily"
    pre_save.connect(_remember_exception, sender=ShiftException, dispatch_uid=f"{uid}-exception")
    post_save.connect(_exception_changed, sender=ShiftException, dispatch_uid=f"{uid}-exception")
    post_delete.connect(_exception_changed, sender=ShiftException, dispatch_uid=f"{uid}-exc-gone")
    pre_save.connect(_remember_agent, sender=Agent, dispatch_uid=f"{uid}-agent")
    post_save.connect(_agent_changed, sender=Agent, dispatch_uid=f"{uid}-agent")
    for model in (Site, ShiftPattern, Agent):
        post_delete.connect(_calendar_changed, sender=model, dispatch_uid=f"{uid}-{model.__name__}")
    for model in (Site, ShiftPattern):
        post_save.connect(_calendar_changed, sender=model, dispatch_uid=f"{uid}-{model.__name__}")
