"""When someone is at work: weekly local-time windows turned into UTC intervals.

The demo moves every item on the clock of the people who touch it: an agent
works only on shift, a supervising attorney reviews during Tampa's office
hours, a client answers during their business day.
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections.abc import Iterable

UTC = dt.UTC


class Roster:
    """Working windows in UTC, built from a local weekly pattern over a period, less the
    local dates ``days_off``."""

    def __init__(
        self,
        time_zone: str,
        start: dt.time,
        end: dt.time,
        weekdays: Iterable[int],
        *,
        first_day: dt.date,
        last_day: dt.date,
        days_off: Iterable[dt.date] = (),
    ) -> None:
        zone = zoneinfo.ZoneInfo(time_zone)
        days = frozenset(weekdays)
        # Local dates on which no window starts (holidays), as a shift calendar keeps them.
        off = frozenset(days_off)
        starts: list[dt.datetime] = []
        ends: list[dt.datetime] = []
        day = first_day
        while day <= last_day:
            if day.weekday() in days and day not in off:
                begin = dt.datetime.combine(day, start, tzinfo=zone)
                finish_day = day if end > start else day + dt.timedelta(days=1)
                finish = dt.datetime.combine(finish_day, end, tzinfo=zone)
                starts.append(begin.astimezone(UTC))
                ends.append(finish.astimezone(UTC))
            day += dt.timedelta(days=1)
        self.starts = starts
        self.ends = ends

    def window_at(self, at: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
        """The window that contains ``at``, if any."""
        index = bisect.bisect_right(self.starts, at) - 1
        if index >= 0 and at < self.ends[index]:
            return self.starts[index], self.ends[index]
        return None

    def is_on(self, at: dt.datetime) -> bool:
        """True when ``at`` falls inside a working window."""
        return self.window_at(at) is not None

    def next_on(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself when working, else the start of the next window."""
        if self.is_on(at):
            return at
        index = bisect.bisect_right(self.starts, at)
        if index < len(self.starts):
            return self.starts[index]
        return at + dt.timedelta(days=1)

    def advance(self, at: dt.datetime, minutes: float) -> dt.datetime:
        """The moment ``minutes`` of working time after ``at`` have been spent."""
        left = dt.timedelta(minutes=minutes)
        current = self.next_on(at)
        for _ in range(400):
            window = self.window_at(current)
            if window is None:
                return current + left
            room = window[1] - current
            if left <= room:
                return current + left
            left -= room
            current = self.next_on(window[1])
        return current + left
