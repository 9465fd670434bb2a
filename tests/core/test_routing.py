"""Routing as an operations lead and an agent meet it.

Given agents at sites with shifts and a queue of items with needs, when an agent
presses "Get next", an item arrives, or a wave is assigned, then the right eligible
person gets the right item, and "why" always has an answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from relaydesk.core.eligibility import (
    RULES,
    AgentProfile,
    CertificationGrant,
    Exclusion,
    ItemNeeds,
    Presence,
)
from relaydesk.core.routing import (
    EscalationLadder,
    LadderStep,
    QueuedItem,
    Relaxation,
    Router,
    RoutingAgent,
    Strategy,
    WaveCost,
    assign_wave,
    assign_wave_greedy,
    choose_agent,
    escalation_state,
    exclusion,
    explain,
    explain_next,
    needs_key,
    order_key,
    scan_next_item,
    slack,
    sort_items,
    widened_needs,
)
from relaydesk.core.shifts import ShiftCalendar, WeeklyShift

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Monday: 14:00 in Manila, 11:30 in Pune
ALWAYS = ShiftCalendar.around_the_clock("UTC")
MANILA_DAYS = ShiftCalendar(
    "Asia/Manila", tuple(WeeklyShift(day, dt.time(8), dt.time(17)) for day in range(5))
)
PUNE_NIGHTS = ShiftCalendar(
    "Asia/Kolkata", tuple(WeeklyShift(day, dt.time(21), dt.time(6)) for day in range(7))
)
PIP = CertificationGrant("pip-no-fault", frozenset({"US-FL"}), dt.date(2027, 1, 1))


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def agent(
    agent_id: int,
    *,
    review: int = 4,
    country: str = "PH",
    site: str = "mnl",
    calendar: ShiftCalendar = ALWAYS,
    capacity: int = 3,
    load: int = 0,
    presence: Presence = Presence.AVAILABLE,
    idle_minutes: float | None = None,
    certifications: tuple[CertificationGrant, ...] = (PIP,),
    languages: frozenset[str] = frozenset({"en"}),
) -> RoutingAgent:
    return RoutingAgent(
        AgentProfile(
            agent_id=agent_id,
            country=country,
            skills={"legal-document-review": review},
            languages=languages,
            capacity=capacity,
            load=load,
            certifications=certifications,
            clearances=frozenset({"phi"}),
            site=site,
        ),
        calendar,
        presence,
        None if idle_minutes is None else NOW - minutes(idle_minutes),
    )


CLAIM = ItemNeeds(
    skills={"legal-document-review": 3},
    jurisdiction="US-FL",
    certification="pip-no-fault",
    clearance="phi",
    allowed_countries=frozenset({"PH", "IN"}),
)
ENTRY = ItemNeeds(skills={"legal-document-review": 1})


def item(
    item_id: int,
    *,
    needs: ItemNeeds = CLAIM,
    priority: int = 0,
    due_in: float | None = None,
    age: float = 10,
    case: str = "",
    effort: float = 30,
) -> QueuedItem:
    return QueuedItem(
        item_id=item_id,
        needs=needs,
        queued_at=NOW - minutes(age),
        priority=priority,
        due_at=None if due_in is None else NOW + minutes(due_in),
        case_key=case,
        effort_minutes=effort,
    )


# --- eligibility at a moment ------------------------------------------------------------------


def test_every_rule_is_named_in_order_when_an_agent_fails_them_all() -> None:
    """Given an agent who fails every rule, when fixed one rule at a time, then the
    rules are named in the order of RULES and at the end the agent is eligible."""
    needs = replace(CLAIM, sites=frozenset({"mnl"}), dedicated_agent_ids=frozenset({1}))
    failing = RoutingAgent(
        AgentProfile(99, "US", {}, frozenset({"hi"}), capacity=1, load=1, site="fll"),
        ShiftCalendar("Asia/Manila"),
        Presence.OFFLINE,
    )
    fixes: list[tuple[str, dict[str, object]]] = [
        ("skill", {"skills": {"legal-document-review": 3}}),
        ("certification", {"certifications": (PIP,)}),
        ("language", {"languages": frozenset({"en"})}),
        ("clearance", {"clearances": frozenset({"phi"})}),
        ("residency", {"country": "PH"}),
        ("site", {"site": "mnl"}),
        ("dedicated", {"agent_id": 1}),
    ]
    current = failing
    seen = []
    for rule, fix in fixes:
        refusal = exclusion(current, needs, NOW)
        assert refusal is not None and refusal.rule == rule
        seen.append(refusal.rule)
        current = replace(current, profile=replace(current.profile, **fix))  # type: ignore[arg-type]
    for rule, change in [
        ("shift", {"calendar": ALWAYS}),
        ("presence", {"presence": Presence.AVAILABLE}),
        ("capacity", {"profile": replace(current.profile, load=0)}),
    ]:
        refusal = exclusion(current, needs, NOW)
        assert refusal is not None and refusal.rule == rule
        seen.append(refusal.rule)
        current = replace(current, **change)  # type: ignore[arg-type]
    assert tuple(seen) == RULES
    assert exclusion(current, needs, NOW) is None


def test_an_off_shift_agent_is_told_the_sites_time_and_the_next_shift() -> None:
    pune = agent(3, country="IN", site="pnq", calendar=PUNE_NIGHTS)
    assert exclusion(pune, CLAIM, NOW) == Exclusion(
        "shift", "off shift: it is Mon 11:30 in Asia/Kolkata; next shift starts Mon 02 Mar 21:00"
    )
    assert exclusion(pune, CLAIM, NOW + dt.timedelta(hours=10)) is None


@pytest.mark.parametrize(
    ("presence", "reason"), [(Presence.ON_BREAK, "is on a break"), (Presence.OFFLINE, "is offline")]
)
def test_an_agent_who_is_not_available_is_excluded(presence: Presence, reason: str) -> None:
    assert exclusion(agent(1, presence=presence), CLAIM, NOW) == Exclusion("presence", reason)


def test_a_certification_must_be_valid_on_the_day_of_assignment() -> None:
    """Given a certification valid until 2 March, then it counts until midnight UTC and
    not a second after."""
    last_day = agent(1, certifications=(replace(PIP, valid_until=NOW.date()),))
    assert exclusion(last_day, CLAIM, NOW.replace(hour=23, minute=59)) is None
    refusal = exclusion(last_day, CLAIM, NOW.replace(hour=0) + dt.timedelta(days=1))
    assert refusal is not None and refusal.rule == "certification"


def test_explain_names_who_may_take_an_item_and_why_not_the_others() -> None:
    """Given four agents, when a lead asks about a Florida claim, then the one who may
    take it is named and each other is excluded by the first rule they fail."""
    agents = [
        agent(1),
        agent(2, review=2),
        agent(3, country="IN", site="pnq", calendar=PUNE_NIGHTS),
        agent(4, capacity=2, load=2),
    ]
    explanation = explain(item(10), agents, NOW)
    assert explanation.eligible_agent_ids == (1,)
    assert [(v.agent_id, v.exclusion and v.exclusion.rule) for v in explanation.verdicts] == [
        (1, None),
        (2, "skill"),
        (3, "shift"),
        (4, "capacity"),
    ]
    assert explanation.summary() == "1 of 4 agents may take it now"


def test_a_stuck_item_says_which_rules_keep_everyone_away() -> None:
    agents = [agent(2, review=2), agent(3, review=1), agent(4, presence=Presence.ON_BREAK)]
    explanation = explain(item(10), agents, NOW)
    assert explanation.eligible_agent_ids == ()
    assert explanation.excluded_by() == {"skill": 2, "presence": 1}
    assert explanation.summary() == "no agent may take it now; excluded by skill 2, presence 1"


# --- order ------------------------------------------------------------------------------------


def test_items_are_ordered_by_priority_then_slack_then_age() -> None:
    """Given items that differ in priority, due time and age, then the more urgent
    priority comes first, then the one with the least slack, items without a due time
    after those with one, and among equals the oldest."""
    urgent = item(1, priority=2, due_in=300)
    late = item(2, priority=1, due_in=-5)
    tight = item(3, priority=1, due_in=20)
    loose_old = item(4, priority=1, due_in=90, age=60)
    loose_new = item(5, priority=1, due_in=90, age=5)
    no_due_old = item(6, priority=1, age=500)
    no_due_new = item(7, priority=1, age=1)
    low = item(8, priority=0, due_in=1)
    shuffled = [low, no_due_new, loose_new, urgent, no_due_old, tight, loose_old, late]
    assert [i.item_id for i in sort_items(shuffled)] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert order_key(loose_old) < order_key(loose_new)


def test_slack_is_the_time_left_before_the_deadline() -> None:
    assert slack(item(1, due_in=20), NOW) == minutes(20)
    assert slack(item(1, due_in=-5), NOW) == minutes(-5)
    assert slack(item(1), NOW) is None


def test_equal_needs_make_one_requirement_set_whatever_the_skill_order() -> None:
    a = ItemNeeds(skills={"x": 1, "y": 2})
    b = ItemNeeds(skills={"y": 2, "x": 1})
    assert needs_key(a) == needs_key(b)
    assert needs_key(a) != needs_key(replace(a, language="es"))


# --- choosing an agent ------------------------------------------------------------------------


def test_longest_idle_picks_who_had_work_least_recently() -> None:
    agents = [agent(1, idle_minutes=5), agent(2, idle_minutes=50), agent(3, idle_minutes=20)]
    chosen = choose_agent(item(10), agents, NOW)
    assert chosen is not None and chosen.agent_id == 2
    never = agent(4)  # never had work: idle the longest
    chosen = choose_agent(item(10), [*agents, never], NOW)
    assert chosen is not None and chosen.agent_id == 4


def test_least_loaded_picks_the_smallest_share_of_capacity_in_use() -> None:
    agents = [agent(1, capacity=2, load=1), agent(2, capacity=4, load=1), agent(3, load=2)]
    chosen = choose_agent(item(10), agents, NOW, strategy=Strategy.LEAST_LOADED)
    assert chosen is not None and chosen.agent_id == 2


def test_highest_proficiency_picks_the_strongest_in_the_items_skills() -> None:
    agents = [agent(1, review=3, idle_minutes=90), agent(2, review=5), agent(3, review=4)]
    chosen = choose_agent(item(10), agents, NOW, strategy=Strategy.HIGHEST_PROFICIENCY)
    assert chosen is not None and chosen.agent_id == 2


def test_continuity_keeps_a_matter_with_its_last_handler_while_eligible() -> None:
    """Given agent 3 last handled matter M-7, then the next M-7 item goes to agent 3; when
    agent 3 is on a break it falls back to the longest idle."""
    agents = [agent(1, idle_minutes=90), agent(2, idle_minutes=10), agent(3, idle_minutes=1)]
    last = {"M-7": 3}
    pick = choose_agent(
        item(10, case="M-7"), agents, NOW, strategy=Strategy.CONTINUITY, last_handlers=last
    )
    assert pick is not None and pick.agent_id == 3
    agents[2] = replace(agents[2], presence=Presence.ON_BREAK)
    pick = choose_agent(
        item(10, case="M-7"), agents, NOW, strategy=Strategy.CONTINUITY, last_handlers=last
    )
    assert pick is not None and pick.agent_id == 1


def test_nobody_is_chosen_when_nobody_is_eligible() -> None:
    assert choose_agent(item(10), [agent(1, review=1)], NOW) is None


# --- pull: "Get next" -------------------------------------------------------------------------


def test_get_next_gives_the_best_ordered_item_the_agent_may_take() -> None:
    """Given a queue whose most urgent item needs more than the agent has, then the agent
    gets the most urgent of the rest, and the explanation names what they were passed over
    for."""
    hard = item(1, priority=3, needs=replace(CLAIM, skills={"legal-document-review": 5}))
    items = [hard, item(2, priority=1, due_in=60), item(3, priority=1, due_in=30), item(4)]
    router = Router([agent(1)], items)
    got = router.next_item(1, NOW)
    assert got is not None and got.item_id == 3
    assert router.next_item(1, NOW) == got  # looking does not take
    why = router.explain_next(1, NOW)
    assert why.item == got
    assert [(i.item_id, e.rule) for i, e in why.passed_over] == [(1, "skill")]
    assert "gets item 3" in why.summary()
    assert explain_next(router.agent(1), items, NOW) == why


def test_taking_an_item_removes_it_and_adds_to_the_agents_load() -> None:
    router = Router([agent(1, capacity=2)], [item(1, priority=1), item(2), item(3)])
    first = router.take_next(1, NOW)
    second = router.take_next(1, NOW)
    assert (first and first.item_id, second and second.item_id) == (1, 2)
    assert 1 not in router and 2 not in router and len(router) == 1
    assert router.agent(1).profile.load == 2
    assert router.take_next(1, NOW) is None  # at capacity
    assert router.explain_next(1, NOW).summary() == "takes no work now: already holds 2 of 2 items"
    router.finish(1, NOW + minutes(5))
    third = router.take_next(1, NOW + minutes(6))
    assert third is not None and third.item_id == 3


def test_an_item_claimed_elsewhere_is_not_offered_again() -> None:
    router = Router([agent(1), agent(2)], [item(1, priority=2), item(2, priority=1)])
    assert router.remove_item(1) is not None
    assert router.remove_item(1) is None
    got = router.next_item(2, NOW)
    assert got is not None and got.item_id == 2


def test_an_agent_off_shift_on_a_break_or_unknown_gets_nothing() -> None:
    router = Router([agent(1, calendar=PUNE_NIGHTS), agent(2)], [item(1)])
    assert router.next_item(1, NOW) is None
    assert router.next_item(1, NOW + dt.timedelta(hours=10)) is not None  # 21:30 in Pune
    router.set_presence(2, Presence.ON_BREAK)
    assert router.next_item(2, NOW) is None
    router.set_presence(2, Presence.AVAILABLE)
    assert router.next_item(2, NOW) is not None
    with pytest.raises(KeyError, match="agent 9 is not known"):
        router.next_item(9, NOW)
    with pytest.raises(ValueError, match="aware datetime"):
        router.next_item(2, NOW.replace(tzinfo=None))


def test_a_changed_agent_record_is_routed_on_its_new_skills() -> None:
    router = Router([agent(1, review=2)], [item(1)])
    assert router.next_item(1, NOW) is None
    router.set_agent(agent(1, review=3))
    assert router.next_item(1, NOW) is not None


def test_a_certification_that_expires_at_midnight_stops_routing_the_next_day() -> None:
    expiring = agent(1, certifications=(replace(PIP, valid_until=NOW.date()),))
    router = Router([expiring], [item(1), item(2, needs=ENTRY)])
    got = router.next_item(1, NOW)
    assert got is not None and got.item_id == 1
    tomorrow = router.next_item(1, NOW + dt.timedelta(days=1))
    assert tomorrow is not None and tomorrow.item_id == 2


def test_a_load_set_from_outside_is_respected() -> None:
    router = Router([agent(1, capacity=2)], [item(1)])
    router.set_load(1, 2)
    assert router.next_item(1, NOW) is None
    router.set_load(1, 1)
    assert router.next_item(1, NOW) is not None
    with pytest.raises(ValueError, match="load cannot be negative"):
        router.set_load(1, -1)


def test_the_same_item_cannot_be_queued_twice() -> None:
    router = Router([], [item(1)])
    with pytest.raises(ValueError, match="item 1 is already queued"):
        router.add_item(item(1))
    router.update_item(item(1, priority=5))
    assert router.item(1).priority == 5 and len(router) == 1


def test_many_removals_leave_the_queue_consistent() -> None:
    """Given 500 items in one requirement set, when most are claimed elsewhere in random
    order, then the router still hands out the remaining ones in routing order."""
    items = [item(n, due_in=n % 97, age=n % 13) for n in range(500)]
    router = Router([agent(1, capacity=500)], items)
    keep = {n for n in range(500) if n % 7 == 0}
    for n in sorted(set(range(500)) - keep, key=lambda n: (n * 37) % 500):
        router.remove_item(n)
    expected = [i.item_id for i in sort_items(i for i in items if i.item_id in keep)]
    taken = []
    while (got := router.take_next(1, NOW)) is not None:
        taken.append(got.item_id)
    assert taken == expected


def test_the_router_agrees_with_scanning_the_whole_queue() -> None:
    agents = [agent(1), agent(2, review=1), agent(3, country="US", site="fll")]
    items = [
        item(1, priority=1, needs=replace(CLAIM, allowed_countries=frozenset({"US"}))),
        item(2, due_in=40),
        item(3, needs=ENTRY, due_in=10),
    ]
    router = Router(agents, items)
    for a in agents:
        assert router.next_item(a.agent_id, NOW) == scan_next_item(a, items, NOW)


# --- push -------------------------------------------------------------------------------------


def test_an_arriving_item_goes_straight_to_the_chosen_agent() -> None:
    router = Router([agent(1, idle_minutes=5), agent(2, idle_minutes=30)])
    assert router.push(item(1), NOW) == 2
    assert router.agent(2).profile.load == 1 and len(router) == 0
    assert router.push(item(2), NOW + minutes(1)) == 1  # agent 2 just got work


def test_an_item_nobody_may_take_waits_in_the_queue() -> None:
    router = Router([agent(1, review=1)])
    assert router.push(item(1), NOW) is None
    assert 1 in router
    assert router.explain_item(1, NOW).excluded_by() == {"skill": 1}


def test_continuity_in_push_follows_the_matter() -> None:
    router = Router([agent(1), agent(2)], strategy=Strategy.CONTINUITY)
    first = router.push(item(1, case="M-1"), NOW)
    assert first is not None and router.last_handler("M-1") == first
    assert router.push(item(2, case="M-1"), NOW + minutes(1)) == first
    router.record_handled("M-2", 2)
    assert router.push(item(3, case="M-2"), NOW + minutes(2)) == 2


# --- daylight saving --------------------------------------------------------------------------


def test_a_night_shift_across_the_spring_change_routes_on_both_sides() -> None:
    """Given a Florida agent on Saturday 22:00–06:00 (America/New_York) and the night
    the clocks go forward, then they get work at 22:30 EST and at 05:30 EDT, and nothing
    at 06:30 EDT — which a fixed UTC-5 offset would still call 05:30."""
    florida = ShiftCalendar("America/New_York", (WeeklyShift(5, dt.time(22), dt.time(6)),))
    fll = agent(1, country="US", site="fll", calendar=florida, capacity=10)
    needs = replace(CLAIM, allowed_countries=frozenset({"US"}))
    router = Router([fll], [item(n, needs=needs) for n in range(3)])
    before = dt.datetime(2026, 3, 8, 3, 30, tzinfo=UTC)  # Saturday 22:30 EST
    after = dt.datetime(2026, 3, 8, 9, 30, tzinfo=UTC)  # Sunday 05:30 EDT
    ended = dt.datetime(2026, 3, 8, 10, 30, tzinfo=UTC)  # Sunday 06:30 EDT
    assert router.take_next(1, before) is not None
    assert router.take_next(1, after) is not None
    assert router.take_next(1, ended) is None
    refusal = exclusion(router.agent(1), needs, ended)
    assert refusal is not None and refusal.reason.startswith("off shift: it is Sun 06:30")


def test_a_night_shift_across_the_autumn_change_routes_in_the_extra_hour() -> None:
    florida = ShiftCalendar("America/New_York", (WeeklyShift(5, dt.time(22), dt.time(6)),))
    fll = agent(1, country="US", site="fll", calendar=florida, capacity=10)
    needs = replace(CLAIM, allowed_countries=frozenset({"US"}))
    router = Router([fll], [item(n, needs=needs) for n in range(3)])
    assert router.take_next(1, dt.datetime(2026, 11, 1, 2, 30, tzinfo=UTC)) is not None  # 22:30 EDT
    assert (
        router.take_next(1, dt.datetime(2026, 11, 1, 10, 30, tzinfo=UTC)) is not None
    )  # 05:30 EST
    assert router.take_next(1, dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC)) is None  # 06:00 EST


# --- waves ------------------------------------------------------------------------------------


def test_the_optimal_wave_beats_greedy_where_greedy_takes_the_only_expert() -> None:
    """Given an urgent entry-level item and a specialist item, and two agents of whom only
    the expert may do the specialist one, then greedy gives the urgent item to the faster
    expert and leaves the specialist item late, while the optimal wave gives each to the
    one who should do it, and nobody is late."""
    expert = agent(1, review=3, capacity=1)
    junior = agent(2, review=1, capacity=1)
    urgent = item(1, priority=1, due_in=40, needs=ENTRY)
    special = item(2, due_in=35, needs=replace(ENTRY, skills={"legal-document-review": 3}))
    greedy = assign_wave_greedy([urgent, special], [expert, junior], NOW)
    optimal = assign_wave([urgent, special], [expert, junior], NOW)
    assert greedy.assignments == ((1, 1),) and greedy.deferred == (2,)
    assert greedy.weighted_lateness == pytest.approx(10.0)  # deferred: 15 + 30 min, due in 35
    assert optimal.assignments == ((1, 2), (2, 1)) and optimal.deferred == ()
    assert optimal.weighted_lateness == 0.0
    assert optimal.objective < greedy.objective
    assert optimal.agent_for(2) == 1 and optimal.agent_for(3) is None


def test_a_wave_fills_free_capacity_only_and_defers_the_rest() -> None:
    agents = [agent(1, capacity=3, load=1), agent(2, capacity=2, load=2), agent(3, review=1)]
    items = [item(n, due_in=60 + n) for n in range(5)]
    for plan in (assign_wave(items, agents, NOW), assign_wave_greedy(items, agents, NOW)):
        assert [agent_id for _item, agent_id in plan.assignments] == [1, 1]
        assert len(plan.deferred) == 3


def test_a_wave_gives_no_slot_to_an_agent_off_shift_or_away() -> None:
    agents = [agent(1, calendar=PUNE_NIGHTS), agent(2, presence=Presence.OFFLINE)]
    plan = assign_wave([item(1)], agents, NOW)
    assert plan.assignments == () and plan.deferred == (1,)


def test_an_empty_wave_assigns_nothing() -> None:
    plan = assign_wave([], [agent(1)], NOW)
    assert plan.assignments == () and plan.deferred == () and plan.objective == 0.0


def test_a_wave_refuses_duplicates_and_bad_prices() -> None:
    with pytest.raises(ValueError, match="same item twice"):
        assign_wave([item(1), item(1)], [agent(1)], NOW)
    with pytest.raises(ValueError, match="same agent twice"):
        assign_wave([item(1)], [agent(1), agent(1)], NOW)
    with pytest.raises(ValueError, match="cannot be negative"):
        WaveCost(defer_minutes=-1)


def test_a_more_proficient_agent_finishes_sooner_in_the_price() -> None:
    """Given one item due in 25 minutes of 30 minutes' effort, then only an agent two
    levels above the minimum (30 / 1.5 = 20 minutes) finishes it in time."""
    tight = item(1, due_in=25)
    plan = assign_wave([tight], [agent(1, review=3), agent(2, review=5)], NOW)
    assert plan.assignments == ((1, 2),) and plan.weighted_lateness == 0.0


# --- escalation ---------------------------------------------------------------------------------


LADDER = EscalationLadder.standard(widen_after_minutes=30, alert_after_minutes=90)


def test_an_item_climbs_the_ladder_as_it_waits() -> None:
    queued = NOW
    fresh = escalation_state(LADDER, queued, NOW + minutes(29))
    assert (fresh.level, fresh.proficiency_drop, fresh.other_sites, fresh.alert_lead) == (
        0,
        0,
        False,
        False,
    )
    assert fresh.next_step_at == NOW + minutes(30)
    widened = escalation_state(LADDER, queued, NOW + minutes(30))
    assert (widened.level, widened.proficiency_drop, widened.other_sites) == (1, 1, True)
    assert not widened.alert_lead and widened.next_step_at == NOW + minutes(90)
    alerted = escalation_state(LADDER, queued, NOW + minutes(120))
    assert alerted.alert_lead and alerted.level == 2 and alerted.next_step_at is None
    assert [s.describe() for s in alerted.steps_after(1)] == [
        "not taken within 90 min: operations lead alerted"
    ]
    assert LADDER.steps[0].describe() == (
        "not taken within 30 min: proficiency lowered by one level; opened to every allowed site"
    )


def test_widening_lowers_minimums_and_opens_sites_but_nothing_else() -> None:
    home = replace(
        CLAIM, skills={"legal-document-review": 3, "data-entry": 1}, sites=frozenset({"mnl"})
    )
    state = escalation_state(LADDER, NOW, NOW + minutes(45))
    wide = widened_needs(home, state)
    assert wide.skills == {"legal-document-review": 2, "data-entry": 1}
    assert wide.sites == frozenset()
    assert (wide.certification, wide.jurisdiction, wide.clearance, wide.allowed_countries) == (
        home.certification,
        home.jurisdiction,
        home.clearance,
        home.allowed_countries,
    )
    assert widened_needs(home, escalation_state(LADDER, NOW, NOW)) == home


def test_a_widened_item_reaches_the_agent_it_could_not_before() -> None:
    """Given a Manila-only item needing level 3 and a level-2 Pune agent, then after T1
    the widened item is routed to them."""
    pune = agent(5, review=2, country="IN", site="pnq")
    waiting = item(1, needs=replace(CLAIM, sites=frozenset({"mnl"})))
    router = Router([pune], [waiting])
    later = NOW + minutes(31)
    assert router.next_item(5, later) is None
    state = escalation_state(LADDER, waiting.queued_at, later)
    router.update_item(replace(waiting, needs=widened_needs(waiting.needs, state)))
    assert router.next_item(5, later) is not None


def test_ladders_can_be_built_step_by_step_and_bad_ones_are_refused() -> None:
    same_time = EscalationLadder.standard(widen_after_minutes=30, alert_after_minutes=30)
    assert len(same_time.steps) == 1 and Relaxation.ALERT_LEAD in same_time.steps[0].relaxations
    only_alert = EscalationLadder.standard(widen_after_minutes=None, alert_after_minutes=60)
    assert only_alert.steps == (LadderStep(minutes(60), frozenset({Relaxation.ALERT_LEAD})),)
    twice = EscalationLadder(
        (
            LadderStep(minutes(10), frozenset({Relaxation.LOWER_PROFICIENCY})),
            LadderStep(minutes(20), frozenset({Relaxation.LOWER_PROFICIENCY})),
        )
    )
    assert escalation_state(twice, NOW, NOW + minutes(25)).proficiency_drop == 2
    with pytest.raises(ValueError, match="strictly increasing"):
        EscalationLadder(tuple(reversed(twice.steps)))
    with pytest.raises(ValueError, match="must relax something"):
        LadderStep(minutes(5), frozenset())
    with pytest.raises(ValueError, match="before queueing"):
        LadderStep(minutes(-5), frozenset({Relaxation.ALERT_LEAD}))


# --- bad input --------------------------------------------------------------------------------


def test_items_and_agents_with_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="queued_at must be an aware datetime"):
        QueuedItem(1, CLAIM, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="due_at must be an aware datetime"):
        QueuedItem(1, CLAIM, NOW, due_at=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="effort_minutes must be positive"):
        QueuedItem(1, CLAIM, NOW, effort_minutes=0)
    with pytest.raises(ValueError, match="idle_since must be an aware datetime"):
        replace(agent(1), idle_since=NOW.replace(tzinfo=None))
