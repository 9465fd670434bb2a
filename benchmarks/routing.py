"""Routing decisions: the core router against scanning the whole queue, and the
optimal wave assignment against greedy.

Prints figures that compare across machines as ratios to a baseline measured in the
same run. Decision times are given as this thread's CPU time and as wall-clock time:
on a busy machine the wall clock also counts the time spent waiting for a core.
Sections (each a function in ``SECTIONS``, run in order; ``--section`` picks some):

- core pull: ``Router.take_next`` ("Get next") with a generated desk — by default
  5,000 agents at four sites, 100,000 queued items, 200 requirement sets — next to
  the naive decision that scans and filters every queued item with the same rules
  (``scan_next_item``), measured on fewer decisions and checked to agree;
- wave: ``assign_wave`` (SciPy's minimum-cost assignment) against
  ``assign_wave_greedy`` on a generated wave: total weighted lateness and time.

    make bench            # or: .venv/bin/python benchmarks/routing.py [--section core] [--items N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from relaydesk.core.eligibility import AgentProfile, CertificationGrant, ItemNeeds, Presence
from relaydesk.core.routing import (
    NeedsKey,
    QueuedItem,
    Router,
    RoutingAgent,
    agent_exclusion,
    assign_wave,
    assign_wave_greedy,
    needs_key,
    scan_next_item,
)
from relaydesk.core.shifts import ShiftCalendar, WeeklyShift

UTC = dt.UTC
# A Tuesday at 09:30 UTC: 17:30 in Manila, 14:30 in Karachi, 15:00 in Pune, 05:30 in Florida.
NOW = dt.datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
SKILLS = (
    "data-entry",
    "customer-support",
    "payroll",
    "accounts-payable",
    "it-helpdesk",
    "legal-document-review",
    "legal-drafting",
    "e-filing",
    "legal-research",
    "medical-records",
    "market-research",
    "financial-analysis",
)
JURISDICTIONS = ("US-FL", "US-NY", "US-NJ", "US-MI", "US-PA", "US-TX")
# site code, country, time zone, extra languages
SITES = (
    ("mnl", "PH", "Asia/Manila", ("tl",)),
    ("khi", "PK", "Asia/Karachi", ("ur",)),
    ("pnq", "IN", "Asia/Kolkata", ("hi", "mr")),
    ("fll", "US", "America/New_York", ("es",)),
)


def shift_calendars(time_zone: str) -> list[ShiftCalendar]:
    """A site's day, evening and night shifts, Monday to Saturday."""
    spans = ((dt.time(6), dt.time(15)), (dt.time(14), dt.time(23)), (dt.time(22), dt.time(7)))
    return [
        ShiftCalendar(time_zone, tuple(WeeklyShift(day, start, end) for day in range(6)))
        for start, end in spans
    ]


@dataclass
class Desk:
    """A generated desk: agents, requirement sets, a queue and later arrivals."""

    agents: list[RoutingAgent]
    needs: list[ItemNeeds]
    items: list[QueuedItem]
    arrivals: list[QueuedItem]


def make_agents(rng: random.Random, count: int) -> list[RoutingAgent]:
    calendars = {zone: shift_calendars(zone) for _code, _country, zone, _langs in SITES}
    agents = []
    for agent_id in range(1, count + 1):
        site, country, zone, local_languages = rng.choice(SITES)
        skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(3, 6))}
        grants: tuple[CertificationGrant, ...] = ()
        if rng.random() < 0.4:
            grants = (
                CertificationGrant(
                    "pip-no-fault",
                    frozenset(rng.sample(JURISDICTIONS, rng.randint(1, 3))),
                    NOW.date() + dt.timedelta(days=rng.randint(-60, 700)),
                ),
            )
        profile = AgentProfile(
            agent_id=agent_id,
            country=country,
            skills=skills,
            languages=frozenset({"en", *rng.sample(local_languages, rng.randint(0, 1))}),
            capacity=rng.randint(3, 8),
            load=rng.randint(0, 2),
            certifications=grants,
            clearances=frozenset(
                c for c, p in (("phi", 0.6), ("privileged", 0.3)) if rng.random() < p
            ),
            site=site,
        )
        presence = Presence.AVAILABLE if rng.random() < 0.85 else Presence.ON_BREAK
        idle = NOW - dt.timedelta(minutes=rng.randint(0, 240))
        agents.append(RoutingAgent(profile, rng.choice(calendars[zone]), presence, idle))
    return agents


def make_needs(rng: random.Random, agents: list[RoutingAgent], count: int) -> list[ItemNeeds]:
    """Distinct requirement sets, each modelled on some agent so that someone qualifies."""
    found: dict[NeedsKey, ItemNeeds] = {}
    while len(found) < count:
        model = rng.choice(agents).profile
        skills = {
            s: rng.randint(1, p)
            for s, p in rng.sample(sorted(model.skills.items()), rng.randint(1, 2))
        }
        grant = model.certifications[0] if model.certifications and rng.random() < 0.5 else None
        countries = {model.country, *rng.sample([s[1] for s in SITES], rng.randint(0, 2))}
        needs = ItemNeeds(
            skills=skills,
            language=rng.choice(sorted(model.languages)),
            jurisdiction=rng.choice(sorted(grant.jurisdictions)) if grant else "",
            certification=grant.code if grant else "",
            clearance=rng.choice(["", *sorted(model.clearances)]),
            allowed_countries=frozenset(countries) if rng.random() < 0.6 else frozenset(),
            sites=frozenset({model.site}) if rng.random() < 0.1 else frozenset(),
        )
        found.setdefault(needs_key(needs), needs)
    return list(found.values())


def make_items(
    rng: random.Random, needs: list[ItemNeeds], first_id: int, count: int, *, due_within: int
) -> list[QueuedItem]:
    # Some requirement sets are far busier than others, as in life.
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(needs))]
    chosen = rng.choices(needs, weights=weights, k=count)
    items = []
    for offset, item_needs in enumerate(chosen):
        due = rng.randint(-30, due_within) if rng.random() < 0.8 else None
        items.append(
            QueuedItem(
                item_id=first_id + offset,
                needs=item_needs,
                queued_at=NOW - dt.timedelta(minutes=rng.randint(0, 2 * 24 * 60)),
                priority=rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0],
                due_at=None if due is None else NOW + dt.timedelta(minutes=due),
                effort_minutes=rng.randint(10, 60),
            )
        )
    return items


def make_desk(args: argparse.Namespace) -> Desk:
    rng = random.Random(args.seed)
    agents = make_agents(rng, args.agents)
    needs = make_needs(rng, agents, args.sets)
    items = make_items(rng, needs, 1, args.items, due_within=3 * 24 * 60)
    arrivals = make_items(rng, needs, args.items + 1, args.decisions, due_within=3 * 24 * 60)
    return Desk(agents, needs, items, arrivals)


def percentile(values: list[float], share: int) -> float:
    return statistics.quantiles(values, n=100)[share - 1]


# --- core pull --------------------------------------------------------------------------------


@dataclass
class Timings:
    """Per-decision times in milliseconds: CPU time of this thread, and wall clock."""

    cpu: list[float]
    wall: list[float]

    def rate(self, clock: str) -> float:
        return len(self.cpu) / sum(getattr(self, clock)) * 1000

    def line(self, label: str, clock: str, digits: int) -> str:
        values = getattr(self, clock)
        return (
            f"{label:<22}{self.rate(clock):12,.1f} decisions/s   "
            f"p50 {percentile(values, 50):8.{digits}f} ms   "
            f"p99 {percentile(values, 99):8.{digits}f} ms"
        )


def timed(decide: Callable[[], object], timings: Timings) -> object:
    """Run one decision, adding its CPU and wall time to ``timings``."""
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    w0, c0 = wall(), cpu()
    answer = decide()
    c1, w1 = cpu(), wall()
    timings.cpu.append((c1 - c0) / 1e6)
    timings.wall.append((w1 - w0) / 1e6)
    return answer


def core_pull(args: argparse.Namespace) -> None:
    """``Router.take_next`` against the naive scan, on the same desk and the same agents."""
    started = time.perf_counter()
    desk = make_desk(args)
    print(
        f"desk: {len(desk.agents):,} agents at {len(SITES)} sites, {len(desk.items):,} queued "
        f"items, {len(desk.needs)} requirement sets (seed {args.seed}), "
        f"generated in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    started = time.perf_counter()
    router = Router(desk.agents, desk.items)
    print(f"router loaded in {time.perf_counter() - started:.2f} s", flush=True)
    # Who presses "Get next": agents on shift, available and with room.
    ready = [a.agent_id for a in desk.agents if agent_exclusion(a, NOW) is None]
    print(f"{len(ready):,} agents can take work at {NOW:%a %H:%M} UTC", flush=True)
    # A long-running worker keeps its queue for hours: move it out of the collector's way.
    gc.collect()
    gc.freeze()

    # Every agent's first decision of the day is measured too (it works out which
    # requirement sets they meet).
    rng = random.Random(args.seed + 1)
    core = Timings([], [])
    got = 0
    for n in range(args.decisions):
        agent_id = rng.choice(ready)
        item = timed(partial(router.take_next, agent_id, NOW), core)
        if isinstance(item, QueuedItem):
            got += 1
            # Keep the desk steady: the agent finishes, a new item arrives.
            router.finish(agent_id, NOW)
            router.add_item(desk.arrivals[n])
        if (n + 1) % 25_000 == 0:
            print(f"  core decisions {n + 1:,}/{args.decisions:,}", flush=True)

    # The naive decision on the same queue: scan and filter every queued item.
    queue = router.items()
    rng.shuffle(queue)  # a store hands rows back in no useful order
    naive = Timings([], [])
    agree = 0
    for n in range(args.naive_decisions):
        agent_id = rng.choice(ready)
        snapshot = router.agent(agent_id)
        answer = timed(partial(scan_next_item, snapshot, queue, NOW), naive)
        agree += answer == router.next_item(agent_id, NOW)
        if (n + 1) % 10 == 0:
            print(f"  naive decisions {n + 1}/{args.naive_decisions}", flush=True)
    gc.unfreeze()

    load = os.getloadavg()[0]
    print()
    cores = os.cpu_count()
    print(f"CPU time of this process (the machine's load average is {load:.1f} on {cores} cores)")
    print(core.line("  core take_next", "cpu", 4))
    print(naive.line("  naive scan", "cpu", 1))
    ratio = core.rate("cpu") / naive.rate("cpu")
    print(f"  core / naive        {ratio:12,.0f}×")
    print("wall clock (includes waiting for a core)")
    print(core.line("  core take_next", "wall", 4))
    print(naive.line("  naive scan", "wall", 1))
    print(f"  core / naive        {core.rate('wall') / naive.rate('wall'):12,.0f}×")
    print(
        f"{args.decisions:,} core decisions ({got / args.decisions:.1%} got an item), "
        f"{len(naive.cpu)} naive ones; the naive answers agree with the router in "
        f"{agree}/{len(naive.cpu)}"
    )
    p99 = percentile(core.cpu, 99)
    print(
        "targets (CPU time)   "
        + ", ".join(
            f"{name} {'met' if ok else 'MISSED'}"
            for name, ok in (
                ("≥ 50,000 decisions/s", core.rate("cpu") >= 50_000),
                ("p99 < 1 ms", p99 < 1.0),
                ("≥ 500× naive", ratio >= 500),
            )
        )
    )


# --- wave -------------------------------------------------------------------------------------


def wave(args: argparse.Namespace) -> None:
    """The optimal wave against greedy on a generated wave with tight deadlines."""
    rng = random.Random(args.seed + 2)
    agents = [a for a in make_agents(rng, args.wave_agents * 3) if agent_exclusion(a, NOW) is None][
        : args.wave_agents
    ]
    needs = make_needs(rng, agents, min(args.sets, 60))
    items = make_items(rng, needs, 1, args.wave_items, due_within=180)
    slots = sum(a.profile.capacity - a.profile.load for a in agents)
    print()
    print(
        f"wave: {len(items):,} items, {len(agents)} agents on shift with {slots:,} free slots, "
        f"{len(needs)} requirement sets"
    )
    plans = []
    for solve in (assign_wave_greedy, assign_wave):
        solve(items[:5], agents[:5], NOW)  # warm-up: loads NumPy and SciPy
        started = time.perf_counter()
        plan = solve(items, agents, NOW)
        seconds = time.perf_counter() - started
        plans.append(plan)
        print(
            f"  {plan.method:<8} weighted lateness {plan.weighted_lateness:12,.0f} min   "
            f"{len(plan.assignments):6,} assigned   {seconds:6.2f} s"
        )
    greedy, optimal = plans
    if greedy.weighted_lateness > 0:
        better = 1 - optimal.weighted_lateness / greedy.weighted_lateness
        print(f"  optimal is {better:.1%} less weighted lateness than greedy")
    else:
        print("  neither plan is late")


SECTIONS = {"core": core_pull, "wave": wave}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--sets", type=int, default=200, help="distinct requirement sets")
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--naive-decisions", type=int, default=40)
    parser.add_argument("--wave-items", type=int, default=1_000)
    parser.add_argument("--wave-agents", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--section", action="append", choices=sorted(SECTIONS), help="run only these (repeatable)"
    )
    args = parser.parse_args()
    for name, section in SECTIONS.items():
        if args.section is None or name in args.section:
            section(args)
    print(
        f"measured at {dt.datetime.now(UTC):%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
