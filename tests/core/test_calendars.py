"""Business calendars for SLA clocks, checked by hand-worked cases and by properties.

Given a client's business calendar (time zone, working hours with lunch breaks,
public holidays, half-days, or 24/7), when an SLA target is added to a request's
arrival, then the deadline falls where a person counting on the office wall
would put it — also over holidays and on the nights the clocks change.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaydesk.core.calendars import (
    BusinessCalendar,
    CalendarIndex,
    CalendarMeasure,
    Span,
    add_business_time,
    business_time_between,
    describe_day,
    is_open,
    next_business_instant,
    open_intervals,
    public_holidays,
    spans_on,
)
from relaydesk.core.sla import TimeMeasure

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
MANILA = ZoneInfo("Asia/Manila")
HOUR = dt.timedelta(hours=1)
MICROSECOND = dt.timedelta(microseconds=1)
SUNDAY = 6


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


def sundays_only(time_zone: str, *spans: tuple[str, str]) -> BusinessCalendar:
    weekly: list[tuple[Span, ...]] = [()] * 7
    weekly[SUNDAY] = tuple(Span.of(start, end) for start, end in spans)
    return BusinessCalendar(time_zone, tuple(weekly))


NEW_YORK_OFFICE = BusinessCalendar.office_hours("America/New_York", holidays_country="US")
LUNCH_BREAK = BusinessCalendar.office_hours(
    "Asia/Manila", spans=((dt.time(9), dt.time(12)), (dt.time(13), dt.time(18)))
)


# --- worked cases -----------------------------------------------------------------------------


def test_the_holidays_package_lists_friday_3_july_2026_as_the_observed_independence_day() -> None:
    """4 July 2026 is a Saturday, so the US federal holiday is observed on Friday 3 July;
    the Manila case below relies on it."""
    us_2026 = public_holidays("US", None, [2026])
    assert us_2026[dt.date(2026, 7, 3)] == "Independence Day (observed)"
    assert us_2026[dt.date(2026, 7, 4)] == "Independence Day"


def test_a_friday_evening_request_from_manila_waits_out_the_us_holiday_and_the_weekend() -> None:
    """Given a New York client open Mon–Fri 09:00–17:00 with US holidays and an 8-hour
    target, when a Manila agent files a request on Friday 3 July 2026 at 19:00 Manila
    time (UTC+8, so 11:00 UTC = 07:00 EDT in New York), then: Friday 3 July is the observed
    Independence Day, 4–5 July is the weekend, so the clock starts Monday 6 July 09:00 EDT
    (13:00 UTC) and 8 hours later it is Monday 17:00 EDT = 21:00 UTC."""
    submitted = local(MANILA, 2026, 7, 3, 19)
    assert submitted == local(NEW_YORK, 2026, 7, 3, 7)

    due = add_business_time(NEW_YORK_OFFICE, submitted, 8 * HOUR)

    assert due == utc(2026, 7, 6, 21)
    assert due.tzinfo is UTC
    assert next_business_instant(NEW_YORK_OFFICE, submitted) == utc(2026, 7, 6, 13)
    assert business_time_between(NEW_YORK_OFFICE, submitted, due) == 8 * HOUR
    assert describe_day(NEW_YORK_OFFICE, dt.date(2026, 7, 3)) == (
        "closed: Independence Day (observed)"
    )
    assert describe_day(NEW_YORK_OFFICE, dt.date(2026, 7, 5)) == "closed (Sunday)"


def test_the_friday_after_thanksgiving_counts_in_florida_but_not_in_new_york() -> None:
    """Given the same request filed on Friday 27 November 2026 at 19:00 Manila time
    (11:00 UTC = 06:00 EST), then a New York office open that Friday is due the same day
    at 17:00 EST (22:00 UTC), while a Florida office (same time zone) closed for the state's
    "Friday After Thanksgiving" is due Monday 30 November 17:00 EST = 22:00 UTC."""
    submitted = local(MANILA, 2026, 11, 27, 19)
    florida = BusinessCalendar.office_hours("America/New_York", holidays_country="US-FL")

    assert add_business_time(NEW_YORK_OFFICE, submitted, 8 * HOUR) == utc(2026, 11, 27, 22)
    assert add_business_time(florida, submitted, 8 * HOUR) == utc(2026, 11, 30, 22)
    assert describe_day(florida, dt.date(2026, 11, 27)) == "closed: Friday After Thanksgiving"


def test_a_lunch_break_does_not_count() -> None:
    """Given 09:00–12:00 and 13:00–18:00 in Manila, when 4 hours are added from Tuesday
    10:30, then 10:30–12:00 gives 1.5 h and 13:00–15:30 the other 2.5 h: due 15:30
    (07:30 UTC)."""
    start = local(MANILA, 2026, 6, 9, 10, 30)

    due = add_business_time(LUNCH_BREAK, start, 4 * HOUR)

    assert due == local(MANILA, 2026, 6, 9, 15, 30)
    assert due == utc(2026, 6, 9, 7, 30)
    # A request during lunch waits until 13:00: one hour later is 14:00.
    lunch = local(MANILA, 2026, 6, 9, 12, 15)
    assert not is_open(LUNCH_BREAK, lunch)
    assert add_business_time(LUNCH_BREAK, lunch, HOUR) == local(MANILA, 2026, 6, 9, 14)
    # 11:00 to 14:00 on the wall is two business hours.
    assert (
        business_time_between(
            LUNCH_BREAK, local(MANILA, 2026, 6, 9, 11), local(MANILA, 2026, 6, 9, 14)
        )
        == 2 * HOUR
    )


def test_a_day_that_ends_at_the_end_of_a_span_is_due_then_not_the_next_morning() -> None:
    """Given 09:00–17:00, when 8 hours are added from 09:00, then it is due at 17:00 that day
    (at the very end of the span, when the clock has just stopped)."""
    monday = local(NEW_YORK, 2026, 6, 8, 9)
    due = add_business_time(NEW_YORK_OFFICE, monday, 8 * HOUR)
    assert due == local(NEW_YORK, 2026, 6, 8, 17)
    assert not is_open(NEW_YORK_OFFICE, due)
    assert is_open(NEW_YORK_OFFICE, due - MICROSECOND)


def test_a_half_day_before_christmas_counts_only_its_own_hours() -> None:
    """Given a New York office with US holidays and Thursday 24 December 2026 as a half-day
    09:00–13:00, when 6 hours are added from 24 December 10:00 EST, then 10:00–13:00 gives
    3 h, Friday 25 December is Christmas, the weekend follows, and Monday 28 December
    09:00–12:00 gives the last 3 h: due 12:00 EST = 17:00 UTC."""
    office = BusinessCalendar.office_hours(
        "America/New_York",
        holidays_country="US",
        half_days={dt.date(2026, 12, 24): [("09:00", "13:00")]},
    )
    start = local(NEW_YORK, 2026, 12, 24, 10)

    assert add_business_time(office, start, 6 * HOUR) == utc(2026, 12, 28, 17)
    assert not is_open(office, local(NEW_YORK, 2026, 12, 24, 14))
    assert is_open(NEW_YORK_OFFICE, local(NEW_YORK, 2026, 12, 24, 14))
    assert describe_day(office, dt.date(2026, 12, 24)) == "open 09:00–13:00 (special hours)"
    assert describe_day(office, dt.date(2026, 12, 25)) == "closed: Christmas Day"


def test_a_24_7_calendar_counts_real_hours_over_london_spring_forward() -> None:
    """Given a 24/7 calendar in London, when 3 hours are added from 00:30 on Sunday
    29 March 2026 (GMT, so 00:30 UTC), then the clocks jump from 01:00 GMT to 02:00 BST on
    the way and it is due at 03:30 UTC, which the London wall shows as 04:30 BST: four wall
    hours later, three real ones."""
    always = BusinessCalendar.twenty_four_seven("Europe/London")
    start = local(LONDON, 2026, 3, 29, 0, 30)

    due = add_business_time(always, start, 3 * HOUR)

    assert due == utc(2026, 3, 29, 3, 30)
    assert due.astimezone(LONDON).strftime("%d %b %H:%M %Z") == "29 Mar 04:30 BST"
    assert business_time_between(always, start, local(LONDON, 2026, 3, 29, 4, 30)) == 3 * HOUR


def test_a_midnight_to_six_span_lasts_seven_hours_when_clocks_go_back_and_five_when_forward():
    """Given Sundays 00:00–06:00 in London: on 25 October 2026 the clocks go back from
    02:00 BST to 01:00 GMT, so the span runs 00:00 BST (23:00 UTC on the 24th) to 06:00 GMT
    (06:00 UTC), 7 hours; on 29 March 2026 they go forward from 01:00 GMT to 02:00 BST, so
    it runs 00:00 GMT (00:00 UTC) to 06:00 BST (05:00 UTC), 5 hours."""
    nights = sundays_only("Europe/London", ("00:00", "06:00"))

    assert list(open_intervals(nights, utc(2026, 10, 24), utc(2026, 10, 26))) == [
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 6))
    ]
    assert business_time_between(nights, utc(2026, 10, 24), utc(2026, 10, 26)) == 7 * HOUR
    assert business_time_between(nights, utc(2026, 3, 28), utc(2026, 3, 30)) == 5 * HOUR


def test_spans_in_the_new_york_spring_forward_gap_start_when_the_clocks_jump() -> None:
    """On Sunday 8 March 2026 New York skips 02:00–03:00 (EST to EDT, at 07:00 UTC):
    01:00–03:00 runs from 01:00 EST (06:00 UTC) to 03:00 EDT (07:00 UTC), one hour;
    02:30–04:00 starts at the jump (07:00 UTC) and ends 04:00 EDT (08:00 UTC);
    02:10–02:50 lies wholly in the gap and never happens that day."""
    one_to_three = sundays_only("America/New_York", ("01:00", "03:00"))
    half_past_two = sundays_only("America/New_York", ("02:30", "04:00"))
    in_the_gap = sundays_only("America/New_York", ("02:10", "02:50"))
    saturday = utc(2026, 3, 7)
    monday = utc(2026, 3, 9)

    assert list(open_intervals(one_to_three, saturday, monday)) == [
        (utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))
    ]
    assert list(open_intervals(half_past_two, saturday, monday)) == [
        (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8))
    ]
    assert list(open_intervals(in_the_gap, saturday, monday)) == []
    # The next Sunday (EDT) it is 02:10 EDT = 06:10 UTC.
    assert next_business_instant(in_the_gap, saturday) == utc(2026, 3, 15, 6, 10)


def test_spans_in_the_new_york_fall_back_fold_mean_the_first_occurrence() -> None:
    """On Sunday 1 November 2026 New York repeats 01:00–02:00 (EDT, then EST from 06:00 UTC):
    01:00–03:00 runs from 01:00 EDT (05:00 UTC) to 03:00 EST (08:00 UTC), three hours;
    00:00–01:30 runs from 00:00 EDT (04:00 UTC) to the first 01:30 (05:30 UTC), so the
    second 01:15 (EST, 06:15 UTC) is closed although the wall reads 01:15."""
    one_to_three = sundays_only("America/New_York", ("01:00", "03:00"))
    to_half_past_one = sundays_only("America/New_York", ("00:00", "01:30"))

    assert list(open_intervals(one_to_three, utc(2026, 10, 31), utc(2026, 11, 2))) == [
        (utc(2026, 11, 1, 5), utc(2026, 11, 1, 8))
    ]
    assert list(open_intervals(to_half_past_one, utc(2026, 10, 31), utc(2026, 11, 2))) == [
        (utc(2026, 11, 1, 4), utc(2026, 11, 1, 5, 30))
    ]
    assert is_open(to_half_past_one, utc(2026, 11, 1, 5, 15))  # 01:15 EDT
    assert not is_open(to_half_past_one, utc(2026, 11, 1, 6, 15))  # 01:15 EST


def test_night_spans_that_touch_at_midnight_are_one_open_stretch() -> None:
    """Given 22:00–24:00 every day and 00:00–06:00 every day in UTC, then the night from
    Monday 22:00 to Tuesday 06:00 is one interval of eight hours."""
    nights = BusinessCalendar("UTC", ((Span.of("00:00", "06:00"), Span.of("22:00", "24:00")),) * 7)
    assert list(open_intervals(nights, utc(2026, 6, 8, 12), utc(2026, 6, 9, 12))) == [
        (utc(2026, 6, 8, 22), utc(2026, 6, 9, 6))
    ]
    assert add_business_time(nights, utc(2026, 6, 8, 21), 8 * HOUR) == utc(2026, 6, 9, 6)


def test_adding_nothing_is_due_at_once_even_when_closed() -> None:
    """A zero target is met on arrival: the answer is the start itself (in UTC)."""
    saturday = local(NEW_YORK, 2026, 6, 13, 10)
    assert add_business_time(NEW_YORK_OFFICE, saturday, dt.timedelta(0)) == saturday
    assert add_business_time(NEW_YORK_OFFICE, saturday, dt.timedelta(0)).tzinfo is UTC


def test_business_time_between_is_zero_when_the_end_is_not_after_the_start() -> None:
    monday = local(NEW_YORK, 2026, 6, 8, 10)
    assert business_time_between(NEW_YORK_OFFICE, monday, monday) == dt.timedelta(0)
    assert business_time_between(NEW_YORK_OFFICE, monday, monday - HOUR) == dt.timedelta(0)
    assert list(open_intervals(NEW_YORK_OFFICE, monday, monday - HOUR)) == []


def test_microseconds_are_kept() -> None:
    """Given 16:59:59.999995 on Monday, 5 µs of the day remain, so 12 µs are due at
    Tuesday 09:00:00.000007."""
    start = local(NEW_YORK, 2026, 6, 8, 16, 59) + dt.timedelta(seconds=59, microseconds=999_995)
    due = add_business_time(NEW_YORK_OFFICE, start, dt.timedelta(microseconds=12))
    assert due == local(NEW_YORK, 2026, 6, 9, 9) + dt.timedelta(microseconds=7)
    assert business_time_between(NEW_YORK_OFFICE, start, due) == dt.timedelta(microseconds=12)


# --- holidays ---------------------------------------------------------------------------------


def test_public_holidays_of_the_delivery_countries() -> None:
    philippines = public_holidays("PH", None, [2026])
    pakistan = public_holidays("PK", None, [2026])
    india = public_holidays("IN", None, range(2026, 2028))

    assert philippines[dt.date(2026, 6, 12)] == "Independence Day"
    assert philippines[dt.date(2026, 12, 30)] == "Rizal Day"
    assert pakistan[dt.date(2026, 3, 23)] == "Pakistan Day"
    assert pakistan[dt.date(2026, 8, 14)] == "Independence Day"
    assert india[dt.date(2026, 1, 26)] == "Republic Day"
    assert india[dt.date(2027, 1, 26)] == "Republic Day"
    assert india[dt.date(2026, 10, 2)] == "Mahatma Gandhi's Jayanti"
    assert {day.year for day in india} == {2026, 2027}


def test_a_subdivision_adds_its_own_holidays() -> None:
    friday_after_thanksgiving = dt.date(2026, 11, 27)
    assert friday_after_thanksgiving not in public_holidays("US", None, [2026])
    assert public_holidays("US", "FL", [2026])[friday_after_thanksgiving] == (
        "Friday After Thanksgiving"
    )
    assert public_holidays("US-FL", None, [2026]) == public_holidays("US", "FL", [2026])


def test_an_unknown_country_or_subdivision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        public_holidays("XX", None, [2026])
    with pytest.raises(ValueError, match="unknown subdivision 'ZZ' of US"):
        public_holidays("US", "ZZ", [2026])
    with pytest.raises(ValueError, match="unknown country"):
        BusinessCalendar.office_hours("UTC", holidays_country="XX")


def test_holidays_apply_in_every_year_unless_years_are_given() -> None:
    """Without ``years`` 4 July 2040 (a Wednesday) is closed; with ``years=[2026]`` only
    2026's holidays close the office."""
    independence_2040 = local(NEW_YORK, 2040, 7, 4, 10)
    only_2026 = BusinessCalendar.office_hours(
        "America/New_York", holidays_country="US", years=[2026]
    )
    assert not is_open(NEW_YORK_OFFICE, independence_2040)
    assert is_open(only_2026, independence_2040)
    assert not is_open(only_2026, local(NEW_YORK, 2026, 7, 3, 10))
    assert describe_day(only_2026, dt.date(2026, 7, 3)) == "closed: Independence Day (observed)"


def test_custom_closed_dates_and_their_names() -> None:
    office = BusinessCalendar.office_hours(
        "Asia/Karachi", extra_closed={dt.date(2026, 6, 10): "Site move"}
    )
    plain = BusinessCalendar.office_hours("Asia/Karachi", extra_closed=[dt.date(2026, 6, 11)])
    assert spans_on(office, dt.date(2026, 6, 10)) == ()
    assert describe_day(office, dt.date(2026, 6, 10)) == "closed: Site move"
    assert describe_day(plain, dt.date(2026, 6, 11)) == "closed"
    assert describe_day(plain, dt.date(2026, 6, 12)) == "open 09:00–17:00"


# --- refusals -------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = dt.datetime(2026, 6, 8, 10)  # noqa: DTZ001 - the point of the test
    aware = utc(2026, 6, 8, 10)
    index = CalendarIndex(NEW_YORK_OFFICE, utc(2026, 6, 1), utc(2026, 7, 1))
    for call in (
        lambda: is_open(NEW_YORK_OFFICE, naive),
        lambda: next_business_instant(NEW_YORK_OFFICE, naive),
        lambda: add_business_time(NEW_YORK_OFFICE, naive, HOUR),
        lambda: business_time_between(NEW_YORK_OFFICE, naive, aware),
        lambda: business_time_between(NEW_YORK_OFFICE, aware, naive),
        lambda: open_intervals(NEW_YORK_OFFICE, naive, aware),
        lambda: index.add(naive, HOUR),
        lambda: index.between(aware, naive),
    ):
        with pytest.raises(ValueError, match="aware datetimes only"):
            call()


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        add_business_time(NEW_YORK_OFFICE, utc(2026, 6, 8), -HOUR)


def test_bad_calendars_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        BusinessCalendar.office_hours("Mars/Olympus")
    with pytest.raises(ValueError, match="7 entries"):
        BusinessCalendar("UTC", ((),) * 5)
    with pytest.raises(ValueError, match=r"Monday: spans 09:00–12:00 and 11:00–13:00 overlap"):
        BusinessCalendar("UTC", ((Span.of("09:00", "12:00"), Span.of("11:00", "13:00")),) * 7)
    with pytest.raises(ValueError, match="must end after it starts"):
        Span.of("17:00", "09:00")
    with pytest.raises(ValueError, match="24/7"):
        BusinessCalendar(
            "UTC", ((),) * 7, closed_dates=frozenset({dt.date(2026, 1, 1)}), always_open=True
        )


def test_a_calendar_that_is_never_open_says_so_instead_of_searching_forever() -> None:
    never = BusinessCalendar("UTC", ((),) * 7)
    start = utc(2026, 6, 8)
    with pytest.raises(ValueError, match="this calendar is never open"):
        add_business_time(never, start, HOUR)
    with pytest.raises(ValueError, match="this calendar is never open"):
        next_business_instant(never, start)
    # Questions with an end still have answers.
    assert not is_open(never, start)
    assert business_time_between(never, start, start + 1000 * HOUR) == dt.timedelta(0)
    # A calendar open only on one special date is open then, and never after.
    one_day = BusinessCalendar(
        "UTC", ((),) * 7, special_hours={dt.date(2026, 6, 9): (Span.of("09:00", "10:00"),)}
    )
    assert add_business_time(one_day, start, HOUR) == utc(2026, 6, 9, 10)
    with pytest.raises(ValueError, match="this calendar is never open"):
        add_business_time(one_day, start, 2 * HOUR)


def test_a_search_gives_up_after_ten_years_of_closed_days() -> None:
    """Given a calendar open only on Mondays, with every Monday of 2026–2037 closed."""
    mondays = {dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(52 * 12)}
    weekly = ((Span.of("09:00", "17:00"),), (), (), (), (), (), ())
    rare = BusinessCalendar("UTC", weekly, closed_dates=frozenset(mondays))
    with pytest.raises(ValueError, match="never open in the 10 years after 2026-01-01"):
        add_business_time(rare, utc(2026, 1, 1), HOUR)


# --- the index ----------------------------------------------------------------------------------


def test_the_index_answers_outside_its_range_like_the_plain_functions() -> None:
    index = CalendarIndex(NEW_YORK_OFFICE, utc(2026, 7, 1), utc(2026, 7, 8))
    submitted = local(MANILA, 2026, 7, 3, 19)
    assert index.add(submitted, 8 * HOUR) == utc(2026, 7, 6, 21)
    # Past the end of the range: 40 business hours from Friday end on Friday 10 July.
    assert index.add(submitted, 40 * HOUR) == add_business_time(
        NEW_YORK_OFFICE, submitted, 40 * HOUR
    )
    assert index.add(submitted, 40 * HOUR) == local(NEW_YORK, 2026, 7, 10, 17)
    before = utc(2026, 6, 1)
    assert index.between(before, submitted) == business_time_between(
        NEW_YORK_OFFICE, before, submitted
    )
    with pytest.raises(ValueError, match="end after start"):
        CalendarIndex(NEW_YORK_OFFICE, utc(2026, 7, 8), utc(2026, 7, 1))


def test_a_calendar_measure_times_sla_clocks_on_the_plain_functions() -> None:
    """Given New York office hours with US holidays, measured one question at a time."""
    measure: TimeMeasure = CalendarMeasure(NEW_YORK_OFFICE)
    index = CalendarIndex(NEW_YORK_OFFICE, utc(2026, 7, 1), utc(2026, 7, 8))
    # Friday evening in Manila is the observed Independence Day in New York: the first
    # 8 business hours are Monday's, 09:00-17:00 in New York.
    submitted = local(MANILA, 2026, 7, 3, 19)
    monday_evening = local(NEW_YORK, 2026, 7, 6, 17)
    assert measure.add(submitted, 8 * HOUR) == monday_evening == index.add(submitted, 8 * HOUR)
    assert measure.add(submitted, dt.timedelta(0)) == submitted
    assert measure.between(submitted, monday_evening) == 8 * HOUR
    assert measure.between(monday_evening, submitted) == dt.timedelta(0)
    assert CalendarMeasure(NEW_YORK_OFFICE) == measure


# --- properties -------------------------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Manila", "Australia/Lord_Howe"]
# Around the 2026 clock changes of New York and London, and across the year end.
WINDOW_START = utc(2026, 2, 20)
WINDOW_MICROS = int((utc(2027, 1, 20) - WINDOW_START) / MICROSECOND)
DAY_MINUTES = 24 * 60


def _clock(minute: int) -> dt.time:
    return dt.time(0) if minute == DAY_MINUTES else dt.time(minute // 60, minute % 60)


@st.composite
def day_spans(draw: st.DrawFn) -> tuple[Span, ...]:
    """0–3 spans on the minute, often near 01:00–03:00 where the clocks change."""
    if draw(st.integers(0, 9)) == 0:
        return (Span(dt.time(0), dt.time(0)),)
    near_change = st.integers(0, 4 * 60)
    anywhere = st.integers(0, DAY_MINUTES)
    bounds = draw(st.sets(st.one_of(near_change, anywhere), max_size=6))
    ordered = sorted(bounds)
    if len(ordered) % 2:
        ordered = ordered[:-1]
    return tuple(
        Span(_clock(ordered[i]), _clock(ordered[i + 1])) for i in range(0, len(ordered), 2)
    )


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    zone = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 7)) == 0:
        return BusinessCalendar.twenty_four_seven(zone)
    weekly = tuple(draw(day_spans()) for _ in range(7))
    if not any(weekly):
        weekly = (*weekly[:-1], (Span.of("01:30", "02:30"),))
    dates = st.dates(dt.date(2026, 2, 15), dt.date(2027, 1, 31))
    closed = draw(st.frozensets(dates, max_size=25))
    special = draw(st.dictionaries(dates, day_spans(), max_size=8))
    return BusinessCalendar(zone, weekly, closed_dates=closed, special_hours=special)


instants = st.integers(0, WINDOW_MICROS).map(lambda n: WINDOW_START + n * MICROSECOND)
durations = st.integers(0, 120 * 3600 * 10**6).map(lambda n: n * MICROSECOND)
PROPERTY = settings(max_examples=90, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), instants, durations)
def test_measuring_an_added_duration_gives_it_back(calendar, start, duration) -> None:
    due = add_business_time(calendar, start, duration)
    assert due >= start
    assert business_time_between(calendar, start, due) == duration


@PROPERTY
@given(calendars(), instants, durations, durations)
def test_a_longer_target_is_never_due_earlier(calendar, start, first, second) -> None:
    shorter, longer = sorted((first, second))
    assert add_business_time(calendar, start, shorter) <= add_business_time(calendar, start, longer)


@PROPERTY
@given(calendars(), instants, instants, durations)
def test_a_later_arrival_is_never_due_earlier(calendar, first, second, duration) -> None:
    earlier, later = sorted((first, second))
    assert add_business_time(calendar, earlier, duration) <= add_business_time(
        calendar, later, duration
    )


@PROPERTY
@given(calendars(), instants, durations.filter(lambda d: d > dt.timedelta(0)))
def test_a_deadline_never_falls_inside_closed_time(calendar, start, duration) -> None:
    """The clock was running just before the deadline: the deadline is open time or the
    very end of an open span."""
    due = add_business_time(calendar, start, duration)
    assert is_open(calendar, due - MICROSECOND)
    assert is_open(calendar, due) or business_time_between(
        calendar, due, due + MICROSECOND
    ) == dt.timedelta(0)


@PROPERTY
@given(calendars(), instants)
def test_the_next_business_instant_is_open_and_nothing_opens_before_it(calendar, at) -> None:
    following = next_business_instant(calendar, at)
    assert following >= at
    assert is_open(calendar, following)
    assert business_time_between(calendar, at, following) == dt.timedelta(0)
    assert (following == at) == is_open(calendar, at)


@PROPERTY
@given(calendars(), instants, instants, instants)
def test_business_time_adds_up_and_matches_the_open_intervals(calendar, a, b, c) -> None:
    first, middle, last = sorted((a, b, c))
    whole = business_time_between(calendar, first, last)
    assert whole == business_time_between(calendar, first, middle) + business_time_between(
        calendar, middle, last
    )
    intervals = list(open_intervals(calendar, first, last))
    assert whole == sum((end - start for start, end in intervals), dt.timedelta(0))
    for (start, end), (next_start, _) in itertools.pairwise(intervals):
        assert first <= start < end < next_start <= last
    for start, end in intervals:
        assert is_open(calendar, start)
        assert is_open(calendar, end - MICROSECOND)
    assert whole <= last - first


@PROPERTY
@given(calendars(), instants)
def test_is_open_agrees_with_the_open_intervals(calendar, at) -> None:
    around = list(open_intervals(calendar, at - 2 * 24 * HOUR, at + 2 * 24 * HOUR))
    assert is_open(calendar, at) == any(start <= at < end for start, end in around)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["America/New_York", "Europe/London"]),
    instants,
    instants,
    durations,
)
def test_a_24_7_calendar_is_elapsed_time_across_clock_changes(zone, a, b, duration) -> None:
    always = BusinessCalendar.twenty_four_seven(zone)
    assert add_business_time(always, a, duration) == a + duration
    assert business_time_between(always, a, b) == max(b - a, dt.timedelta(0))
    assert is_open(always, a)
    # The same calendar written as 00:00–24:00 every day gives the same answers.
    by_spans = BusinessCalendar(zone, ((Span(dt.time(0), dt.time(0)),),) * 7)
    assert add_business_time(by_spans, a, duration) == a + duration
    assert business_time_between(by_spans, a, b) == max(b - a, dt.timedelta(0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendars(),
    st.lists(st.tuples(instants, instants, durations), min_size=1, max_size=15),
)
def test_the_index_and_the_measure_agree_with_the_plain_functions(calendar, questions) -> None:
    index = CalendarIndex(calendar, utc(2026, 4, 1), utc(2026, 12, 1))
    measure = CalendarMeasure(calendar)
    for start, end, duration in questions:
        added = add_business_time(calendar, start, duration)
        assert index.add(start, duration) == added == measure.add(start, duration)
        counted = business_time_between(calendar, start, end)
        assert index.between(start, end) == counted == measure.between(start, end)


# --- the wall clock as the independent judge of clock changes ---------------------------------

CLOCK_CHANGES = [
    ("America/New_York", dt.date(2026, 3, 8)),
    ("America/New_York", dt.date(2026, 11, 1)),
    ("Europe/London", dt.date(2026, 3, 29)),
    ("Europe/London", dt.date(2026, 10, 25)),
]


def _open_by_the_wall(calendar: BusinessCalendar, wall: dt.datetime) -> bool:
    return any(
        span.start <= wall.time() and (span.end == dt.time(0) or wall.time() < span.end)
        for span in spans_on(calendar, wall.date())
    )


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(CLOCK_CHANGES), day_spans())
def test_on_a_clock_change_day_it_is_open_when_the_wall_clock_has_reached_a_span(
    change, spans
) -> None:
    """Minute by minute through a clock-change Sunday: an instant is open exactly when
    the latest time the wall clock has shown so far lies in a span. (So a span starting
    in the skipped hour opens at the jump, and the repeated hour counts once.)"""
    zone_name, day = change
    zone = ZoneInfo(zone_name)
    weekly: list[tuple[Span, ...]] = [()] * 7
    weekly[SUNDAY] = spans
    calendar = BusinessCalendar(zone_name, tuple(weekly))
    at = dt.datetime.combine(day, dt.time(0), zone).astimezone(UTC) - 3 * HOUR
    latest_wall = at.astimezone(zone).replace(tzinfo=None)
    for _ in range(30 * 60):
        latest_wall = max(latest_wall, at.astimezone(zone).replace(tzinfo=None))
        assert is_open(calendar, at) == _open_by_the_wall(calendar, latest_wall), at
        at += dt.timedelta(minutes=1)
