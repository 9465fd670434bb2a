"""Site shift calendars as a site manager writes them, checked against the wall clock.

Given a weekly shift in a site's local time, when an instant is checked, then it is
on shift exactly when the site's wall clock is inside the shift — also on the
nights the clocks change.
"""

from __future__ import annotations

import datetime as dt

import pytest

from relaydesk.core.shifts import ShiftCalendar, ShiftStatus, WeeklyShift

UTC = dt.UTC
SATURDAY = 5
NIGHT = WeeklyShift(SATURDAY, dt.time(22, 0), dt.time(6, 0))
NEW_YORK_NIGHTS = ShiftCalendar("America/New_York", (NIGHT,))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- daylight-saving changes ----------------------------------------------------------------


def test_a_night_shift_when_clocks_go_forward_lasts_seven_hours() -> None:
    """Given New York's Saturday 22:00–06:00 shift on 7–8 March 2026 (clocks go forward
    at 02:00), then it runs from 22:00 EST (03:00 UTC) to 06:00 EDT (10:00 UTC): 09:30 UTC
    is 05:30 on the wall and on shift, 10:30 UTC is 06:30 and off — a fixed EST offset
    would wrongly keep the agent on until 11:00 UTC."""
    assert not NEW_YORK_NIGHTS.is_on_shift(utc(2026, 3, 8, 2, 59))
    assert NEW_YORK_NIGHTS.is_on_shift(utc(2026, 3, 8, 3, 0))
    assert NEW_YORK_NIGHTS.is_on_shift(utc(2026, 3, 8, 9, 59))
    assert not NEW_YORK_NIGHTS.is_on_shift(utc(2026, 3, 8, 10, 0))
    assert not NEW_YORK_NIGHTS.is_on_shift(utc(2026, 3, 8, 10, 30))
    [(start, end)] = NEW_YORK_NIGHTS.occurrences(dt.date(2026, 3, 7), dt.date(2026, 3, 7))
    assert end - start == dt.timedelta(hours=7)


def test_a_night_shift_when_clocks_go_back_lasts_nine_hours() -> None:
    """Given the same shift on 31 October – 1 November 2026 (clocks go back at 02:00),
    then it runs from 22:00 EDT (02:00 UTC) to 06:00 EST (11:00 UTC): 10:30 UTC is 05:30
    on the wall and still on shift."""
    assert not NEW_YORK_NIGHTS.is_on_shift(utc(2026, 11, 1, 1, 59))
    assert NEW_YORK_NIGHTS.is_on_shift(utc(2026, 11, 1, 2, 0))
    assert NEW_YORK_NIGHTS.is_on_shift(utc(2026, 11, 1, 10, 30))
    assert not NEW_YORK_NIGHTS.is_on_shift(utc(2026, 11, 1, 11, 0))
    [(start, end)] = NEW_YORK_NIGHTS.occurrences(dt.date(2026, 10, 31), dt.date(2026, 10, 31))
    assert end - start == dt.timedelta(hours=9)


def test_a_shift_starting_in_the_skipped_hour_starts_when_the_clocks_jump() -> None:
    """Given a shift that starts at 02:30 on the day 02:00–03:00 does not exist, then it
    starts at 03:00 EDT, the first moment the wall clock reads 02:30 or later."""
    sunday = ShiftCalendar("America/New_York", (WeeklyShift(6, dt.time(2, 30), dt.time(8)),))
    [(start, _end)] = sunday.occurrences(dt.date(2026, 3, 8), dt.date(2026, 3, 8))
    assert start == utc(2026, 3, 8, 7, 0)
    assert not sunday.is_on_shift(utc(2026, 3, 8, 6, 59, 59))
    assert sunday.is_on_shift(utc(2026, 3, 8, 7, 0))


def test_a_shift_ending_in_the_repeated_hour_ends_the_first_time_the_clock_reads_it() -> None:
    """Given a shift to 01:30 on the night 01:00–02:00 happens twice, then it ends at
    01:30 EDT, not an hour later at 01:30 EST."""
    evening = ShiftCalendar(
        "America/New_York", (WeeklyShift(SATURDAY, dt.time(20), dt.time(1, 30)),)
    )
    assert evening.is_on_shift(utc(2026, 11, 1, 5, 29))
    assert not evening.is_on_shift(utc(2026, 11, 1, 5, 30))
    assert not evening.is_on_shift(utc(2026, 11, 1, 6, 15))  # 01:15 EST, the second time round


def test_a_european_site_follows_its_own_change_date() -> None:
    """Given a London day shift, then in the week the US has changed clocks and Britain
    not yet, 09:00 local is still 09:00 UTC; after 29 March 2026 it is 08:00 UTC."""
    london = ShiftCalendar(
        "Europe/London", tuple(WeeklyShift(day, dt.time(9), dt.time(17)) for day in range(5))
    )
    assert london.is_on_shift(utc(2026, 3, 10, 9, 0))
    assert not london.is_on_shift(utc(2026, 3, 10, 8, 30))
    assert london.is_on_shift(utc(2026, 3, 30, 8, 0))
    assert not london.is_on_shift(utc(2026, 3, 30, 16, 0))


# --- days off, overtime, status --------------------------------------------------------------


PUNE = ShiftCalendar(
    "Asia/Kolkata",
    tuple(WeeklyShift(day, dt.time(9), dt.time(18)) for day in range(5)),
    days_off=frozenset({dt.date(2026, 3, 4)}),  # Holi
    extra=((utc(2026, 3, 7, 4, 30), utc(2026, 3, 7, 8, 30)),),  # Saturday overtime
)


def test_no_shift_starts_on_a_day_off() -> None:
    assert PUNE.is_on_shift(utc(2026, 3, 3, 6, 0))  # Tuesday 11:30 in Pune
    assert not PUNE.is_on_shift(utc(2026, 3, 4, 6, 0))  # Holi


def test_overtime_counts_as_on_shift() -> None:
    assert PUNE.is_on_shift(utc(2026, 3, 7, 5, 0))
    assert not PUNE.is_on_shift(utc(2026, 3, 7, 9, 0))


def test_status_says_until_when_the_answer_holds() -> None:
    """Given Pune at Tuesday 11:30, then it is on shift until 18:00 local; at 20:00 it is
    off until 09:00 Thursday, as Wednesday is a day off."""
    assert PUNE.status(utc(2026, 3, 3, 6, 0)) == ShiftStatus(True, utc(2026, 3, 3, 12, 30))
    thursday_nine = utc(2026, 3, 5, 3, 30)
    assert PUNE.status(utc(2026, 3, 3, 14, 30)) == ShiftStatus(
        False, thursday_nine, next_start=thursday_nine
    )


def test_a_calendar_without_shifts_is_never_on_shift() -> None:
    empty = ShiftCalendar("Asia/Manila")
    assert not empty.is_on_shift(utc(2026, 3, 3, 6, 0))
    assert empty.status(utc(2026, 3, 3, 6, 0)) == ShiftStatus(False, None)


def test_around_the_clock_is_always_on_shift() -> None:
    always = ShiftCalendar.around_the_clock("Asia/Karachi")
    for hour in range(0, 24, 5):
        assert always.is_on_shift(utc(2026, 3, 8, hour, 17))
    assert always.status(utc(2026, 3, 8, 1, 0)).on_shift


def test_consecutive_shifts_join_into_one_stretch() -> None:
    """Given a day and a night shift back to back, then the status runs to the end of
    the night shift."""
    manila = ShiftCalendar(
        "Asia/Manila",
        (WeeklyShift(0, dt.time(6), dt.time(14)), WeeklyShift(0, dt.time(14), dt.time(22))),
    )
    status = manila.status(utc(2026, 3, 2, 0, 0))  # Monday 08:00 in Manila
    assert status == ShiftStatus(True, utc(2026, 3, 2, 14, 0))


# --- bad input --------------------------------------------------------------------------------


def test_bad_calendars_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        ShiftCalendar("Mars/Olympus")
    with pytest.raises(ValueError, match="weekday must be 0"):
        WeeklyShift(7, dt.time(9), dt.time(17))
    with pytest.raises(ValueError, match="overtime must end after it starts"):
        ShiftCalendar("UTC", extra=((utc(2026, 3, 2, 10), utc(2026, 3, 2, 9)),))
    with pytest.raises(ValueError, match="aware datetime"):
        PUNE.is_on_shift(dt.datetime(2026, 3, 2, 10))  # noqa: DTZ001 - the point of the test
