"""SLA clocks replayed from an item's timeline, checked by hand-worked cases and by properties.

Given an item's timeline (submitted, queued, worked, paused while waiting on the
client, delivered, sent back for rework, messages both ways) and the terms it is
promised, when its clocks are replayed as of some instant, then each clock reads
what a person counting on the office wall would write down: how long it has run,
when it is due, whether it was met or breached, and which warnings it has passed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.core.calendars import BusinessCalendar, CalendarMeasure
from relaydesk.core.sla import (
    WALL_CLOCK,
    Clock,
    ClockKind,
    ClockStatus,
    SlaTerms,
    Target,
    TimelineEntry,
    attainment,
    replay,
)

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
FIRST = ClockKind.FIRST_RESPONSE
NEXT = ClockKind.NEXT_RESPONSE
TURNAROUND = ClockKind.TURNAROUND


# Monday to Friday, 09:00-17:00 in New York; no public holidays.
NEW_YORK_OFFICE = CalendarMeasure(BusinessCalendar.office_hours("America/New_York"))


def at(hour: int, minute: int = 0, *, day: int = 12) -> dt.datetime:
    """An instant in UTC in January 2026 (the 12th is a Monday)."""
    return dt.datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def entry(
    when: dt.datetime,
    state: str = "",
    *,
    reply: bool = False,
    client: bool = False,
    note: str = "",
) -> TimelineEntry:
    """One timeline event: a move to ``state`` (with what was said), a provider reply or a
    client message."""
    return TimelineEntry(
        at=when, to_state=state, provider_reply=reply, client_message=client, note=note
    )


def wall(kind: ClockKind, duration: dt.timedelta) -> Target:
    """A target in calendar time (every hour counts)."""
    return Target(kind, duration, business=False)


def clocks_of(
    entries: list[TimelineEntry],
    *targets: Target,
    now: dt.datetime,
    hard_deadline: dt.datetime | None = None,
) -> list[Clock]:
    """Replay ``entries`` on wall-clock business time under ``targets``."""
    terms = SlaTerms(targets=targets, hard_deadline=hard_deadline)
    return replay(entries, terms, business=WALL_CLOCK, now=now)


def only(clocks: list[Clock], kind: ClockKind, cycle: int = 1) -> Clock:
    """The one clock of ``kind`` and ``cycle``."""
    found = [c for c in clocks if c.kind is kind and c.cycle == cycle]
    assert len(found) == 1, clocks
    return found[0]


# Submitted 09:00, queued, assigned, worked from 10:00 (Monday 12 January 2026, UTC).
WORKED = [
    entry(at(9)),
    entry(at(9, 5), "queued"),
    entry(at(9, 30), "assigned"),
    entry(at(10), "in_progress"),
]


# --- turnaround: met and breached ---------------------------------------------------------


def test_a_turnaround_delivered_before_its_target_is_met() -> None:
    # 8 h target from 09:00: due 17:00. Delivered 15:00, so 6 h were used.
    timeline = [*WORKED, entry(at(15), "delivered")]

    clocks = clocks_of(timeline, wall(TURNAROUND, 8 * HOUR), now=at(16))

    (clock,) = clocks
    assert clock.kind is TURNAROUND
    assert clock.status is ClockStatus.MET
    assert clock.started_at == at(9)
    assert clock.stopped_at == at(15)
    assert clock.elapsed == 6 * HOUR
    assert clock.due_at == at(17)
    assert clock.breached_at is None
    assert attainment(clocks).met == 1
    assert attainment(clocks).percent == 100.0


def test_a_turnaround_past_its_target_while_still_running_is_breached() -> None:
    # 4 h target from 09:00: due 13:00. At 14:00 it has run 5 h: 125 % of the target.
    clocks = clocks_of(WORKED, wall(TURNAROUND, 4 * HOUR), now=at(14))

    clock = only(clocks, TURNAROUND)
    assert clock.status is ClockStatus.BREACHED
    assert clock.stopped_at is None
    assert clock.elapsed == 5 * HOUR
    assert clock.due_at == at(13)
    assert clock.breached_at == at(13)
    assert clock.used_percent == 125.0
    assert clock.left == -HOUR
    result = attainment(clocks)
    assert (result.met, result.breached, result.decided) == (0, 1, 1)
    assert result.percent == 0.0


def test_a_breached_turnaround_stays_breached_once_delivered() -> None:
    # Due 13:00, delivered 15:00: breached at 13:00, 6 h used.
    timeline = [*WORKED, entry(at(15), "delivered")]

    clock = only(clocks_of(timeline, wall(TURNAROUND, 4 * HOUR), now=at(16)), TURNAROUND)

    assert clock.status is ClockStatus.BREACHED
    assert clock.stopped_at == at(15)
    assert clock.breached_at == at(13)
    assert clock.elapsed == 6 * HOUR


# --- pauses -------------------------------------------------------------------------------

# Worked from 10:00, waiting on the client from 11:00 to 13:00, then worked again.
PAUSED_TWO_HOURS = [
    *WORKED,
    entry(at(11), "waiting_on_client"),
    entry(at(13), "in_progress"),
]


def test_time_waiting_on_the_client_is_not_counted_and_moves_the_due_time_later() -> None:
    # 09:00-11:00 and 13:00-15:00 count: 4 h. Without the pause an 8 h target is due
    # 17:00; the 2 h pause moves it to 19:00.
    target = wall(TURNAROUND, 8 * HOUR)
    unpaused = only(clocks_of(WORKED, target, now=at(15)), TURNAROUND)

    clock = only(clocks_of(PAUSED_TWO_HOURS, target, now=at(15)), TURNAROUND)

    assert unpaused.due_at == at(17)
    assert clock.status is ClockStatus.RUNNING
    assert clock.elapsed == 4 * HOUR
    assert clock.due_at == at(19)
    assert clock.paused_for == 2 * HOUR
    assert clock.paused_reason == ""


def test_while_waiting_on_the_client_the_clock_is_paused_with_no_due_time() -> None:
    # At 12:00 the item has waited 1 h; 09:00-11:00 counted: 2 h.
    clock = only(clocks_of(PAUSED_TWO_HOURS, wall(TURNAROUND, 8 * HOUR), now=at(12)), TURNAROUND)

    assert clock.status is ClockStatus.PAUSED
    assert clock.paused_reason == "waiting_on_client"
    assert clock.elapsed == 2 * HOUR
    assert clock.due_at is None
    assert clock.paused_for == HOUR
    assert clock.is_open
    assert attainment([clock]).decided == 0


def test_a_hold_with_a_note_is_paused_for_what_the_client_was_asked() -> None:
    # The agent put the item on hold at 11:00 asking for the missing page; the client
    # wrote at 11:30 (a next-response cycle, paused from its start). Both clocks wait for
    # the same thing; once the work resumes at 13:00 neither is paused for anything.
    asked = "Please send page 3 of the claim form."
    on_hold = [
        *WORKED,
        entry(at(11), "waiting_on_client", note=asked),
        entry(at(11, 30), client=True),
    ]
    targets = (wall(TURNAROUND, 8 * HOUR), wall(NEXT, HOUR))

    paused = clocks_of(on_hold, *targets, now=at(12))
    resumed = clocks_of([*on_hold, entry(at(13), "in_progress")], *targets, now=at(14))

    assert only(paused, TURNAROUND).status is ClockStatus.PAUSED
    assert only(paused, TURNAROUND).paused_reason == asked
    assert only(paused, NEXT).status is ClockStatus.PAUSED
    assert only(paused, NEXT).paused_reason == asked
    assert {c.paused_reason for c in resumed} == {""}
    # A hold without a note (or one the client may not read) is paused by its state.
    silent = [*WORKED, entry(at(11), "waiting_on_client")]
    assert only(clocks_of(silent, *targets, now=at(12)), TURNAROUND).paused_reason == (
        "waiting_on_client"
    )


def test_while_paused_a_hard_deadline_is_still_the_due_time() -> None:
    # The filing date does not move while the client is being waited on.
    clock = only(
        clocks_of(PAUSED_TWO_HOURS, wall(TURNAROUND, 8 * HOUR), now=at(12), hard_deadline=at(18)),
        TURNAROUND,
    )

    assert clock.status is ClockStatus.PAUSED
    assert clock.due_at == at(18)


def test_a_pause_in_business_time_moves_the_due_time_by_the_business_hours_paused() -> None:
    # New York office, Monday 12 January 2026 (EST, UTC-5). Submitted 09:00 EST
    # (14:00 UTC), 8 business hours: due 17:00 EST (22:00 UTC) without a pause.
    # Waiting on the client from 16:00 EST Monday (21:00 UTC) to 10:00 EST Tuesday
    # (15:00 UTC): 18 h on the wall but only 2 business hours (16-17 and 9-10), so the
    # due time moves 2 business hours: Tuesday 11:00 EST, 16:00 UTC.
    # At Tuesday 10:30 EST (15:30 UTC): 7 h Monday + 30 min Tuesday have counted.
    submitted = [entry(at(14)), entry(at(14, 30), "in_progress")]
    timeline = [
        *submitted,
        entry(at(21), "waiting_on_client"),
        entry(at(15, day=13), "in_progress"),
    ]
    terms = SlaTerms(targets=(Target(TURNAROUND, 8 * HOUR),))

    unpaused = only(replay(submitted, terms, business=NEW_YORK_OFFICE, now=at(20)), TURNAROUND)
    clock = only(
        replay(timeline, terms, business=NEW_YORK_OFFICE, now=at(15, 30, day=13)), TURNAROUND
    )

    assert unpaused.due_at == at(22)
    assert clock.status is ClockStatus.RUNNING
    assert clock.elapsed == 7 * HOUR + 30 * MINUTE
    assert clock.due_at == at(16, day=13)


# --- hard deadline ------------------------------------------------------------------------


def test_a_hard_deadline_earlier_than_the_target_is_the_due_time() -> None:
    # Target due 17:00; the cut-off is 15:00. At 14:00 running, at 16:00 breached at 15:00.
    target = wall(TURNAROUND, 8 * HOUR)

    before = only(clocks_of(WORKED, target, now=at(14), hard_deadline=at(15)), TURNAROUND)
    after = only(clocks_of(WORKED, target, now=at(16), hard_deadline=at(15)), TURNAROUND)

    assert before.status is ClockStatus.RUNNING
    assert before.due_at == at(15)
    assert after.status is ClockStatus.BREACHED
    assert after.due_at == at(15)
    assert after.breached_at == at(15)
    # 7 h of an 8 h target used, yet late: the deadline, not the target, decided it.
    assert after.elapsed == 7 * HOUR


def test_a_hard_deadline_later_than_the_target_changes_nothing() -> None:
    clock = only(
        clocks_of(WORKED, wall(TURNAROUND, 8 * HOUR), now=at(14), hard_deadline=at(20)),
        TURNAROUND,
    )

    assert clock.status is ClockStatus.RUNNING
    assert clock.due_at == at(17)


def test_a_hard_deadline_bounds_only_the_turnaround() -> None:
    # Submitted 09:00, only queued; the first response (2 h) is due 11:00 whatever the
    # cut-off of the work itself (10:30).
    timeline = [entry(at(9)), entry(at(9, 5), "queued")]

    clocks = clocks_of(
        timeline,
        wall(FIRST, 2 * HOUR),
        wall(TURNAROUND, 8 * HOUR),
        now=at(10),
        hard_deadline=at(10, 30),
    )

    assert only(clocks, FIRST).due_at == at(11)
    assert only(clocks, TURNAROUND).due_at == at(10, 30)


# --- first response -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "stopped"),
    [
        pytest.param(entry(at(9, 40), reply=True), at(9, 40), id="provider-reply"),
        pytest.param(entry(at(9, 50), "in_progress"), at(9, 50), id="work-starts"),
        pytest.param(entry(at(9, 55), "delivered"), at(9, 55), id="delivery"),
    ],
)
def test_the_first_response_stops_at_the_providers_first_answer(
    answer: TimelineEntry, stopped: dt.datetime
) -> None:
    # Submitted 09:00, 1 h target: any answer before 10:00 meets it.
    timeline = [entry(at(9)), entry(at(9, 5), "queued"), answer]

    clock = only(clocks_of(timeline, wall(FIRST, HOUR), now=at(12)), FIRST)

    assert clock.status is ClockStatus.MET
    assert clock.stopped_at == stopped
    assert clock.elapsed == stopped - at(9)
    assert clock.due_at == at(10)


def test_the_first_response_stops_at_whichever_answer_comes_first() -> None:
    # A reply at 09:40, then work starts at 10:15: the reply answered.
    timeline = [
        entry(at(9)),
        entry(at(9, 40), reply=True),
        entry(at(10, 15), "in_progress"),
        entry(at(11), "delivered"),
    ]

    clock = only(clocks_of(timeline, wall(FIRST, HOUR), now=at(12)), FIRST)

    assert clock.stopped_at == at(9, 40)
    assert clock.status is ClockStatus.MET


def test_a_first_response_after_its_target_is_breached() -> None:
    # 1 h target from 09:00; work starts at 10:15: breached at 10:00, 75 min used.
    timeline = [entry(at(9)), entry(at(9, 30), "assigned"), entry(at(10, 15), "in_progress")]

    clock = only(clocks_of(timeline, wall(FIRST, HOUR), now=at(12)), FIRST)

    assert clock.status is ClockStatus.BREACHED
    assert clock.stopped_at == at(10, 15)
    assert clock.breached_at == at(10)
    assert clock.elapsed == 75 * MINUTE


def test_a_client_message_does_not_stop_the_first_response() -> None:
    timeline = [entry(at(9)), entry(at(9, 20), client=True)]

    clock = only(clocks_of(timeline, wall(FIRST, HOUR), now=at(9, 45)), FIRST)

    assert clock.status is ClockStatus.RUNNING
    assert clock.stopped_at is None
    assert clock.elapsed == 45 * MINUTE
    assert clock.due_at == at(10)


# --- next response ------------------------------------------------------------------------


def test_each_client_message_starts_a_next_response_cycle_that_a_reply_stops() -> None:
    # Client writes 10:00, reply 10:20 (cycle 1: 20 min, met). Client writes 11:00 and
    # again 11:10 before any reply: one cycle from 11:00, at 11:30 running 30 min, due 12:00.
    timeline = [
        *WORKED,
        entry(at(10), client=True),
        entry(at(10, 20), reply=True),
        entry(at(11), client=True),
        entry(at(11, 10), client=True),
    ]

    clocks = clocks_of(timeline, wall(NEXT, HOUR), now=at(11, 30))

    assert [(c.kind, c.cycle) for c in clocks] == [(NEXT, 1), (NEXT, 2)]
    first, second = clocks
    assert first.status is ClockStatus.MET
    assert (first.started_at, first.stopped_at) == (at(10), at(10, 20))
    assert first.elapsed == 20 * MINUTE
    assert second.status is ClockStatus.RUNNING
    assert second.started_at == at(11)
    assert second.elapsed == 30 * MINUTE
    assert second.due_at == at(12)


def test_no_client_message_means_no_next_response_clock() -> None:
    timeline = [*WORKED, entry(at(10, 30), reply=True)]

    assert clocks_of(timeline, wall(NEXT, HOUR), now=at(12)) == []


def test_delivery_answers_an_open_client_message() -> None:
    timeline = [*WORKED, entry(at(10, 30), client=True), entry(at(11), "delivered")]

    clock = only(clocks_of(timeline, wall(NEXT, HOUR), now=at(12)), NEXT)

    assert clock.status is ClockStatus.MET
    assert clock.stopped_at == at(11)
    assert clock.elapsed == 30 * MINUTE


def test_a_client_message_while_paused_starts_a_paused_cycle() -> None:
    # Waiting on the client from 10:30; the client writes at 10:45. Nothing counts until
    # the item resumes at 11:00; at 11:30 the cycle has run 30 min and is due 12:00.
    timeline = [
        *WORKED,
        entry(at(10, 30), "waiting_on_client"),
        entry(at(10, 45), client=True),
    ]
    resumed = [*timeline, entry(at(11), "in_progress")]

    paused = only(clocks_of(timeline, wall(NEXT, HOUR), now=at(10, 50)), NEXT)
    running = only(clocks_of(resumed, wall(NEXT, HOUR), now=at(11, 30)), NEXT)

    assert paused.status is ClockStatus.PAUSED
    assert paused.paused_reason == "waiting_on_client"
    assert paused.elapsed == dt.timedelta(0)
    assert paused.due_at is None
    assert running.status is ClockStatus.RUNNING
    assert running.started_at == at(10, 45)
    assert running.elapsed == 30 * MINUTE
    assert running.due_at == at(12)
    assert running.paused_for == 15 * MINUTE


# --- rework -------------------------------------------------------------------------------

# Worked 09:30-12:00, delivered; rework asked at 15:00, delivered again at 16:00.
REWORKED = [
    entry(at(9)),
    entry(at(9, 30), "in_progress"),
    entry(at(12), "delivered"),
    entry(at(15), "rework"),
    entry(at(15, 10), "in_progress"),
    entry(at(16), "delivered"),
]


@pytest.mark.parametrize(
    ("now", "status", "elapsed", "due_at", "stopped_at"),
    [
        # Delivered at 12:00 after 3 h (09:00-12:00): met, 5 h to spare, due 17:00.
        pytest.param(at(14), ClockStatus.MET, 3 * HOUR, at(17), at(12), id="delivered"),
        # Running again from 15:00: 3 h + 30 min; the 5 h left end at 20:00.
        pytest.param(at(15, 30), ClockStatus.RUNNING, 3.5 * HOUR, at(20), None, id="rework"),
        # Delivered again at 16:00: 3 h + 1 h.
        pytest.param(at(17), ClockStatus.MET, 4 * HOUR, at(20), at(16), id="redelivered"),
    ],
)
def test_rework_runs_the_turnaround_again_without_the_time_it_sat_delivered(
    now: dt.datetime,
    status: ClockStatus,
    elapsed: dt.timedelta,
    due_at: dt.datetime,
    stopped_at: dt.datetime | None,
) -> None:
    timeline = [e for e in REWORKED if e.at <= now]

    clock = only(clocks_of(timeline, wall(TURNAROUND, 8 * HOUR), now=now), TURNAROUND)

    assert clock.status is status
    assert clock.elapsed == elapsed
    assert clock.due_at == due_at
    assert clock.stopped_at == stopped_at


def test_a_delivered_item_reopened_into_waiting_on_the_client_pauses_its_turnaround() -> None:
    # Delivered at 12:00 after 3 h; from 13:00 it waits on the client: the turnaround is
    # open again but paused, with no due time, and still 3 h used.
    timeline = [*REWORKED[:3], entry(at(13), "waiting_on_client")]

    clock = only(clocks_of(timeline, wall(TURNAROUND, 8 * HOUR), now=at(14)), TURNAROUND)

    assert clock.status is ClockStatus.PAUSED
    assert clock.paused_reason == "waiting_on_client"
    assert clock.stopped_at is None
    assert clock.due_at is None
    assert clock.elapsed == 3 * HOUR


# --- cancellation -------------------------------------------------------------------------

ALL_TARGETS = (wall(FIRST, HOUR), wall(NEXT, HOUR), wall(TURNAROUND, 8 * HOUR))


def test_cancelling_cancels_every_open_clock_and_attainment_ignores_them() -> None:
    # The client wrote at 09:10 before anyone answered; cancelled at 09:30.
    timeline = [
        entry(at(9)),
        entry(at(9, 5), "queued"),
        entry(at(9, 10), client=True),
        entry(at(9, 30), "cancelled"),
    ]

    clocks = clocks_of(timeline, *ALL_TARGETS, now=at(12))

    assert sorted((c.kind.value, c.cycle) for c in clocks) == [
        ("first_response", 1),
        ("next_response", 1),
        ("turnaround", 1),
    ]
    assert {c.status for c in clocks} == {ClockStatus.CANCELLED}
    assert {c.stopped_at for c in clocks} == {at(9, 30)}
    assert not any(c.is_open for c in clocks)
    result = attainment(clocks)
    assert (result.met, result.breached, result.decided) == (0, 0, 0)
    assert result.percent is None


def test_cancelling_keeps_the_outcome_of_clocks_already_stopped() -> None:
    # The first response was met at 09:20; only the turnaround was still open.
    timeline = [
        entry(at(9)),
        entry(at(9, 20), reply=True),
        entry(at(9, 30), "cancelled"),
    ]

    clocks = clocks_of(timeline, *ALL_TARGETS, now=at(12))

    assert only(clocks, FIRST).status is ClockStatus.MET
    assert only(clocks, TURNAROUND).status is ClockStatus.CANCELLED
    result = attainment(clocks)
    assert (result.met, result.breached) == (1, 0)
    assert result.percent == 100.0


def test_cancelling_while_paused_ends_the_pause() -> None:
    timeline = [*PAUSED_TWO_HOURS[:-1], entry(at(12), "cancelled")]

    clock = only(clocks_of(timeline, wall(TURNAROUND, 8 * HOUR), now=at(14)), TURNAROUND)

    assert clock.status is ClockStatus.CANCELLED
    assert clock.paused_reason == ""
    assert clock.paused_for == HOUR
    assert clock.elapsed == 2 * HOUR


# --- warnings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "used", "warned"),
    [
        # 10 h target from 09:00: 7 h at 16:00 (70 %), 8 h at 17:00 (80 %),
        # 9 h 30 min at 18:30 (95 %).
        pytest.param(at(16), 70.0, (), id="70%"),
        pytest.param(at(17), 80.0, (75,), id="80%"),
        pytest.param(at(18, 30), 95.0, (75, 90), id="95%"),
    ],
)
def test_a_clock_has_passed_the_warning_levels_it_has_used(
    now: dt.datetime, used: float, warned: tuple[int, ...]
) -> None:
    clock = only(clocks_of(WORKED, wall(TURNAROUND, 10 * HOUR), now=now), TURNAROUND)

    assert clock.used_percent == used
    assert clock.warned == warned


def test_warning_levels_come_from_the_terms() -> None:
    # 50 % of a 10 h target at 14:00; levels given out of order are reported in order.
    terms = SlaTerms(targets=(wall(TURNAROUND, 10 * HOUR),), warn_at=(80, 50))

    (clock,) = replay(WORKED, terms, business=WALL_CLOCK, now=at(14))

    assert clock.warned == (50,)


# --- business time ------------------------------------------------------------------------


def test_an_eight_business_hour_turnaround_from_friday_afternoon_is_due_monday_afternoon() -> None:
    # Friday 6 March 2026 15:00 EST is 20:00 UTC. 15:00-17:00 Friday counts 2 h; the
    # weekend is closed; 6 h more from 09:00 Monday end at 15:00. The clocks change on
    # Sunday 8 March, so Monday 9 March 15:00 is EDT (UTC-4): 19:00 UTC.
    submitted = dt.datetime(2026, 3, 6, 20, tzinfo=UTC)
    timeline = [entry(submitted), entry(submitted + 5 * MINUTE, "queued")]
    terms = SlaTerms(targets=(Target(TURNAROUND, 8 * HOUR),))

    clock = only(
        replay(
            timeline,
            terms,
            business=NEW_YORK_OFFICE,
            now=dt.datetime(2026, 3, 7, 12, tzinfo=UTC),
        ),
        TURNAROUND,
    )

    assert clock.business
    assert clock.status is ClockStatus.RUNNING
    assert clock.elapsed == 2 * HOUR
    assert clock.due_at == dt.datetime(2026, 3, 9, 19, tzinfo=UTC)


def test_business_time_delivered_on_monday_counts_only_office_hours() -> None:
    # Submitted Friday 15:00 EST (20:00 UTC), delivered Monday 14:00 EDT (18:00 UTC):
    # 2 h Friday + 5 h Monday (09:00-14:00) = 7 h of the 8 h target.
    submitted = dt.datetime(2026, 3, 6, 20, tzinfo=UTC)
    delivered = dt.datetime(2026, 3, 9, 18, tzinfo=UTC)
    timeline = [entry(submitted), entry(delivered, "delivered")]
    terms = SlaTerms(targets=(Target(TURNAROUND, 8 * HOUR),))

    clock = only(
        replay(timeline, terms, business=NEW_YORK_OFFICE, now=delivered + HOUR), TURNAROUND
    )

    assert clock.status is ClockStatus.MET
    assert clock.elapsed == 7 * HOUR
    assert clock.due_at == dt.datetime(2026, 3, 9, 19, tzinfo=UTC)


def test_a_calendar_time_target_counts_every_hour_even_with_a_business_calendar() -> None:
    # The same Friday submission with an 8 h calendar-time target: due 04:00 UTC Saturday.
    submitted = dt.datetime(2026, 3, 6, 20, tzinfo=UTC)
    terms = SlaTerms(targets=(wall(TURNAROUND, 8 * HOUR),))

    (clock,) = replay([entry(submitted)], terms, business=NEW_YORK_OFFICE, now=submitted + 3 * HOUR)

    assert not clock.business
    assert clock.elapsed == 3 * HOUR
    assert clock.due_at == dt.datetime(2026, 3, 7, 4, tzinfo=UTC)


def test_a_round_the_clock_calendar_counts_like_the_wall() -> None:
    measure = CalendarMeasure(BusinessCalendar.twenty_four_seven("America/New_York"))
    terms = SlaTerms(targets=(Target(TURNAROUND, 8 * HOUR),))

    (clock,) = replay(WORKED, terms, business=measure, now=at(14))

    assert clock.elapsed == 5 * HOUR
    assert clock.due_at == at(17)


# --- what the replay reads ----------------------------------------------------------------


def test_events_after_now_are_ignored() -> None:
    # Delivered at 15:00, asked at 14:00: still running, 5 h used.
    timeline = [*WORKED, entry(at(15), "delivered")]

    clock = only(clocks_of(timeline, wall(TURNAROUND, 8 * HOUR), now=at(14)), TURNAROUND)

    assert clock.status is ClockStatus.RUNNING
    assert clock.stopped_at is None
    assert clock.elapsed == 5 * HOUR


def test_an_item_with_no_events_yet_has_no_clocks() -> None:
    assert clocks_of([], *ALL_TARGETS, now=at(12)) == []
    assert clocks_of(WORKED, *ALL_TARGETS, now=at(8)) == []


def test_only_clocks_with_a_target_are_replayed() -> None:
    clocks = clocks_of(WORKED, wall(FIRST, HOUR), now=at(12))

    assert [c.kind for c in clocks] == [FIRST]


@pytest.mark.parametrize("duration", [dt.timedelta(0), -HOUR], ids=["zero", "negative"])
def test_a_target_must_be_longer_than_zero(duration: dt.timedelta) -> None:
    with pytest.raises(ValueError, match="turnaround target must be longer than zero"):
        Target(TURNAROUND, duration)


# --- properties ---------------------------------------------------------------------------

STATES = ["queued", "assigned", "in_progress", "waiting_on_client", "delivered", "rework"]

events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=240),  # minutes after the previous event
        st.sampled_from(["", *STATES]),
        st.booleans(),  # a provider reply
        st.booleans(),  # a client message
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    steps=events,
    ask_after=st.integers(min_value=0, max_value=3000),
    minutes=st.tuples(*[st.integers(min_value=1, max_value=600)] * 3),
)
def test_replayed_clocks_never_count_more_than_the_wall_and_project_their_due_time(
    steps: list[tuple[int, str, bool, bool]],
    ask_after: int,
    minutes: tuple[int, int, int],
) -> None:
    when = at(9)
    timeline = [entry(when)]
    for gap, state, reply, client in steps:
        when += gap * MINUTE
        timeline.append(entry(when, state, reply=reply, client=client))
    now = at(9) + ask_after * MINUTE
    targets = [
        wall(kind, m * MINUTE) for kind, m in zip((FIRST, NEXT, TURNAROUND), minutes, strict=True)
    ]

    clocks = clocks_of(timeline, *targets, now=now)

    assert [c.kind for c in clocks if c.kind is not NEXT] == [FIRST, TURNAROUND]
    cycles = [c.cycle for c in clocks if c.kind is NEXT]
    assert cycles == list(range(1, len(cycles) + 1))
    for clock in clocks:
        end = clock.stopped_at if clock.stopped_at is not None else now
        assert dt.timedelta(0) <= clock.elapsed <= end - clock.started_at
        if clock.status is ClockStatus.RUNNING:
            assert clock.due_at is not None
            assert clock.due_at - now == clock.target - clock.elapsed
        if clock.status is ClockStatus.PAUSED:
            assert clock.paused_reason == "waiting_on_client"
            if clock.elapsed < clock.target:  # else it was due the moment it reached it
                assert clock.due_at is None


def test_acceptance_after_an_on_time_delivery_keeps_the_turnaround_met() -> None:
    # Delivered after 1 h against a 5 h target, accepted by the client 20 h after submission.
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    terms = SlaTerms(targets=(Target(ClockKind.TURNAROUND, dt.timedelta(hours=5), False),))
    entries = [
        TimelineEntry(start, "queued"),
        TimelineEntry(start + dt.timedelta(hours=1), "delivered"),
        TimelineEntry(start + dt.timedelta(hours=20), "accepted"),
    ]
    [clock] = replay(entries, terms, business=WALL_CLOCK, now=start + dt.timedelta(days=2))
    assert clock.status is ClockStatus.MET
    assert clock.stopped_at == start + dt.timedelta(hours=1)
    assert clock.due_at == start + dt.timedelta(hours=5)
