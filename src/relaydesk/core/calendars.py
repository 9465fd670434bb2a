"""Business calendars: when an SLA clock runs, and how much business time has passed.

A :class:`BusinessCalendar` says when a business is open, in its own time zone:
weekly working hours with any number of spans a day (so a lunch break is closed
time), public holidays of a country and subdivision (from the :mod:`holidays`
package), custom closed dates, and dates with hours of their own (half-days).
Or it is open around the clock (24/7).

Business time is real elapsed time counted only while the calendar is open,
exact to the microsecond. Every answer is an aware datetime in UTC; every input
must be aware (a naive datetime raises ``ValueError("aware datetimes only ...")``).

How wall times become instants
------------------------------
Spans are local wall times, as the office writes them. On each local date they
are turned into UTC instants with :mod:`zoneinfo`, and a wall time stands for
**the first instant at which the wall clock reads it or later**. So:

- a wall time in a spring-forward gap means the instant the clocks jump: 02:30
  on 8 March 2026 in New York (02:00 EST jumps to 03:00 EDT) is 03:00 EDT,
  07:00 UTC; a span lying wholly in the gap never happens;
- a wall time in a fall-back fold means its first occurrence (``fold=0``):
  01:30 on 1 November 2026 in New York is 01:30 EDT, 05:30 UTC; the repeated
  hour after a span that ends in the fold is closed time;
- a span lasts as long as it really does: 00:00–06:00 is 7 hours on a fall-back
  day and 5 hours on a spring-forward day.

A span ending at ``time(0)`` ends at 24:00, the next local midnight. Spans that
touch across midnight (22:00–24:00, then 00:00–06:00 the next day) make one
open stretch. Open time is half-open, ``[start, end)``: 17:00 is closed when the
day ends at 17:00.

Which hours apply on a local date: its ``special_hours`` if it has any (they
replace everything else, even a holiday; an empty tuple closes the date);
otherwise none if it is a closed date or a public holiday; otherwise the weekly
hours of its weekday.

An always-open (24/7) calendar counts every instant, so business time equals
elapsed time: ``add_business_time(c, start, d)`` is ``start`` plus ``d`` in UTC (not on
the wall clock, which Python uses for ``+`` on a zoned datetime). Three hours from
00:30 on London's spring-forward night (29 March 2026) end at 04:30 on the wall.

Adding time
-----------
:func:`add_business_time` answers the earliest instant at which ``duration`` of
business time has passed since ``start``; a zero duration answers ``start``
itself (nothing to wait for), even in closed time. A positive answer is inside
open time or exactly at the end of an open span (17:00 on the due day, not 09:00
the next morning), never inside closed time. Negative durations raise
``ValueError``.

Termination and speed
---------------------
The functions work on any date, with no horizon: public holidays are looked up
per year as needed. A search for open time raises
``ValueError("this calendar is never open")`` when no weekly hours and no
special hours lie ahead, and gives up after 10 years of closed days. Open
intervals are cached per calendar and local date; for many questions over one
period (recomputing SLA deadlines in bulk) a :class:`CalendarIndex` answers each
with a binary search. Both a :class:`CalendarMeasure` (the plain functions, one
question at a time) and a :class:`CalendarIndex` are the ``add`` / ``between``
time measure that :mod:`relaydesk.core.sla` replays clocks with.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

__all__ = [
    "BusinessCalendar",
    "CalendarIndex",
    "CalendarMeasure",
    "Span",
    "add_business_time",
    "business_time_between",
    "describe_day",
    "is_open",
    "next_business_instant",
    "open_intervals",
    "public_holidays",
    "spans_on",
]

UTC = dt.UTC
MIDNIGHT = dt.time(0)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A search for open time gives up after this many consecutive closed days.
MAX_CLOSED_DAYS = 3660

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = dt.timedelta(0)

_K = TypeVar("_K")
_V = TypeVar("_V")

Interval = tuple[dt.datetime, dt.datetime]
# Instants inside this module: whole microseconds since 1970-01-01 UTC.
_Micros = tuple[int, int]


class _FrozenMapping(Mapping[_K, _V]):
    """A read-only, hashable mapping, so a calendar can be a cache key."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Iterable[tuple[_K, _V]] = ()) -> None:
        self._data: dict[_K, _V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._data)


def _parse_time(value: dt.time | str, *, is_end: bool) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        if is_end and value.strip() in ("24:00", "24:00:00"):
            return MIDNIGHT
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"not a wall time: {value!r} (write it as HH:MM)") from error
    raise TypeError(f"a span boundary must be a datetime.time or 'HH:MM', got {value!r}")


def _clock(value: dt.time, *, is_end: bool = False) -> str:
    """A wall time as people write it: ``09:00``, ``09:00:30``, ``24:00`` for an end."""
    if is_end and value == MIDNIGHT:
        return "24:00"
    if value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="seconds" if value.second else "minutes")


@dataclass(frozen=True, slots=True)
class Span:
    """One working span in local wall time, from ``start`` up to (not including) ``end``.

    ``start < end``, except that an ``end`` of ``time(0)`` means 24:00, the
    midnight that ends the day (so ``Span(time(0), time(0))`` is the whole day).
    """

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if not isinstance(self.start, dt.time) or not isinstance(self.end, dt.time):
            raise TypeError(
                f"span boundaries must be datetime.time, got {self.start!r}, {self.end!r}"
            )
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("span times are local wall times and carry no time zone")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValueError(
                f"a span must end after it starts (end 00:00 means midnight): "
                f"{_clock(self.start)}-{_clock(self.end)}"
            )

    @classmethod
    def of(cls, start: dt.time | str, end: dt.time | str) -> Span:
        """A span from times or ``"HH:MM"`` strings (``"24:00"`` is accepted as an end)."""
        return cls(_parse_time(start, is_end=False), _parse_time(end, is_end=True))

    @property
    def ends_at_midnight(self) -> bool:
        """True when the span runs to the end of the day (24:00)."""
        return self.end == MIDNIGHT

    def __str__(self) -> str:
        return f"{_clock(self.start)}–{_clock(self.end, is_end=True)}"


SpanLike = Span | tuple[dt.time | str, dt.time | str]


def _as_span(value: SpanLike) -> Span:
    if isinstance(value, Span):
        return value
    try:
        start, end = value
    except (TypeError, ValueError) as error:
        raise TypeError(f"a span is a Span or a (start, end) pair, got {value!r}") from error
    return Span.of(start, end)


def _end_key(span: Span) -> tuple[int, dt.time]:
    return (1, MIDNIGHT) if span.ends_at_midnight else (0, span.end)


def _day_spans(spans: Iterable[SpanLike], what: str) -> tuple[Span, ...]:
    """Spans of one day, sorted by start; overlapping spans raise ``ValueError``."""
    ordered = sorted((_as_span(s) for s in spans), key=lambda s: (s.start, _end_key(s)))
    for before, after in itertools.pairwise(ordered):
        if before.ends_at_midnight or after.start < before.end:
            raise ValueError(f"{what}: spans {before} and {after} overlap")
    return tuple(ordered)


def _plain_date(value: object, what: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{what} must be dates (local calendar days), got {value!r}")
    return value


def _split_country(country: str, subdivision: str | None) -> tuple[str, str | None]:
    country = country.strip()
    if subdivision is None and "-" in country:
        country, subdivision = country.split("-", 1)
    return country.upper(), subdivision


def public_holidays(
    country: str, subdivision: str | None, years: Iterable[int]
) -> dict[dt.date, str]:
    """The public holidays of ``country`` (ISO 3166 code, e.g. ``"PH"``) and
    optionally its ``subdivision`` (``"FL"``; ``"US-FL"`` as the country also works)
    in ``years``, as ``{date: name}`` from the :mod:`holidays` package.

    Observed days are included (``2026-07-03: "Independence Day (observed)"`` in
    the US). An unknown country or subdivision raises ``ValueError``.
    """
    country, subdivision = _split_country(country, subdivision)
    wanted = set(years)
    try:
        found = holidays_package.country_holidays(country, subdiv=subdivision, years=sorted(wanted))
    except NotImplementedError as error:
        if country not in holidays_package.list_supported_countries():
            raise ValueError(
                f"unknown country {country!r} for public holidays "
                "(use an ISO 3166 code such as 'US')"
            ) from error
        raise ValueError(
            f"unknown subdivision {subdivision!r} of {country} for public holidays"
        ) from error
    return {day: str(name) for day, name in sorted(found.items()) if day.year in wanted}


@functools.lru_cache(maxsize=1024)
def _holidays_of_year(country: str, subdivision: str | None, year: int) -> Mapping[dt.date, str]:
    return _FrozenMapping(public_holidays(country, subdivision, [year]).items())


@dataclass(frozen=True)
class BusinessCalendar:
    """When a business is open, in its time zone (see the module docstring for the rules).

    ``weekly`` has 7 entries, Monday (0) to Sunday (6), each the day's spans
    (sorted and non-overlapping; they are sorted for you). ``closed_dates`` are
    local dates with no hours (custom closures, holidays taken from a list);
    ``holiday_names`` names some of them for explanations. ``special_hours`` gives
    dates their own spans instead of the weekly ones (half-days; an empty tuple
    closes the date). ``holidays_country`` / ``holidays_subdivision`` close the
    public holidays of that country in every year, looked up as needed.
    ``always_open`` makes every instant business time (24/7); such a calendar
    has no closed dates or special hours.
    """

    time_zone: str
    weekly: tuple[tuple[Span, ...], ...]
    closed_dates: frozenset[dt.date] = frozenset()
    special_hours: Mapping[dt.date, tuple[Span, ...]] = field(default_factory=_FrozenMapping)
    always_open: bool = False
    holiday_names: Mapping[dt.date, str] = field(default_factory=_FrozenMapping)
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _has_weekly_hours: bool = field(init=False, repr=False, compare=False)
    _last_special_open: int = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ValueError(
                f"unknown time zone {self.time_zone!r} (use an IANA name such as "
                "'America/New_York')"
            ) from error
        set_("zone", zone)
        weekly = tuple(self.weekly)
        if len(weekly) != 7:
            raise ValueError(f"weekly hours need 7 entries, Monday to Sunday; got {len(weekly)}")
        set_("weekly", tuple(_day_spans(day, WEEKDAYS[i]) for i, day in enumerate(weekly)))
        set_(
            "closed_dates",
            frozenset(_plain_date(day, "closed dates") for day in self.closed_dates),
        )
        set_(
            "special_hours",
            _FrozenMapping(
                (_plain_date(day, "special-hours keys"), _day_spans(spans, day.isoformat()))
                for day, spans in sorted(self.special_hours.items())
            ),
        )
        set_(
            "holiday_names",
            _FrozenMapping(
                (_plain_date(day, "holiday-name keys"), str(name))
                for day, name in sorted(self.holiday_names.items())
            ),
        )
        if self.holidays_country is not None:
            country, subdivision = _split_country(self.holidays_country, self.holidays_subdivision)
            _holidays_of_year(country, subdivision, 2000)  # raises ValueError if unknown
            set_("holidays_country", country)
            set_("holidays_subdivision", subdivision)
        elif self.holidays_subdivision is not None:
            raise ValueError("a holidays subdivision needs a holidays country")
        if self.always_open and (self.closed_dates or self.special_hours or self.holidays_country):
            raise ValueError(
                "a 24/7 calendar is open every instant: it takes no closed dates, "
                "holidays or special hours (use weekly 00:00-24:00 spans instead)"
            )
        set_("_has_weekly_hours", any(self.weekly))
        open_specials = [day.toordinal() for day, spans in self.special_hours.items() if spans]
        set_("_last_special_open", max(open_specials, default=-1))
        set_(
            "_hash",
            hash(
                (
                    self.time_zone,
                    self.weekly,
                    self.closed_dates,
                    self.special_hours,
                    self.always_open,
                    self.holiday_names,
                    self.holidays_country,
                    self.holidays_subdivision,
                )
            ),
        )

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def twenty_four_seven(cls, time_zone: str = "UTC") -> BusinessCalendar:
        """A calendar open every instant; business time is elapsed time."""
        whole_day = (Span(MIDNIGHT, MIDNIGHT),)
        return cls(time_zone, (whole_day,) * 7, always_open=True)

    @classmethod
    def office_hours(
        cls,
        time_zone: str,
        *,
        days: Iterable[int] = range(5),
        spans: Iterable[SpanLike] = ((dt.time(9), dt.time(17)),),
        holidays_country: str | None = None,
        holidays_subdivision: str | None = None,
        years: Iterable[int] | None = None,
        extra_closed: Iterable[dt.date] | Mapping[dt.date, str] = (),
        half_days: Mapping[dt.date, Iterable[SpanLike]] | None = None,
    ) -> BusinessCalendar:
        """The same ``spans`` on each of ``days`` (Monday is 0; default Monday to
        Friday, 09:00–17:00), closed on the public holidays of ``holidays_country``
        (``"US"``, ``"US-FL"``, ``"PH"``...) and on ``extra_closed`` dates (a mapping
        names them), with ``half_days`` giving dates their own spans.

        Without ``years`` the public holidays of every year apply, looked up as
        needed; with ``years`` only those years' holidays are closed.
        """
        day_spans = _day_spans(spans, "office hours")
        open_days = set(days)
        if not open_days <= set(range(7)):
            raise ValueError(f"days are 0 (Monday) to 6 (Sunday), got {sorted(open_days)}")
        weekly = tuple(day_spans if weekday in open_days else () for weekday in range(7))
        names: dict[dt.date, str] = {}
        if isinstance(extra_closed, Mapping):
            names.update(extra_closed)
        closed = set(extra_closed)
        country = holidays_country
        if country is not None and years is not None:
            found = public_holidays(country, holidays_subdivision, years)
            closed.update(found)
            names.update((day, name) for day, name in found.items() if day not in names)
            country = None
        return cls(
            time_zone,
            weekly,
            closed_dates=frozenset(closed),
            special_hours={
                day: _day_spans(own, day.isoformat()) for day, own in (half_days or {}).items()
            },
            holiday_names=names,
            holidays_country=country,
            holidays_subdivision=holidays_subdivision if country is not None else None,
        )


# --- explaining a day ---------------------------------------------------------------------


def _closure(calendar: BusinessCalendar, day: dt.date) -> str | None:
    """Why ``day`` is closed as a whole (holiday name, or "closed"), ignoring special hours."""
    if day in calendar.closed_dates:
        return calendar.holiday_names.get(day, "closed")
    if calendar.holidays_country is not None:
        name = _holidays_of_year(
            calendar.holidays_country, calendar.holidays_subdivision, day.year
        ).get(day)
        if name is not None:
            return name
    return None


def spans_on(calendar: BusinessCalendar, day: dt.date) -> tuple[Span, ...]:
    """The spans that apply on local date ``day``: its special hours, else none on a
    closed date or public holiday, else its weekday's hours (24/7: the whole day)."""
    if calendar.always_open:
        return (Span(MIDNIGHT, MIDNIGHT),)
    own = calendar.special_hours.get(day)
    if own is not None:
        return own
    if _closure(calendar, day) is not None:
        return ()
    return calendar.weekly[day.weekday()]


def describe_day(calendar: BusinessCalendar, day: dt.date) -> str:
    """A short explanation of local date ``day`` for people: ``"closed: Thanksgiving
    Day"``, ``"closed (Saturday)"``, ``"open 09:00–13:00 (special hours)"``,
    ``"open 09:00–12:00, 13:00–18:00"`` or ``"open 24 hours"``."""
    if calendar.always_open:
        return "open 24 hours"
    own = calendar.special_hours.get(day)
    if own is not None:
        if not own:
            reason = _closure(calendar, day)
            return f"closed: {reason}" if reason and reason != "closed" else "closed"
        return f"open {', '.join(str(s) for s in own)} (special hours)"
    reason = _closure(calendar, day)
    if reason is not None:
        return f"closed: {reason}" if reason != "closed" else "closed"
    spans = calendar.weekly[day.weekday()]
    if not spans:
        return f"closed ({WEEKDAYS[day.weekday()]})"
    if spans == (Span(MIDNIGHT, MIDNIGHT),):
        return "open 24 hours"
    return f"open {', '.join(str(s) for s in spans)}"


# --- instants -------------------------------------------------------------------------------


def _require_aware(at: dt.datetime, name: str) -> None:
    if not isinstance(at, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {at!r}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"aware datetimes only: {name} is naive ({at!r})")


def _micros(at: dt.datetime) -> int:
    since = at - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def _instant(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(0, 0, micros)


def _local_ordinal(calendar: BusinessCalendar, at: dt.datetime) -> int:
    return at.astimezone(calendar.zone).toordinal()


def _first_reading(zone: ZoneInfo, wall: dt.datetime) -> int:
    """The first instant (microseconds) at which the wall clock in ``zone`` reads
    ``wall`` or later: the first occurrence in a fold, the jump in a gap."""
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return _micros(first)
    # In a gap fold=0 uses the offset before the jump, fold=1 the offset after: the
    # jump lies between them. Find it by bisection on whole microseconds.
    low = _micros(wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
    high = _micros(first)
    if low > high:
        low, high = high, low
    while high - low > 1:
        middle = (low + high) // 2
        if _instant(middle).astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


@functools.lru_cache(maxsize=1 << 16)
def _day(calendar: BusinessCalendar, ordinal: int) -> tuple[int, int, tuple[_Micros, ...]]:
    """Local date ``ordinal`` of ``calendar``: its first and last instant (the two
    midnights, microseconds) and its open intervals, merged and in order."""
    day = dt.date.fromordinal(ordinal)
    zone = calendar.zone
    day_start = _first_reading(zone, dt.datetime.combine(day, MIDNIGHT))
    day_end = _first_reading(zone, dt.datetime.combine(day + dt.timedelta(days=1), MIDNIGHT))
    found: list[_Micros] = []
    for span in spans_on(calendar, day):
        start = (
            day_start
            if span.start == MIDNIGHT
            else _first_reading(zone, dt.datetime.combine(day, span.start))
        )
        end = (
            day_end
            if span.ends_at_midnight
            else _first_reading(zone, dt.datetime.combine(day, span.end))
        )
        if end <= start:
            continue  # swallowed by a clock change
        if found and found[-1][1] >= start:
            found[-1] = (found[-1][0], max(found[-1][1], end))
        else:
            found.append((start, end))
    return day_start, day_end, tuple(found)


def _open_from(
    calendar: BusinessCalendar, at: int, ordinal: int, stop: int | None
) -> Iterator[_Micros]:
    """Open intervals (microseconds) that end after ``at``, in order, day by day from
    local date ``ordinal`` (the date ``at`` shows on the wall); intervals touching at
    midnight are not joined (see :func:`_joined`). Stops before the first day starting
    at or after ``stop``; without ``stop`` it runs until the caller stops, or raises
    ``ValueError`` when no open time lies ahead."""
    closed_run = 0
    while True:
        if (
            stop is None
            and not calendar._has_weekly_hours
            and ordinal > calendar._last_special_open
        ):
            raise ValueError("this calendar is never open")
        day_start, _day_end, intervals = _day(calendar, ordinal)
        if stop is not None and day_start >= stop:
            return
        if intervals:
            closed_run = 0
        else:
            closed_run += 1
            if stop is None and closed_run > MAX_CLOSED_DAYS:
                raise ValueError(
                    "this calendar is never open in the 10 years after "
                    f"{dt.date.fromordinal(ordinal - closed_run + 1)}"
                )
        for start, end in intervals:
            if end > at:
                yield start, end
        ordinal += 1


def _joined(intervals: Iterable[_Micros]) -> Iterator[_Micros]:
    """Ordered intervals with those that touch (at midnight) joined into one."""
    pending: _Micros | None = None
    for start, end in intervals:
        if pending is None:
            pending = (start, end)
        elif start <= pending[1]:
            pending = (pending[0], max(pending[1], end))
        else:
            yield pending
            pending = (start, end)
    if pending is not None:
        yield pending


def _add(calendar: BusinessCalendar, at: int, ordinal: int, duration: int) -> int:
    remaining = duration
    for start, end in _open_from(calendar, at, ordinal, None):
        start = max(start, at)
        if remaining <= end - start:
            return start + remaining
        remaining -= end - start
    raise AssertionError("an open-ended search for open time cannot run out")  # pragma: no cover


def _between(calendar: BusinessCalendar, start: int, ordinal: int, end: int) -> int:
    total = 0
    for open_start, open_end in _open_from(calendar, start, ordinal, end):
        if open_start >= end:
            break
        total += min(open_end, end) - max(open_start, start)
    return total


def _require_duration(duration: dt.timedelta) -> int:
    if not isinstance(duration, dt.timedelta):
        raise TypeError(f"duration must be a timedelta, got {duration!r}")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


# --- the public questions -----------------------------------------------------------------


def is_open(calendar: BusinessCalendar, at: dt.datetime) -> bool:
    """True when ``at`` is business time (open spans are ``[start, end)``)."""
    _require_aware(at, "at")
    if calendar.always_open:
        return True
    moment = _micros(at)
    ordinal = _local_ordinal(calendar, at)
    # The instant belongs to its wall date, or to the next one when the clocks went
    # back over midnight.
    for day in (ordinal, ordinal + 1):
        day_start, day_end, intervals = _day(calendar, day)
        if day_start <= moment < day_end:
            return any(start <= moment < end for start, end in intervals)
    return False  # pragma: no cover - every instant belongs to one of the two dates


def next_business_instant(calendar: BusinessCalendar, at: dt.datetime) -> dt.datetime:
    """``at`` itself (in UTC) if it is open, else the start of the next open span."""
    _require_aware(at, "at")
    if calendar.always_open:
        return at.astimezone(UTC)
    moment = _micros(at)
    for start, _end in _open_from(calendar, moment, _local_ordinal(calendar, at), None):
        return _instant(max(start, moment))
    raise AssertionError("an open-ended search for open time cannot run out")  # pragma: no cover


def add_business_time(
    calendar: BusinessCalendar, start: dt.datetime, duration: dt.timedelta
) -> dt.datetime:
    """The earliest instant (UTC) at which ``duration`` of business time has passed
    since ``start``. A zero duration answers ``start``; a positive one an instant
    inside open time or at the very end of an open span. Negative raises ``ValueError``."""
    _require_aware(start, "start")
    micros = _require_duration(duration)
    if calendar.always_open or micros == 0:
        return start.astimezone(UTC) + duration
    return _instant(_add(calendar, _micros(start), _local_ordinal(calendar, start), micros))


def business_time_between(
    calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime
) -> dt.timedelta:
    """Business time in ``[start, end)``; ``timedelta(0)`` when ``end <= start``."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    # Compared as UTC microseconds: Python compares and subtracts two datetimes of
    # the same zone by their wall times, which is wrong across a clock change.
    first, last = _micros(start), _micros(end)
    if last <= first:
        return _ZERO
    if calendar.always_open:
        return dt.timedelta(0, 0, last - first)
    return dt.timedelta(
        microseconds=_between(calendar, first, _local_ordinal(calendar, start), last)
    )


def open_intervals(
    calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime
) -> Iterator[Interval]:
    """The open intervals overlapping ``[start, end)``, clipped to it, as UTC
    ``(start, end)`` pairs in order; touching spans (also across midnight) are one.
    Naive datetimes are refused at the call, not when the intervals are read."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    return _open_intervals(calendar, _micros(start), _micros(end), _local_ordinal(calendar, start))


def _open_intervals(
    calendar: BusinessCalendar, first: int, last: int, ordinal: int
) -> Iterator[Interval]:
    if last <= first:
        return
    if calendar.always_open:
        yield _instant(first), _instant(last)
        return
    for open_start, open_end in _joined(_open_from(calendar, first, ordinal, last)):
        if open_start >= last:
            break
        yield _instant(max(open_start, first)), _instant(min(open_end, last))


class CalendarIndex:
    """Open intervals of one calendar between two instants, with cumulative business
    seconds, so add and between are a bisect each.

    Answers equal :func:`add_business_time` and :func:`business_time_between`;
    a question reaching outside ``[start, end]`` is answered by those functions.
    """

    __slots__ = ("_before", "_calendar", "_end", "_ends", "_start", "_starts", "_through")

    def __init__(self, calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> None:
        _require_aware(start, "start")
        _require_aware(end, "end")
        self._calendar = calendar
        self._start = _micros(start)
        self._end = _micros(end)
        if self._end <= self._start:
            raise ValueError(f"an index needs end after start: {start} to {end}")
        starts: list[int] = []
        ends: list[int] = []
        before: list[int] = []
        through: list[int] = []
        total = 0
        for open_start, open_end in open_intervals(calendar, start, end):
            first, last = _micros(open_start), _micros(open_end)
            starts.append(first)
            ends.append(last)
            before.append(total)
            total += last - first
            through.append(total)
        self._starts = starts
        self._ends = ends
        self._before = before
        self._through = through

    @property
    def calendar(self) -> BusinessCalendar:
        """The indexed calendar."""
        return self._calendar

    @property
    def start(self) -> dt.datetime:
        """The first indexed instant (UTC)."""
        return _instant(self._start)

    @property
    def end(self) -> dt.datetime:
        """The last indexed instant (UTC)."""
        return _instant(self._end)

    def _position(self, moment: int) -> int:
        """Business microseconds from the index start to ``moment`` (inside the range)."""
        i = bisect.bisect_right(self._starts, moment) - 1
        if i < 0:
            return 0
        return self._before[i] + min(moment, self._ends[i]) - self._starts[i]

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The same answer as :func:`add_business_time`."""
        _require_aware(start, "start")
        micros = _require_duration(duration)
        if micros == 0:
            return start.astimezone(UTC)
        moment = _micros(start)
        if self._start <= moment <= self._end:
            target = self._position(moment) + micros
            j = bisect.bisect_left(self._through, target)
            if j < len(self._through):
                return _instant(self._starts[j] + target - self._before[j])
        return add_business_time(self._calendar, start, duration)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """The same answer as :func:`business_time_between`."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        first, last = _micros(start), _micros(end)
        if last <= first:
            return _ZERO
        if self._start <= first and last <= self._end:
            return dt.timedelta(microseconds=self._position(last) - self._position(first))
        return business_time_between(self._calendar, start, end)


@dataclass(frozen=True, slots=True)
class CalendarMeasure:
    """Business time on one calendar, one question at a time: ``add`` is
    :func:`add_business_time` and ``between`` is :func:`business_time_between`.

    It is the time measure :func:`relaydesk.core.sla.replay` asks for (it has the
    ``add`` / ``between`` of :class:`relaydesk.core.sla.TimeMeasure`), for replaying
    a few items; a :class:`CalendarIndex` gives the same answers faster for many
    questions over one period.
    """

    calendar: BusinessCalendar

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant (UTC) ``duration`` of business time after ``start``."""
        return add_business_time(self.calendar, start, duration)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from ``start`` to ``end`` (zero when ``end`` is not later)."""
        return business_time_between(self.calendar, start, end)
