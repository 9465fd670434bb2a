"""Who takes over at shift end: the next shift's eligible agents, soonest first.

Given agents at sites with shifts, when an agent's shift ends with an item in
hand, then the item goes to whoever passes every rule about it and works
soonest after that end — at any site — and never to someone who may not work it.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.core.eligibility import AgentProfile, ItemNeeds, Presence
from relaydesk.core.routing import (
    RoutingAgent,
    available_from,
    qualification_exclusion,
    rank_next_shift,
    shift_ended_between,
)
from relaydesk.core.shifts import ShiftCalendar, WeeklyShift

UTC = dt.UTC
# Tuesday 3 March 2026, 08:40 UTC: 16:40 in Manila (shift ends 17:00), 14:10 in Pune.
NOW = dt.datetime(2026, 3, 3, 8, 40, tzinfo=UTC)
MANILA_ENDS = dt.datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
WEEKDAYS = range(5)
MANILA = ShiftCalendar(
    "Asia/Manila", tuple(WeeklyShift(d, dt.time(9), dt.time(17)) for d in WEEKDAYS)
)
# Pune 14:00-22:00 IST is 08:30-16:30 UTC; Florida 09:00-17:00 EST is 14:00-22:00 UTC.
PUNE = ShiftCalendar(
    "Asia/Kolkata", tuple(WeeklyShift(d, dt.time(14), dt.time(22)) for d in WEEKDAYS)
)
FLORIDA = ShiftCalendar(
    "America/New_York", tuple(WeeklyShift(d, dt.time(9), dt.time(17)) for d in WEEKDAYS)
)
NEEDS = ItemNeeds(skills={"data-entry": 3}, language="en", allowed_countries=frozenset())


def agent(
    agent_id: int,
    calendar: ShiftCalendar,
    *,
    skill: int = 4,
    languages: tuple[str, ...] = ("en",),
    load: int = 0,
    capacity: int = 3,
    presence: Presence = Presence.OFFLINE,
    site: str = "",
    idle_since: dt.datetime | None = None,
) -> RoutingAgent:
    return RoutingAgent(
        profile=AgentProfile(
            agent_id=agent_id,
            country="PH",
            skills={"data-entry": skill},
            languages=frozenset(languages),
            capacity=capacity,
            load=load,
            site=site,
        ),
        calendar=calendar,
        presence=presence,
        idle_since=idle_since,
    )


def test_an_agent_on_shift_when_the_shift_ends_can_take_over_at_once() -> None:
    assert available_from(PUNE, MANILA_ENDS) == MANILA_ENDS


def test_an_agent_off_shift_can_take_over_when_their_next_shift_starts() -> None:
    assert available_from(FLORIDA, MANILA_ENDS) == dt.datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def test_a_shift_about_to_end_is_passed_over_for_the_next_one() -> None:
    almost_over = dt.datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # Pune ends 16:30 UTC
    assert available_from(PUNE, almost_over) == dt.datetime(2026, 3, 4, 8, 30, tzinfo=UTC)
    assert available_from(PUNE, almost_over, min_left=dt.timedelta(minutes=20)) == almost_over


def test_nobody_is_available_beyond_the_horizon() -> None:
    friday_evening = dt.datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # next Pune shift: Monday
    assert available_from(PUNE, friday_evening) is None
    assert available_from(ShiftCalendar("Asia/Kolkata"), MANILA_ENDS) is None


def test_a_shift_end_is_found_only_within_the_window() -> None:
    got_it = dt.datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert shift_ended_between(MANILA, got_it, NOW) is None
    assert shift_ended_between(MANILA, got_it, MANILA_ENDS) == MANILA_ENDS
    assert shift_ended_between(MANILA, got_it, MANILA_ENDS + dt.timedelta(hours=30)) == MANILA_ENDS
    # Got it after the shift ended: the next end is tomorrow's.
    evening = MANILA_ENDS + dt.timedelta(hours=1)
    assert shift_ended_between(MANILA, evening, evening + dt.timedelta(hours=2)) is None
    assert shift_ended_between(MANILA, evening, evening + dt.timedelta(days=1)) == (
        MANILA_ENDS + dt.timedelta(days=1)
    )
    assert (
        shift_ended_between(ShiftCalendar.around_the_clock(), NOW, NOW + dt.timedelta(days=3))
        is None
    )


def test_the_soonest_eligible_agent_of_the_next_shift_gets_the_item_at_any_site() -> None:
    giver = agent(1, MANILA)
    same_shift = agent(2, MANILA)  # their next shift is tomorrow
    pune = agent(3, PUNE)
    florida = agent(4, FLORIDA)
    ranked = rank_next_shift(
        NEEDS, [giver, same_shift, pune, florida], MANILA_ENDS, exclude=frozenset({1})
    )
    assert [(p.agent.agent_id, p.available_from) for p in ranked] == [
        (3, MANILA_ENDS),
        (4, dt.datetime(2026, 3, 3, 14, 0, tzinfo=UTC)),
        (2, dt.datetime(2026, 3, 4, 1, 0, tzinfo=UTC)),
    ]


def test_agents_who_may_not_work_the_item_or_have_no_room_are_never_offered_it() -> None:
    pool = [
        agent(10, PUNE, skill=2),
        agent(11, PUNE, languages=("es",)),
        agent(12, PUNE, load=3, capacity=3),
        agent(13, FLORIDA),
    ]
    ranked = rank_next_shift(NEEDS, pool, MANILA_ENDS)
    assert [p.agent.agent_id for p in ranked] == [13]


def test_the_ladders_first_sites_do_not_limit_a_handoff() -> None:
    needs = ItemNeeds(skills={"data-entry": 3}, sites=frozenset({"mnl"}))
    ranked = rank_next_shift(needs, [agent(3, PUNE, site="pnq")], MANILA_ENDS)
    assert [p.agent.agent_id for p in ranked] == [3]


def test_among_agents_on_shift_the_available_then_least_loaded_come_first() -> None:
    offline = agent(20, PUNE)
    busy = agent(21, PUNE, presence=Presence.AVAILABLE, load=2)
    free = agent(22, PUNE, presence=Presence.AVAILABLE, load=0)
    on_break = agent(23, PUNE, presence=Presence.ON_BREAK)
    ranked = rank_next_shift(NEEDS, [offline, busy, free, on_break], MANILA_ENDS)
    assert [p.agent.agent_id for p in ranked] == [22, 21, 23, 20]


CALENDARS = [MANILA, PUNE, FLORIDA, ShiftCalendar.around_the_clock(), ShiftCalendar("UTC")]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(CALENDARS) - 1),
            st.integers(1, 5),
            st.booleans(),
            st.integers(0, 4),
            st.integers(1, 4),
            st.sampled_from(list(Presence)),
        ),
        max_size=12,
    ),
    st.integers(0, 7 * 24 * 60),
)
def test_every_agent_offered_passes_the_rules_and_none_is_left_out_who_works_sooner(
    rows: list[tuple[int, int, bool, int, int, Presence]], offset: int
) -> None:
    ends = NOW + dt.timedelta(minutes=offset)
    pool = [
        agent(
            n,
            CALENDARS[cal],
            skill=skill,
            languages=("en",) if english else ("fr",),
            load=min(load, capacity),
            capacity=capacity,
            presence=presence,
        )
        for n, (cal, skill, english, load, capacity, presence) in enumerate(rows)
    ]
    ranked = rank_next_shift(NEEDS, pool, ends)
    offered = {p.agent.agent_id for p in ranked}
    for pick in ranked:
        profile = pick.agent.profile
        assert qualification_exclusion(profile, NEEDS, pick.available_from.date()) is None
        assert profile.load < profile.capacity
        assert ends <= pick.available_from <= ends + dt.timedelta(hours=24)
        assert pick.agent.calendar.is_on_shift(pick.available_from)
    starts = [p.available_from for p in ranked]
    assert starts == sorted(starts)
    for candidate in pool:
        eligible = (
            qualification_exclusion(candidate.profile, NEEDS, ends.date()) is None
            and candidate.profile.load < candidate.profile.capacity
            and candidate.calendar.is_on_shift(ends)
            and (candidate.calendar.status(ends).until or ends + dt.timedelta(days=9)) - ends
            >= dt.timedelta(hours=1)
        )
        if eligible:
            assert candidate.agent_id in offered
