"""Routing properties that hold for any desk, checked on generated ones (hypothesis).

Given random agents (skills, certifications, sites, shifts around a daylight-saving
change, presence, load) and random queues, then:

- every pull hands out exactly the best-ordered item the agent may take, found by
  brute force over the whole queue, and never one a rule forbids;
- no assignment, pulled, pushed or in a wave, puts an agent above capacity;
- the agent an item is pushed to is eligible and the best by the chosen strategy;
- the optimal wave is the brute-force optimum, and never worse than greedy.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.core.eligibility import (
    AgentProfile,
    CertificationGrant,
    ItemNeeds,
    Presence,
    meets_needs,
    qualification_exclusion,
)
from relaydesk.core.routing import (
    QueuedItem,
    Router,
    RoutingAgent,
    Strategy,
    WaveCost,
    WavePlan,
    agent_exclusion,
    assign_wave,
    assign_wave_greedy,
    choose_agent,
    exclusion,
    order_key,
    scan_next_item,
)
from relaydesk.core.shifts import ShiftCalendar, WeeklyShift

UTC = dt.UTC
# Friday before the US clocks go forward (Sunday 8 March 2026, 02:00 in New York).
BASE = dt.datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
SKILLS = ("review", "entry")
CALENDARS = (
    ShiftCalendar.around_the_clock("UTC"),
    ShiftCalendar(
        "America/New_York", tuple(WeeklyShift(d, dt.time(22), dt.time(6)) for d in range(7))
    ),
    ShiftCalendar(
        "Asia/Kolkata",
        tuple(WeeklyShift(d, dt.time(9), dt.time(18)) for d in range(5)),
        days_off=frozenset({dt.date(2026, 3, 9)}),
    ),
    ShiftCalendar(
        "Asia/Manila",
        (WeeklyShift(0, dt.time(6), dt.time(14)), WeeklyShift(4, dt.time(6), dt.time(14))),
        extra=((BASE + dt.timedelta(days=1), BASE + dt.timedelta(days=1, hours=6)),),
    ),
)
HOURS = 4 * 24  # generated instants fall within four days of BASE

moments = st.integers(0, HOURS * 60).map(lambda m: BASE + dt.timedelta(minutes=m))


@st.composite
def agents(draw: st.DrawFn, agent_id: int) -> RoutingAgent:
    skills = {s: p for s in SKILLS if (p := draw(st.integers(0, 5)))}
    capacity = draw(st.integers(0, 3))
    grants = draw(
        st.lists(
            st.builds(
                CertificationGrant,
                st.just("pip"),
                st.frozensets(st.sampled_from(["US-FL", "US-NY"])),
                st.integers(-1, 4).map(lambda d: BASE.date() + dt.timedelta(days=d)),
            ),
            max_size=2,
        )
    )
    profile = AgentProfile(
        agent_id=agent_id,
        country=draw(st.sampled_from(["PH", "IN", "US"])),
        skills=skills,
        languages=draw(
            st.sampled_from([frozenset({"en"}), frozenset({"en", "es"}), frozenset({"es"})])
        ),
        capacity=capacity,
        # mostly within capacity, sometimes over it (a lead assigned by hand)
        load=draw(st.integers(0, capacity) | st.integers(0, 3)),
        certifications=tuple(grants),
        clearances=draw(st.frozensets(st.just("phi"))),
        site=draw(st.sampled_from(["mnl", "pnq", "fll"])),
    )
    return RoutingAgent(
        profile,
        draw(st.sampled_from([CALENDARS[0]] * 3 + list(CALENDARS))),
        draw(st.sampled_from([Presence.AVAILABLE] * 6 + [Presence.ON_BREAK, Presence.OFFLINE])),
        draw(st.none() | moments),
    )


def sometimes(draw: st.DrawFn) -> bool:
    """True one time in four: for the rarer, narrowing needs."""
    return draw(st.integers(0, 3)) == 0


@st.composite
def needs(draw: st.DrawFn, agent_count: int) -> ItemNeeds:
    certified = sometimes(draw)
    return ItemNeeds(
        skills={s: p for s in SKILLS if (p := draw(st.integers(0, 3)))},
        language=draw(st.sampled_from(["en", "en", "es", ""])),
        jurisdiction=draw(st.sampled_from(["US-FL", "US-NY", ""])) if certified else "",
        certification="pip" if certified else "",
        clearance="phi" if sometimes(draw) else "",
        allowed_countries=(
            draw(st.frozensets(st.sampled_from(["PH", "IN", "US"])))
            if sometimes(draw)
            else frozenset()
        ),
        dedicated_agent_ids=(
            draw(st.frozensets(st.integers(0, agent_count - 1), min_size=1))
            if sometimes(draw)
            else frozenset()
        ),
        sites=draw(st.frozensets(st.sampled_from(["mnl", "pnq"])))
        if sometimes(draw)
        else frozenset(),
    )


@st.composite
def items(draw: st.DrawFn, item_id: int, pool: list[ItemNeeds]) -> QueuedItem:
    return QueuedItem(
        item_id=item_id,
        needs=draw(st.sampled_from(pool)),
        queued_at=BASE - dt.timedelta(minutes=draw(st.integers(0, 600))),
        priority=draw(st.integers(0, 3)),
        due_at=draw(
            st.none() | st.integers(-60, 600).map(lambda m: BASE + dt.timedelta(minutes=m))
        ),
        case_key=draw(st.sampled_from(["", "M-1", "M-2"])),
        effort_minutes=draw(st.integers(5, 60)),
    )


@st.composite
def fitted_needs(draw: st.DrawFn, agent: RoutingAgent) -> ItemNeeds:
    """Needs that ``agent`` meets (if their grants are still valid): so someone qualifies."""
    profile = agent.profile
    grant = draw(st.sampled_from(profile.certifications)) if profile.certifications else None
    return ItemNeeds(
        skills={
            s: draw(st.integers(1, p)) for s, p in profile.skills.items() if draw(st.booleans())
        },
        language=draw(st.sampled_from(sorted(profile.languages))),
        jurisdiction=(
            draw(st.sampled_from(sorted(grant.jurisdictions) or ["US-FL"])) if grant else ""
        ),
        certification=grant.code if grant else "",
        clearance=draw(st.sampled_from(["", *sorted(profile.clearances)])),
        allowed_countries=frozenset({profile.country}) if draw(st.booleans()) else frozenset(),
        dedicated_agent_ids=frozenset(),
        sites=frozenset({profile.site, "mnl"}) if sometimes(draw) else frozenset(),
    )


@dataclass
class Desk:
    agents: list[RoutingAgent]
    items: list[QueuedItem]
    arrivals: list[QueuedItem]


@st.composite
def desks(draw: st.DrawFn, max_agents: int = 6, max_items: int = 30) -> Desk:
    count = draw(st.integers(1, max_agents))
    staff = [draw(agents(n)) for n in range(count)]
    pool = draw(
        st.lists(
            needs(count) | st.sampled_from(staff).flatmap(fitted_needs), min_size=1, max_size=6
        )
    )
    queue = [draw(items(n, pool)) for n in range(draw(st.integers(0, max_items)))]
    # Items that arrive later, some with needs no queued item has had yet.
    later = [*pool, *draw(st.lists(needs(count), max_size=2))]
    arrivals = [draw(items(1000 + n, later)) for n in range(draw(st.integers(0, 5)))]
    return Desk(staff, queue, arrivals)


def brute_force_next(
    agent: RoutingAgent, queue: list[QueuedItem], now: dt.datetime
) -> QueuedItem | None:
    """Every queued item checked against every rule; the smallest routing key wins."""
    allowed = [item for item in queue if exclusion(agent, item.needs, now) is None]
    return min(allowed, key=order_key, default=None)


# --- pull -------------------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("take"), st.integers(0, 99), moments),
        st.tuples(st.just("peek"), st.integers(0, 99), moments),
        st.tuples(st.just("remove"), st.integers(0, 99), st.none()),
        st.tuples(st.just("load"), st.integers(0, 99), st.integers(0, 3)),
        st.tuples(st.just("presence"), st.integers(0, 99), st.sampled_from(list(Presence))),
        st.tuples(st.just("finish"), st.integers(0, 99), moments),
        st.tuples(st.just("arrive"), st.integers(0, 99), st.none()),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(desks(), operations)
def test_every_pull_is_the_best_ordered_item_the_agent_may_take(desk: Desk, ops: list) -> None:
    router = Router(desk.agents, desk.items)
    live = {item.item_id: item for item in desk.items}
    ids = [a.agent_id for a in desk.agents]
    for op, which, value in ops:
        agent_id = ids[which % len(ids)]
        before = router.agent(agent_id)
        if op in ("take", "peek"):
            expected = brute_force_next(before, list(live.values()), value)
            assert scan_next_item(before, live.values(), value) == expected
            got = (
                router.take_next(agent_id, value)
                if op == "take"
                else router.next_item(agent_id, value)
            )
            assert got == expected
            if got is not None:
                assert exclusion(before, got.needs, value) is None
            if op == "take" and got is not None:
                del live[got.item_id]
                after = router.agent(agent_id)
                assert after.profile.load == before.profile.load + 1
                assert after.profile.load <= after.profile.capacity
        elif op == "remove" and live:
            item_id = sorted(live)[which % len(live)]
            assert router.remove_item(item_id) == live.pop(item_id)
        elif op == "load":
            router.set_load(agent_id, value)
        elif op == "presence":
            router.set_presence(agent_id, value)
        elif op == "finish" and before.profile.load:
            router.finish(agent_id, value)
        elif op == "arrive" and desk.arrivals:
            arrival = desk.arrivals.pop()
            router.add_item(arrival)
            live[arrival.item_id] = arrival
        assert len(router) == len(live)


@settings(max_examples=150, deadline=None)
@given(desks(max_items=0), moments)
def test_the_quick_check_agrees_with_the_rules_that_give_reasons(
    desk: Desk, now: dt.datetime
) -> None:
    day = now.date()
    for agent in desk.agents:
        for item in desk.arrivals:
            wanted = item.needs
            assert meets_needs(agent.profile, wanted, day) == (
                qualification_exclusion(agent.profile, wanted, day) is None
            )


# --- push -------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(desks(max_items=8), moments, st.sampled_from(list(Strategy)))
def test_every_push_goes_to_an_eligible_agent_best_by_the_strategy(
    desk: Desk, now: dt.datetime, strategy: Strategy
) -> None:
    router = Router(desk.agents, strategy=strategy)
    router.record_handled("M-1", desk.agents[-1].agent_id)
    for item in desk.items:
        staff = router.agents()
        eligible = [a for a in staff if exclusion(a, item.needs, now) is None]
        handlers = {
            case: handler
            for case in ("M-1", "M-2")
            if (handler := router.last_handler(case)) is not None
        }
        pure = choose_agent(item, staff, now, strategy=strategy, last_handlers=handlers)
        chosen = router.push(item, now)
        assert chosen == (pure.agent_id if pure else None)
        if chosen is None:
            assert not eligible and item.item_id in router
            continue
        picked = next(a for a in eligible if a.agent_id == chosen)
        assert router.agent(chosen).profile.load == picked.profile.load + 1
        assert router.agent(chosen).profile.load <= picked.profile.capacity
        previous = handlers.get(item.case_key)
        if strategy == Strategy.CONTINUITY and previous in {a.agent_id for a in eligible}:
            assert chosen == previous
        elif strategy == Strategy.LEAST_LOADED:
            share = min(a.profile.load / a.profile.capacity for a in eligible)
            assert picked.profile.load / picked.profile.capacity == share
        elif strategy == Strategy.HIGHEST_PROFICIENCY:
            best = max(strength(a, item.needs) for a in eligible)
            assert strength(picked, item.needs) == best
        else:
            assert idle(picked) == min(idle(a) for a in eligible)


def strength(agent: RoutingAgent, wanted: ItemNeeds) -> int:
    return sum(agent.profile.skills.get(s, 0) for s in wanted.skills)


def idle(agent: RoutingAgent) -> float:
    return -math.inf if agent.idle_since is None else agent.idle_since.timestamp()


# --- waves ------------------------------------------------------------------------------------


def check_plan(plan: WavePlan, desk: Desk, now: dt.datetime) -> None:
    """Every pair is allowed by every rule and nobody ends above capacity."""
    agents = {a.agent_id: a for a in desk.agents}
    queue = {i.item_id: i for i in desk.items}
    assigned = [item_id for item_id, _ in plan.assignments]
    assert sorted(assigned + list(plan.deferred)) == sorted(queue)
    taken: dict[int, int] = {}
    for item_id, agent_id in plan.assignments:
        assert exclusion(agents[agent_id], queue[item_id].needs, now) is None
        taken[agent_id] = taken.get(agent_id, 0) + 1
    for agent_id, count in taken.items():
        profile = agents[agent_id].profile
        assert profile.load + count <= profile.capacity


@settings(max_examples=100, deadline=None)
@given(desks(max_agents=6, max_items=25), moments)
def test_every_wave_assignment_is_allowed_and_within_capacity(desk: Desk, now: dt.datetime) -> None:
    optimal = assign_wave(desk.items, desk.agents, now)
    greedy = assign_wave_greedy(desk.items, desk.agents, now)
    check_plan(optimal, desk, now)
    check_plan(greedy, desk, now)
    # The optimum assigns as many items as possible, then costs least.
    assert len(optimal.assignments) >= len(greedy.assignments)
    if len(optimal.assignments) == len(greedy.assignments):
        assert optimal.objective <= greedy.objective + 1e-6


def price(item: QueuedItem, agent: RoutingAgent | None, slot: int, now: dt.datetime) -> float:
    """The WaveCost rules written out again, for the brute force."""
    cost = WaveCost()
    if agent is None:
        done = cost.defer_minutes + item.effort_minutes
    else:
        wanted = item.needs.skills
        surplus = (
            sum(agent.profile.skills.get(s, 0) - m for s, m in wanted.items()) / len(wanted)
            if wanted
            else 0.0
        )
        done = (slot + 1) * item.effort_minutes / (1 + cost.speedup_per_level * surplus)
    room = math.inf if item.due_at is None else (item.due_at - now).total_seconds() / 60
    weight = 1 + max(item.priority, 0)
    return weight * max(0.0, done - room) + cost.completion_weight * weight * done


def brute_force_wave(desk: Desk, now: dt.datetime) -> tuple[int, float]:
    """(most assignments possible, least cost with that many) over every possible plan."""
    ready = [a for a in desk.agents if agent_exclusion(a, now) is None]
    day = now.astimezone(UTC).date()
    choices = [
        [None] + [a for a in ready if qualification_exclusion(a.profile, item.needs, day) is None]
        for item in desk.items
    ]
    best = (0, math.inf)
    for plan in itertools.product(*choices):
        by_agent: dict[int, list[QueuedItem]] = {}
        for item, agent in zip(desk.items, plan, strict=True):
            if agent is not None:
                by_agent.setdefault(agent.agent_id, []).append(item)
        agents = {a.agent_id: a for a in ready}
        if any(
            len(held) > agents[a].profile.capacity - agents[a].profile.load
            for a, held in by_agent.items()
        ):
            continue
        total = sum(
            price(i, None, 0, now) for i, a in zip(desk.items, plan, strict=True) if a is None
        )
        for agent_id, held in by_agent.items():
            total += min(
                sum(price(i, agents[agent_id], k, now) for k, i in enumerate(order))
                for order in itertools.permutations(held)
            )
        count = len(desk.items) - plan.count(None)
        if (-count, total) < (-best[0], best[1]):
            best = (count, total)
    return best


@settings(max_examples=100, deadline=None)
@given(desks(max_agents=3, max_items=4), moments)
def test_the_optimal_wave_is_the_brute_force_optimum(desk: Desk, now: dt.datetime) -> None:
    count, least = brute_force_wave(desk, now)
    plan = assign_wave(desk.items, desk.agents, now)
    assert len(plan.assignments) == count
    assert math.isclose(plan.objective, least, rel_tol=1e-9, abs_tol=1e-9)
    greedy = assign_wave_greedy(desk.items, desk.agents, now)
    assert (-len(greedy.assignments), greedy.objective) >= (-count, least - 1e-9)
