"""The client dashboard's daily roll-up (:class:`DailyWork`): counted once, read ever after.

A settled day (one that ended more than a day ago) is counted from the work items the
first time a dashboard, report or objective shows it (or by the worker, as it settles),
and kept; the last two days are always counted live. So a year's view reads a few
thousand small rows instead of every item of the year, and the figures stay exactly
those of the items.

An item changes a settled day only when it is delivered again long after its first
delivery, or when history is written with a past date (the demo): the action then
forgets those days in its own transaction (:func:`forget_days`, through the
``work_days_changed`` signal), and they are counted again when next shown.

Counting and forgetting never cross: on PostgreSQL a writer holds an advisory lock on
the engagement, and a count only goes ahead if it gets that lock at once (else the view
counts those days live); SQLite writes one transaction at a time. A view also checks,
after each read, that no day it read was forgotten or counted again meanwhile (each
count is stamped), and reads again if one was.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import State
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import NotAllowed
from relaydesk.figures import MicrosecondsBetween, UtcDate, utc_bounds
from relaydesk.insights.daily_models import CountedDay, DailyWork
from relaydesk.insights.measure_models import ItemMeasure
from relaydesk.work.models import WorkItem

__all__ = [
    "BUCKET_FIELDS",
    "COUNTED_FIELDS",
    "TURNAROUND_BUCKETS",
    "CountedWork",
    "WorkScope",
    "count_days",
    "days_from",
    "do_count_settled_days",
    "forget_all_days",
    "forget_days",
    "last_settled_day",
    "work_scope",
]

#: Turnaround buckets: (label, upper bound in hours; None: no bound), with their columns.
TURNAROUND_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("Under 4 h", 4),
    ("4–8 h", 8),
    ("8–24 h", 24),
    ("1–2 days", 48),
    ("2–3 days", 72),
    ("3–5 days", 120),
    ("Over 5 days", None),
)
BUCKET_FIELDS = (
    "within_4h",
    "within_8h",
    "within_24h",
    "within_48h",
    "within_72h",
    "within_120h",
    "over_120h",
)
COUNTED_FIELDS = ("received", "delivered", "cancelled", "turnaround_microseconds", *BUCKET_FIELDS)
# The dimensions of a row, as ``values()`` names.
_KEY = ("client_id", "engagement_id", "service_id", "jurisdiction", "day")
# Advisory lock keys: this class ("RD") in the high 32 bits, the engagement below.
_LOCK_CLASS = 0x5244
# Days that ended less than this long ago are counted live: work still lands on them.
_LIVE_DAYS = 2

Key = tuple[int, int, int, str, dt.date]


def last_settled_day(now: dt.datetime | None = None) -> dt.date:
    """The latest UTC day the roll-up keeps: the day before yesterday."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    return today - dt.timedelta(days=_LIVE_DAYS)


@dataclass(frozen=True, slots=True)
class WorkScope:
    """The work a dashboard counts: one client's or every client's, narrowed to one
    engagement and one service when asked."""

    client_id: int | None
    engagement_id: int | None = None
    service_id: int | None = None

    def items(self) -> QuerySet[WorkItem]:
        """The work items of the scope."""
        return self._narrowed(WorkItem.objects.all())

    def rows(self) -> QuerySet[DailyWork]:
        """The roll-up rows of the scope."""
        return self._narrowed(DailyWork.objects.all())

    def measures(self) -> QuerySet[ItemMeasure]:
        """The rows of the scope's items in the dashboards' roll-up (worked time)."""
        return self._narrowed(ItemMeasure.objects.all())

    def engagements(self) -> QuerySet[Engagement]:
        """The engagements whose days the scope reads."""
        found = Engagement.objects.all()
        if self.client_id is not None:
            found = found.filter(client_id=self.client_id)
        if self.engagement_id is not None:
            found = found.filter(pk=self.engagement_id)
        return found

    def _narrowed[M: (WorkItem, DailyWork, ItemMeasure)](self, rows: QuerySet[M]) -> QuerySet[M]:
        if self.client_id is not None:
            rows = rows.filter(client_id=self.client_id)
        if self.engagement_id is not None:
            rows = rows.filter(engagement_id=self.engagement_id)
        if self.service_id is not None:
            rows = rows.filter(service_id=self.service_id)
        return rows


def work_scope(
    actor: User, *, engagement_id: int | None = None, service_id: int | None = None
) -> WorkScope:
    """The dashboard's scope for ``actor``: the provider sees every client, a client's
    people their own client. The engagement must already be checked as one they see."""
    role = actor.role_enum
    if can(role, Permission.VIEW_ALL_WORK):
        return WorkScope(None, engagement_id, service_id)
    if can(role, Permission.VIEW_CLIENT_WORK):
        return WorkScope(actor.client_id or 0, engagement_id, service_id)
    raise NotAllowed("Your role does not see the dashboard.")


def count_days(
    items: QuerySet[WorkItem], begin: dt.datetime, finish: dt.datetime
) -> dict[Key, dict[str, int]]:
    """What ``items`` add to each row of the roll-up from ``begin`` to ``finish``: counted
    by the database, three grouped queries whatever the length of the period."""
    counted: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED_FIELDS, 0))

    def add(rows: Iterable[Mapping[str, object]], fields: Iterable[str]) -> None:
        for row in rows:
            key = tuple(row[name] for name in _KEY)
            for name in fields:
                counted[key][name] += int(row[name] or 0)  # type: ignore[index,call-overload]

    received = (
        items.filter(created_at__gte=begin, created_at__lt=finish)
        .annotate(day=UtcDate("created_at"))
        .values(*_KEY)
        .annotate(received=Count("pk"))
        .order_by()
    )
    add(received, ("received",))
    buckets: dict[str, Count] = {}
    lower: int | None = None
    for name, (_, hours) in zip(BUCKET_FIELDS, TURNAROUND_BUCKETS, strict=True):
        upper = hours * 3_600_000_000 if hours is not None else None
        condition = Q()
        if lower is not None:
            condition &= Q(took__gte=lower)
        if upper is not None:
            condition &= Q(took__lt=upper)
        buckets[name] = Count("pk", filter=condition)
        lower = upper
    delivered = (
        items.filter(delivered_at__gte=begin, delivered_at__lt=finish)
        .annotate(
            day=UtcDate("delivered_at"), took=MicrosecondsBetween("delivered_at", "created_at")
        )
        .values(*_KEY)
        .annotate(delivered=Count("pk"), turnaround_microseconds=Sum("took"), **buckets)
        .order_by()
    )
    add(delivered, ("delivered", "turnaround_microseconds", *BUCKET_FIELDS))
    cancelled = (
        items.filter(
            state=State.CANCELLED.value,
            delivered_at__isnull=True,
            closed_at__gte=begin,
            closed_at__lt=finish,
        )
        .annotate(day=UtcDate("closed_at"))
        .values(*_KEY)
        .annotate(cancelled=Count("pk"))
        .order_by()
    )
    add(cancelled, ("cancelled",))
    return counted


def _lock_key(engagement_id: int) -> int:
    """The advisory lock key of an engagement's roll-up: a class of its own, then the id."""
    return (_LOCK_CLASS << 32) | engagement_id


def _lock(engagement_id: int) -> None:
    """Hold the engagement's roll-up until the transaction ends (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [_lock_key(engagement_id)])


def _try_lock(engagement_ids: Iterable[int]) -> bool:
    """Take the engagements' roll-up until the transaction ends if no one holds it
    (PostgreSQL; SQLite's transactions already take turns). Never waits, so a count can
    neither deadlock with another nor hold up the writers behind a slow page."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(pg_try_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) k",
            [[_lock_key(e) for e in sorted(set(engagement_ids))]],
        )
        return bool(cursor.fetchone()[0])


def days_from(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _uncounted(
    engagements: dict[int, int], first: dt.date, last: dt.date
) -> set[tuple[int, dt.date]]:
    done = set(
        CountedDay.objects.filter(
            engagement_id__in=list(engagements), day__gte=first, day__lte=last
        ).values_list("engagement_id", "day")
    )
    return {(e, day) for e in engagements for day in days_from(first, last)} - done


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """``days`` as runs of consecutive days (first, last)."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _count_settled(engagements: dict[int, int], first: dt.date, last: dt.date) -> int | None:
    """Count the settled days of ``engagements`` (id to client id) from ``first`` to
    ``last`` not yet in the roll-up; returns how many engagement-days were counted, or
    None when another transaction holds them (the caller counts them live)."""
    last = min(last, last_settled_day())
    if first > last or not engagements:
        return 0
    missing = _uncounted(engagements, first, last)
    if not missing:
        return 0
    with transaction.atomic():
        if not _try_lock({e for e, _ in missing}):
            return None
        missing = _uncounted(engagements, first, last)  # again, under the lock
        # Run by run, so an old day forgotten beside the newest costs a day, not the span.
        for start, end in _runs(day for _, day in missing):
            engaged = sorted({e for e, day in missing if start <= day <= end})
            items = WorkItem.objects.filter(engagement_id__in=engaged)
            counted = count_days(items, *utc_bounds(start, end))
            DailyWork.objects.bulk_create(
                DailyWork(**dict(zip(_KEY, key, strict=True)), **figures)
                for key, figures in counted.items()
                if (key[1], key[4]) in missing
            )
        CountedDay.objects.bulk_create(
            CountedDay(client_id=engagements[e], engagement_id=e, day=day) for e, day in missing
        )
    return len(missing)


def do_count_settled_days(*, days: int = 400) -> int:
    """Count every engagement's settled days of the last ``days`` that are not counted yet,
    and the operations dashboard's (:mod:`relaydesk.insights.ops_daily`), so people seldom
    wait for a count; returns how many days were counted (engagement-days of the client
    dashboard, and days of the operations dashboard).

    Run by the worker and ``relaydesk route`` each time round, and by the demo at its end:
    the first run counts the history, later ones the day that has just settled.
    """
    # The operations roll-up's module builds on this one: imported here, not above.
    from relaydesk.insights.ops_daily import count_settled_operations_days

    last = last_settled_day()
    first = last - dt.timedelta(days=days - 1)
    engagements = dict(Engagement.objects.values_list("pk", "client_id"))
    counted = _count_settled(engagements, first, last) or 0
    return counted + (count_settled_operations_days(first, last) or 0)


class CountedWork:
    """A scope's work from ``start`` to ``end`` as the dashboard counts it: settled days
    from the roll-up (counting any not counted yet, once, when made), the last two days
    live from the items (counted once, when made)."""

    def __init__(self, scope: WorkScope, start: dt.date, end: dt.date) -> None:
        self.scope, self.start, self.end = scope, start, end
        self._engagements = dict(scope.engagements().values_list("pk", "client_id"))
        settled = last_settled_day()
        self._kept_last: dt.date | None = min(end, settled) if start <= settled else None
        self._stamp: tuple[int, dt.datetime | None] | None = None
        if self._kept_last is not None:
            if _count_settled(self._engagements, start, self._kept_last) is None:
                self._kept_last = None  # being counted elsewhere: count this view live
            else:
                self._stamp = self._counted_stamp()
        live_from = start if self._kept_last is None else self._kept_last + dt.timedelta(days=1)
        self._live: dict[Key, dict[str, int]] = {}
        if live_from <= end:
            self._live = count_days(scope.items(), *utc_bounds(live_from, end))

    def _counted_stamp(self) -> tuple[int, dt.datetime | None]:
        """How many of the period's days are counted, and when the latest was: a day
        forgotten changes the first, a day counted again the second."""
        marks = CountedDay.objects.filter(
            engagement_id__in=list(self._engagements),
            day__gte=self.start,
            day__lte=self._kept_last,
        ).aggregate(n=Count("pk"), latest=Max("counted_at"))
        return marks["n"], marks["latest"]

    def _kept(self, by: tuple[str, ...], fields: tuple[str, ...]) -> list[Mapping[str, Any]]:
        """The roll-up's rows of the settled days summed by ``by``, as read while none of
        them changed (read again, a few times, if one did; else counted from the items)."""
        assert self._kept_last is not None
        rows = self.scope.rows().filter(day__gte=self.start, day__lte=self._kept_last)
        sums = {name: Sum(name) for name in fields}
        for _ in range(3):
            read = (
                list(rows.values(*by).annotate(**sums).order_by())
                if by
                else [rows.aggregate(**sums)]
            )
            stamp = self._counted_stamp()
            if stamp == self._stamp:
                return read
            # A day was forgotten or counted again while it was read: count what is
            # missing, and read once more.
            if _count_settled(self._engagements, self.start, self._kept_last) is None:
                break
            self._stamp = self._counted_stamp()
        counted = count_days(self.scope.items(), *utc_bounds(self.start, self._kept_last))
        return _grouped(counted, by, fields)

    def summed(
        self, by: tuple[str, ...], fields: tuple[str, ...]
    ) -> dict[tuple[object, ...], dict[str, int]]:
        """``fields`` added up per value of the ``by`` dimensions (``day``,
        ``engagement_id``, ``service_id``, ``jurisdiction``; none: one total under ``()``);
        one query of the roll-up, and one of its marks to see nothing moved meanwhile."""
        totals: dict[tuple[object, ...], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(fields, 0)
        )
        parts = _grouped(self._live, by, fields)
        if self._kept_last is not None:
            parts += self._kept(by, fields)
        for row in parts:
            key = tuple(row[name] for name in by)
            for name in fields:
                totals[key][name] += int(row[name] or 0)
        return dict(totals)


def _grouped(
    counted: Mapping[Key, Mapping[str, int]], by: tuple[str, ...], fields: tuple[str, ...]
) -> list[Mapping[str, Any]]:
    """Rows of :func:`count_days` as ``values(*by)`` rows with their ``fields``."""
    rows: list[Mapping[str, Any]] = []
    for key, figures in counted.items():
        row: dict[str, Any] = dict(zip(_KEY, key, strict=True))
        row.update((name, figures[name]) for name in fields)
        rows.append(row)
    return rows


def forget_days(engagement_id: int, days: Iterable[dt.date]) -> None:
    """Drop the roll-up of ``engagement_id`` on those of ``days`` it keeps, in the caller's
    transaction: an item on them changed, and they are counted again when next shown."""
    # A day later too: a change begun before midnight may commit after it, when its
    # day has just settled and may be counted.
    reach = last_settled_day() + dt.timedelta(days=1)
    past = {day for day in days if day <= reach}
    if not past:
        return
    _lock(engagement_id)
    DailyWork.objects.filter(engagement_id=engagement_id, day__in=past).delete()
    CountedDay.objects.filter(engagement_id=engagement_id, day__in=past).delete()


def on_work_days_changed(
    sender: object, engagement_id: int, days: list[dt.date], **kwargs: object
) -> None:
    """An item's receipt, delivery or cancellation day was set or moved: forget those days."""
    forget_days(engagement_id, days)


def forget_all_days() -> int:
    """Drop the whole roll-up (it is counted again as it is shown); returns the days dropped."""
    with transaction.atomic():
        for engagement_id in Engagement.objects.order_by("pk").values_list("pk", flat=True):
            _lock(engagement_id)
        DailyWork.objects.all().delete()
        dropped, _ = CountedDay.objects.all().delete()
    return dropped
