"""When a site works: weekly shifts in the site's local time, days off and overtime.

A shift is written the way a site manager writes it — "Saturday 22:00 to 06:00,
Asia/Kolkata" — and every question about it is answered for an aware instant by
turning each shift occurrence into real instants with :mod:`zoneinfo`. So a night
shift across a daylight-saving change lasts seven or nine hours, as the clock on
the wall says, not a fixed eight.

Two rules settle the wall times a change of clocks makes odd: a wall time that
happens twice (clocks go back) means its first occurrence, and one that never
happens (clocks go forward) means the moment the clocks jump past it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ShiftCalendar", "ShiftStatus", "WeeklyShift"]

UTC = dt.UTC
_DAY = dt.timedelta(days=1)
# How far ahead a calendar looks for its next change; beyond it the answer is re-asked.
_HORIZON_DAYS = 8

Interval = tuple[dt.datetime, dt.datetime]


def _require_aware(at: dt.datetime, name: str = "at") -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {at!r}")


@dataclass(frozen=True, slots=True)
class WeeklyShift:
    """A shift on one weekday (Monday is 0) in the site's local time.

    A shift that ends at or before it starts runs past midnight into the next day;
    one that ends exactly when it starts lasts a whole day.
    """

    weekday: int
    starts_at: dt.time
    ends_at: dt.time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.starts_at.tzinfo is not None or self.ends_at.tzinfo is not None:
            raise ValueError("shift times are local wall times and carry no time zone")

    @property
    def crosses_midnight(self) -> bool:
        """True when the shift ends on the next local day."""
        return self.ends_at <= self.starts_at


@dataclass(frozen=True, slots=True)
class ShiftStatus:
    """Whether a calendar is on shift at an instant, and until when that holds.

    ``until`` is the next instant the answer may change (``None``: not within the
    next week). ``next_start`` is, when off shift, the start of the next shift.
    """

    on_shift: bool
    until: dt.datetime | None
    next_start: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ShiftCalendar:
    """A site's working time: weekly shifts in ``time_zone``, days off and overtime.

    ``days_off`` are local dates on which no shift starts (holidays); ``extra`` are
    aware ``(start, end)`` windows worked on top of the weekly shifts (overtime).
    """

    time_zone: str
    shifts: tuple[WeeklyShift, ...] = ()
    days_off: frozenset[dt.date] = frozenset()
    extra: tuple[Interval, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from error
        object.__setattr__(self, "zone", zone)
        for start, end in self.extra:
            _require_aware(start, "an overtime start")
            _require_aware(end, "an overtime end")
            if end <= start:
                raise ValueError(f"overtime must end after it starts: {start} to {end}")

    @classmethod
    def around_the_clock(cls, time_zone: str = "UTC") -> ShiftCalendar:
        """A calendar that is always on shift (every day, midnight to midnight)."""
        midnight = dt.time(0, 0)
        return cls(time_zone, tuple(WeeklyShift(day, midnight, midnight) for day in range(7)))

    def local_time(self, at: dt.datetime) -> dt.datetime:
        """``at`` as the site's wall clock shows it."""
        _require_aware(at)
        return at.astimezone(self.zone)

    def occurrences(self, first_day: dt.date, last_day: dt.date) -> list[Interval]:
        """The weekly shifts starting on local dates ``first_day``..``last_day`` as UTC
        intervals, in start order, without the days off (overtime not included)."""
        found: list[Interval] = []
        day = first_day
        while day <= last_day:
            if day not in self.days_off:
                weekday = day.weekday()
                for shift in self.shifts:
                    if shift.weekday != weekday:
                        continue
                    end_day = day + _DAY if shift.crosses_midnight else day
                    start = _instant(day, shift.starts_at, self.zone)
                    end = _instant(end_day, shift.ends_at, self.zone)
                    if end > start:  # a shift swallowed whole by a clock change never happens
                        found.append((start, end))
            day += _DAY
        found.sort()
        return found

    def is_on_shift(self, at: dt.datetime) -> bool:
        """True when ``at`` falls inside a shift (or overtime) of this calendar."""
        _require_aware(at)
        today = at.astimezone(self.zone).date()
        # A shift that started yesterday may still be running; none lasts longer than a day.
        for start, end in self.occurrences(today - _DAY, today):
            if start <= at < end:
                return True
        return any(start <= at < end for start, end in self.extra)

    def status(self, at: dt.datetime) -> ShiftStatus:
        """Whether ``at`` is on shift, when that next may change, and (off shift) when
        the next shift starts."""
        _require_aware(at)
        today = at.astimezone(self.zone).date()
        horizon = at + dt.timedelta(days=_HORIZON_DAYS)
        intervals = self.occurrences(today - _DAY, today + dt.timedelta(days=_HORIZON_DAYS))
        intervals += [(s, e) for s, e in self.extra if e > at - _DAY and s < horizon]
        for start, end in _merge(intervals):
            if end <= at:
                continue
            if start <= at:
                return ShiftStatus(True, end)
            return ShiftStatus(False, start, next_start=start)
        return ShiftStatus(False, None)


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Overlapping or touching intervals joined, in start order."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The first UTC instant at which the wall clock in ``zone`` reads ``day`` ``time`` or later."""
    naive = dt.datetime.combine(day, time)
    # fold=0 is the first of two occurrences when clocks go back.
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # The wall time falls in the gap when clocks go forward: find the jump.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = instant
    if low >= high:
        return min(low, high)
    tick = dt.timedelta(microseconds=1)
    while high - low > tick:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high
