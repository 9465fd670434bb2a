"""SLA deadlines and attainment for a long history: clocks replayed with a calendar
index, next to the same replay with the plain calendar functions and with a naive
minute-by-minute walk.

Pure core, no Django and no database: the clocks the product stores are a copy of
this computation (``relaydesk.sla.actions`` replays each item with
``relaydesk.core.sla.replay`` on its engagement's calendar). The benchmark
generates a history deterministically (``--seed``): by default 1,000,000 items
submitted round the clock over two years to four engagements, each with its own
calendar and terms —

- a claims-intake desk on New York office hours (Monday to Friday 09:00–17:00,
  US public holidays), targets in business time;
- a law firm's document review on London hours with a lunch break (09:00–12:30,
  13:30–17:30, GB public holidays), targets in business time, some items with a
  court filing date as a hard deadline;
- a support desk in Manila, open around the clock (24/7);
- a payroll run whose policy counts calendar time, with pay-run cut-offs as hard
  deadlines on many items —

and timelines of submission, queueing, assignment, work (sometimes waiting on the
client and resuming, sometimes client messages and provider replies), delivery,
acceptance or rework, and a few cancellations. Every item is replayed as of one
instant ("now", the end of the history), so the newest items have open clocks.

Three paths compute the same clocks, each item by itself, followed by the same
grouping and ``attainment`` per engagement, per month of submission, per delivery
site and per agent:

- index (the fast path): one ``CalendarIndex`` per calendar over the history's
  range (built in the run, and counted), then every item;
- plain: ``add_business_time`` / ``business_time_between`` per question, through the
  core's ``CalendarMeasure`` as the product asks them, on a sample;
- naive: business time found by asking ``is_open`` minute after minute, what a
  system without calendar arithmetic does, on a smaller sample.

The samples are the first items of the generated stream, a uniform random sample
of the history; the fast path replays them again, and every field of every clock
(due time, status, elapsed time, pauses, warnings) must agree across the three
paths, or the run fails. The final table gives each path's items per second and
microseconds per item and its speed as a ratio to the naive walk, in this thread's
CPU time and in wall-clock time (on a busy machine the wall clock also counts the
time spent waiting for a core). Items are generated and replayed a chunk at a
time so the live heap stays small; generating is not counted. Each generated
chunk is then collected and frozen (``gc.collect()``, ``gc.freeze()``, counted as
generating), as a long-running worker's settled data would be: otherwise the
collector passes that the replay's own allocations trigger would also walk the
half a million objects just generated, charging the replay for the generator.
The collector stays on, so each path still pays for its own garbage.

The default run takes about three minutes on a busy 2-core machine, a minute of it
generating; ``--items 20000`` takes about fifteen seconds, most of it the naive walk.

    make bench            # or: .venv/bin/python benchmarks/sla.py [--items N]
    .venv/bin/python benchmarks/sla.py --items 20000     # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import math
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

from relaydesk.core.calendars import (
    BusinessCalendar,
    CalendarIndex,
    CalendarMeasure,
    is_open,
)
from relaydesk.core.sla import (
    Clock,
    ClockKind,
    SlaTerms,
    Target,
    TimelineEntry,
    TimeMeasure,
    attainment,
    replay,
)

UTC = dt.UTC
# The instant every clock is replayed at: the end of the history.
NOW = dt.datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
HISTORY = dt.timedelta(days=730)
START = NOW - HISTORY
MINUTE = dt.timedelta(minutes=1)
ZERO = dt.timedelta(0)
KINDS = (ClockKind.FIRST_RESPONSE, ClockKind.NEXT_RESPONSE, ClockKind.TURNAROUND)
# Delivery sites of the provider (code, share of the agents).
SITES = (("mnl", 0.4), ("khi", 0.2), ("pnq", 0.25), ("fll", 0.15))


# --- the history ------------------------------------------------------------------------------


def hours(value: float) -> dt.timedelta:
    return dt.timedelta(hours=value)


def business(kind: ClockKind, value: float) -> Target:
    return Target(kind, hours(value), business=True)


def wall(kind: ClockKind, value: float) -> Target:
    return Target(kind, hours(value), business=False)


@dataclass(frozen=True)
class Engagement:
    """One engagement of the history: its calendar, its terms and how its items behave.

    ``terms`` has the normal terms first and the urgent ones second; ``pickup``,
    ``reply`` and ``work`` are the median wall-clock hours until someone takes an
    item, until a client's question is answered, and of work on an item;
    ``deadline_share`` of the items carry a hard deadline ``deadline_days`` (low,
    high) after submission.
    """

    name: str
    calendar_label: str
    calendar: BusinessCalendar
    terms: tuple[SlaTerms, SlaTerms]
    share: float
    pickup: float
    reply: float
    work: float
    deadline_share: float = 0.0
    deadline_days: tuple[float, float] = (1.0, 3.0)


FR, NR, TA = KINDS
ENGAGEMENTS = (
    Engagement(
        "Claims intake (New York)",
        "Mon–Fri 09:00–17:00, US holidays",
        BusinessCalendar.office_hours("America/New_York", holidays_country="US"),
        (
            SlaTerms((business(FR, 2), business(NR, 4), business(TA, 16))),
            SlaTerms((business(FR, 1), business(NR, 2), business(TA, 6))),
        ),
        share=0.35,
        pickup=0.6,
        reply=1.5,
        work=7,
    ),
    Engagement(
        "Document review (London)",
        "Mon–Fri 09:00–12:30, 13:30–17:30, GB holidays",
        BusinessCalendar.office_hours(
            "Europe/London",
            spans=((dt.time(9), dt.time(12, 30)), (dt.time(13, 30), dt.time(17, 30))),
            holidays_country="GB",
        ),
        (
            SlaTerms((business(FR, 4), business(NR, 8), business(TA, 21))),
            SlaTerms((business(FR, 2), business(NR, 4), business(TA, 7))),
        ),
        share=0.25,
        pickup=0.8,
        reply=2.5,
        work=14,
        deadline_share=0.15,
        deadline_days=(1.5, 10),
    ),
    Engagement(
        "Support desk (Manila)",
        "24/7",
        BusinessCalendar.twenty_four_seven("Asia/Manila"),
        (
            SlaTerms((business(FR, 0.5), business(NR, 1), business(TA, 8))),
            SlaTerms((business(FR, 0.25), business(NR, 0.5), business(TA, 4))),
        ),
        share=0.3,
        pickup=0.1,
        reply=0.25,
        work=2.5,
    ),
    Engagement(
        "Payroll (calendar time)",
        "calendar time, cut-offs",
        BusinessCalendar.office_hours("America/Chicago", holidays_country="US"),
        (
            SlaTerms((wall(FR, 4), wall(TA, 48))),
            SlaTerms((wall(FR, 2), wall(TA, 24))),
        ),
        share=0.1,
        pickup=0.5,
        reply=1.0,
        work=10,
        deadline_share=0.4,
        deadline_days=(1.0, 3.0),
    ),
)


@dataclass(slots=True)
class Item:
    """One item of the history: who it belongs to, its terms and its timeline."""

    item_id: int
    engagement: int
    month: str
    agent: int | None
    site: str
    terms: SlaTerms
    timeline: list[TimelineEntry]


# TimelineEntry(at, to_state, provider_reply, client_message), positional: a history
# has millions of them.
Entry = TimelineEntry


class History:
    """A deterministic stream of items (``random.Random(seed)``)."""

    def __init__(self, seed: int, agents: int) -> None:
        self.rng = random.Random(seed)
        codes = [code for code, _share in SITES]
        shares = [share for _code, share in SITES]
        self.agent_sites = self.rng.choices(codes, weights=shares, k=agents)
        self.engagements = range(len(ENGAGEMENTS))
        self.cumulative = list(itertools.accumulate(e.share for e in ENGAGEMENTS))
        self.next_id = 1

    def delay(self, median_hours: float, spread: float) -> dt.timedelta:
        """A lognormal delay (microsecond resolution): most near the median, some far later."""
        seconds = math.exp(self.rng.gauss(math.log(median_hours * 3600), spread))
        return dt.timedelta(0, min(seconds, 30 * 86_400))

    def items(self, count: int) -> list[Item]:
        return [self.item() for _ in range(count)]

    def item(self) -> Item:
        rng = self.rng
        index = rng.choices(self.engagements, cum_weights=self.cumulative)[0]
        engagement = ENGAGEMENTS[index]
        urgent = rng.random() < 0.1
        terms = engagement.terms[urgent]
        submitted = START + dt.timedelta(
            microseconds=rng.randrange(HISTORY // dt.timedelta(0, 0, 1))
        )
        if rng.random() < engagement.deadline_share:
            low, high = engagement.deadline_days
            deadline = submitted + dt.timedelta(days=rng.uniform(low, high))
            terms = SlaTerms(terms.targets, hard_deadline=deadline.replace(second=0, microsecond=0))
        item_id, self.next_id = self.next_id, self.next_id + 1
        month = f"{submitted.year}-{submitted.month:02}"
        timeline = [Entry(submitted, "new")]
        at = submitted + self.delay(0.03, 0.8)
        timeline.append(Entry(at, "queued"))
        if rng.random() < 0.015:  # withdrawn before anyone took it
            timeline.append(Entry(at + self.delay(2, 1.5), "cancelled"))
            return Item(item_id, index, month, None, "", terms, timeline)
        agent = rng.randrange(len(self.agent_sites))
        pace = 0.5 if urgent else 1.0
        at += self.delay(engagement.pickup * pace, 1.3)
        timeline.append(Entry(at, "assigned"))
        if rng.random() < 0.3:  # an acknowledgement before starting
            at += self.delay(engagement.pickup / 4, 1.0)
            timeline.append(Entry(at, "", True))  # a provider reply
        at += self.delay(engagement.pickup / 3 * pace, 1.0)
        timeline.append(Entry(at, "in_progress"))
        work = self.delay(engagement.work * pace, 0.9)
        if rng.random() < 0.25:  # the client asks something while the work goes on
            at += work * rng.uniform(0.1, 0.5)
            timeline.append(Entry(at, "", False, True))  # a client message
            if rng.random() < 0.85:
                at += self.delay(engagement.reply * pace, 1.2)
                timeline.append(Entry(at, "", True))  # a provider reply
        if rng.random() < 0.18:  # the work needs the client's input
            at += work * rng.uniform(0.1, 0.4)
            timeline.append(Entry(at, "waiting_on_client"))
            at += self.delay(10, 1.3)
            timeline.append(Entry(at, "", False, True))  # a client message
            at += self.delay(0.3, 1.0)
            timeline.append(Entry(at, "in_progress"))
            if rng.random() < 0.7:  # and is told the work goes on
                at += self.delay(engagement.reply * pace, 1.2)
                timeline.append(Entry(at, "", True))  # a provider reply
        if rng.random() < 0.01:  # the client withdraws it
            at += work * rng.uniform(0.1, 0.8)
            timeline.append(Entry(at, "cancelled"))
            return Item(item_id, index, month, agent, self.agent_sites[agent], terms, timeline)
        at += work
        timeline.append(Entry(at, "delivered"))
        if rng.random() < 0.06:  # the client asks for rework
            at += self.delay(8, 1.0)
            timeline.append(Entry(at, "rework"))
            at += self.delay(1.0, 1.0)
            timeline.append(Entry(at, "in_progress"))
            at += self.delay(engagement.work * 0.4, 0.8)
            timeline.append(Entry(at, "delivered"))
        if rng.random() < 0.95:
            at += self.delay(20, 1.0)
            timeline.append(Entry(at, "accepted"))
        return Item(item_id, index, month, agent, self.agent_sites[agent], terms, timeline)


# --- time measures ------------------------------------------------------------------------------


def _next_minute(at: dt.datetime) -> dt.datetime:
    return at.replace(second=0, microsecond=0) + MINUTE


class MinuteWalk:
    """Business time found by asking ``is_open`` minute after minute, as a system
    without calendar arithmetic does.

    Exact here: every calendar of the history opens and closes on whole minutes of
    UTC (whole-hour offsets, spans on whole minutes), so a calendar is open for the
    whole of a UTC minute or for none of it; part minutes at either end count in
    microseconds.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        if duration < ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        at = start.astimezone(UTC)
        if not duration:
            return at
        remaining = duration
        while True:
            step = _next_minute(at)
            if is_open(self.calendar, at):
                if remaining <= step - at:
                    return at + remaining
                remaining -= step - at
            at = step

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        at, end = start.astimezone(UTC), end.astimezone(UTC)
        total = ZERO
        while at < end:
            step = min(_next_minute(at), end)
            if is_open(self.calendar, at):
                total += step - at
            at = step
        return total


# --- replaying and tallying ---------------------------------------------------------------------


@dataclass
class Tally:
    """Met and breached clocks per group, and how many clocks each group has."""

    met: dict[tuple[object, ...], int] = field(default_factory=lambda: defaultdict(int))
    breached: dict[tuple[object, ...], int] = field(default_factory=lambda: defaultdict(int))
    clocks: dict[tuple[object, ...], int] = field(default_factory=lambda: defaultdict(int))

    def percent(self, key: tuple[object, ...]) -> float | None:
        decided = self.met[key] + self.breached[key]
        return self.met[key] / decided * 100 if decided else None


def replay_items(
    items: Sequence[Item], measures: Sequence[TimeMeasure], tally: Tally
) -> list[list[Clock]]:
    """Every item's clocks as of ``NOW``, then ``attainment`` per engagement, month,
    site and agent (per clock kind) added to ``tally``. Returns the clocks."""
    groups: dict[tuple[object, ...], list[Clock]] = defaultdict(list)
    found = []
    for item in items:
        clocks = replay(item.timeline, item.terms, business=measures[item.engagement], now=NOW)
        found.append(clocks)
        for clock in clocks:
            kind = clock.kind
            groups["engagement", item.engagement, kind].append(clock)
            groups["month", item.month, kind].append(clock)
            if item.agent is not None:
                groups["site", item.site, kind].append(clock)
                groups["agent", item.agent, kind].append(clock)
    for key, clocks in groups.items():
        outcome = attainment(clocks)
        tally.met[key] += outcome.met
        tally.breached[key] += outcome.breached
        tally.clocks[key] += len(clocks)
    return found


@dataclass
class Timing:
    """CPU time of this thread and wall-clock time, in seconds, for ``items`` items."""

    items: int = 0
    cpu: float = 0.0
    wall: float = 0.0

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.items + other.items, self.cpu + other.cpu, self.wall + other.wall)

    def __iadd__(self, other: Timing) -> Timing:
        self.items += other.items
        self.cpu += other.cpu
        self.wall += other.wall
        return self

    def per_item(self, clock: str) -> float:
        """Microseconds per item."""
        return float(getattr(self, clock)) / max(self.items, 1) * 1e6


def timed[T](count: int, work: Callable[[], T]) -> tuple[T, Timing]:
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    answer = work()
    cpu1, wall1 = time.thread_time(), time.perf_counter()
    return answer, Timing(count, cpu1 - cpu0, wall1 - wall0)


def settle() -> None:
    """Collect, then move every object alive into the permanent generation."""
    gc.collect()
    gc.freeze()


def chunks(history: History, total: int, size: int) -> Iterator[tuple[list[Item], Timing]]:
    """The history ``size`` items at a time, settled, with the time generating took."""
    made = 0
    while made < total:
        count = min(size, total - made)
        made += count
        items, spent = timed(count, partial(history.items, count))
        _none, settling = timed(0, settle)
        yield items, spent + settling


# --- printing ----------------------------------------------------------------------------------


def share(value: float | None) -> str:
    return "     –" if value is None else f"{value:5.1f} %"


def print_attainment(tally: Tally) -> None:
    print()
    print(
        f"attainment as of {NOW:%Y-%m-%d %H:%M} UTC: met as a share of decided clocks "
        "(met or breached; running, paused and cancelled clocks are not counted)"
    )
    print(f"  {'engagement':<27}{'calendar':<47}" + "".join(f"{k.label:>20}" for k in KINDS))
    for index, engagement in enumerate(ENGAGEMENTS):
        cells = []
        for kind in KINDS:
            key = ("engagement", index, kind)
            decided = tally.met[key] + tally.breached[key]
            cells.append(f"{share(tally.percent(key))} of {decided:>9,}" if decided else "–")
        print(
            f"  {engagement.name:<27}{engagement.calendar_label:<47}"
            + "".join(f"{c:>20}" for c in cells)
        )
    months = sorted({str(key[1]) for key in tally.clocks if key[0] == "month"})
    print("  turnaround by month of submission:")
    for row in range(0, len(months), 6):
        print(
            "   "
            + "".join(
                f"  {month} {share(tally.percent(('month', month, TA)))}"
                for month in months[row : row + 6]
            )
        )
    print("  by delivery site:     " + "".join(f"{k.label:>22}" for k in KINDS))
    for code, _share in SITES:
        print(
            f"    {code:<20}"
            + "".join(f"{share(tally.percent(('site', code, kind))):>22}" for kind in KINDS)
        )
    agents = [
        (value, key[1])
        for key in tally.clocks
        if key[0] == "agent" and key[2] is TA
        if (value := tally.percent(key)) is not None
    ]
    if agents:
        agents.sort()
        low, high = agents[0], agents[-1]
        middle = statistics.median(value for value, _agent in agents)
        print(
            f"  turnaround by agent ({len(agents)} agents): lowest {share(low[0])} "
            f"(agent {low[1]}), median {share(middle)}, highest {share(high[0])} "
            f"(agent {high[1]})"
        )


def agree(paths: dict[str, list[list[Clock]]], items: Sequence[Item]) -> None:
    """Every path's clocks equal the fast path's, field by field, or the run fails."""
    fast = paths["index"]
    for name, found in paths.items():
        for item, mine, theirs in zip(items, found, fast, strict=False):
            if mine != theirs:
                print(f"DISAGREEMENT on item {item.item_id} ({name} against index):")
                print(f"  {name}: {mine}")
                print(f"  index: {theirs}")
                raise SystemExit(1)


# --- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    history = History(args.seed, args.agents)
    plain_count = min(args.plain_items, args.items)
    naive_count = min(args.naive_items, plain_count)
    print(
        f"history: {args.items:,} items over {HISTORY.days} days to {NOW:%Y-%m-%d %H:%M} UTC, "
        f"{len(ENGAGEMENTS)} engagements, {args.agents} agents at {len(SITES)} sites "
        f"(seed {args.seed}); generated and replayed {args.chunk:,} at a time",
        flush=True,
    )

    # One index per calendar over the whole history, with room for due times after now.
    def build() -> list[TimeMeasure]:
        return [
            CalendarIndex(e.calendar, START - dt.timedelta(days=1), NOW + dt.timedelta(days=90))
            for e in ENGAGEMENTS
        ]

    indexes, build_time = timed(0, build)
    print(
        f"calendar indexes: {len(indexes)} built in {build_time.cpu:.2f} s CPU "
        f"({build_time.wall:.2f} s wall)",
        flush=True,
    )

    fast = Timing()
    fast += build_time
    tally = Tally()
    generating = Timing()
    sample: list[Item] = []
    entries = 0
    progress = max(args.items // 10, 1)
    for chunk, making in chunks(history, args.items, args.chunk):
        generating += making
        if len(sample) < plain_count:
            sample += chunk[: plain_count - len(sample)]
        entries += sum(len(item.timeline) for item in chunk)
        _clocks, spent = timed(len(chunk), partial(replay_items, chunk, indexes, tally))
        fast += spent
        if fast.items % progress < len(chunk) or fast.items == args.items:
            print(
                f"  index: {fast.items:,}/{args.items:,} items replayed, "
                f"{fast.cpu:.1f} s CPU, {fast.wall:.1f} s wall",
                flush=True,
            )
    print(
        f"generating took {generating.cpu:.1f} s CPU, {generating.wall:.1f} s wall "
        "(not counted); "
        f"{entries / args.items:.1f} timeline entries per item on average",
        flush=True,
    )
    print_attainment(tally)

    # The samples: the fast path again, the plain functions, the naive walk.
    print(flush=True)
    settle()
    plain_measures = [CalendarMeasure(e.calendar) for e in ENGAGEMENTS]
    naive_measures = [MinuteWalk(e.calendar) for e in ENGAGEMENTS]
    found: dict[str, list[list[Clock]]] = {}
    found["index"], fast_sample = timed(
        plain_count, partial(replay_items, sample, indexes, Tally())
    )
    found["plain"], plain = timed(
        plain_count, partial(replay_items, sample, plain_measures, Tally())
    )
    print(f"  plain: {plain_count:,} items replayed in {plain.cpu:.1f} s CPU", flush=True)
    naive = Timing()
    naive_found: list[list[Clock]] = []
    step = max(naive_count // 10, 1)
    for first in range(0, naive_count, step):
        part = sample[first : min(first + step, naive_count)]
        clocks, spent = timed(len(part), partial(replay_items, part, naive_measures, Tally()))
        naive_found += clocks
        naive += spent
        print(
            f"  naive: {naive.items:,}/{naive_count:,} items replayed, {naive.cpu:.1f} s CPU",
            flush=True,
        )
    found["naive"] = naive_found
    gc.unfreeze()
    agree(found, sample)
    compared = sum(len(c) for c in found["naive"])
    print(
        f"the three paths agree on {naive_count:,} items ({compared:,} clocks, every field: "
        f"due time, status, elapsed, pauses, warnings); index and plain agree on "
        f"{plain_count:,} items"
    )

    load = os.getloadavg()[0]
    print()
    print(
        f"index path, {args.items:,} items: {fast.cpu:.1f} s CPU, {fast.wall:.1f} s wall "
        f"(index build {build_time.cpu:.2f} s included), "
        f"{fast.items / fast.cpu:,.0f} items/s (CPU)"
    )
    rows = (
        (f"index, all {args.items:,} items", fast),
        (f"index, the {plain_count:,}-item sample", fast_sample),
        (f"plain functions, {plain_count:,} items", plain),
        (f"naive minute walk, {naive_count:,} items", naive),
    )
    print(f"load average {load:.1f} on {os.cpu_count()} cores; CPU time of this thread:")
    print(f"  {'path':<40}{'items/s':>12}{'µs/item':>12}{'× naive':>10}{'wall µs/item':>15}")
    for label, timing in rows:
        per_item = timing.per_item("cpu")
        ratio = naive.per_item("cpu") / per_item
        print(
            f"  {label:<40}{1e6 / per_item:>12,.0f}{per_item:>12,.1f}{ratio:>9,.0f}×"
            f"{timing.per_item('wall'):>15,.1f}"
        )
    print(
        f"  wall clock: index {naive.per_item('wall') / fast.per_item('wall'):,.0f}× naive, "
        f"plain {naive.per_item('wall') / plain.per_item('wall'):,.0f}× naive"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items in the history")
    parser.add_argument(
        "--plain-items", type=int, default=20_000, help="sample for the plain functions"
    )
    parser.add_argument(
        "--naive-items", type=int, default=1_000, help="sample for the naive minute walk"
    )
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=50_000, help="items generated at a time")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if min(args.items, args.plain_items, args.naive_items, args.chunk, args.agents) < 1:
        parser.error("every count must be at least 1")
    run(args)
    print(
        f"measured at {dt.datetime.now(UTC):%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
