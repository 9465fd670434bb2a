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
  ``assign_wave_greedy`` on a generated wave: total weighted lateness and time;
- db: database claims ("Get next", ``relaydesk.routing.actions.do_claim_next``, each
  made as a request makes it: in the request's transaction under the agent's
  row-security scope) per
  second with 1, 4 and 8 claimer processes over a queue of 10,000 items, on SQLite
  and, when ``DATABASE_URL`` names PostgreSQL, on PostgreSQL too — each in a
  throwaway database, next to the same machine's ceiling measured in the same run:
  ``pgbench -N`` transactions per second with as many clients (PostgreSQL), a bare
  one-row ``UPDATE`` loop in as many processes (SQLite). On PostgreSQL it also times
  the floor: the barest claim the schema allows (``BARE_CLAIM``, one statement with
  none of the product's checks), to show how much of the ceiling any claim can reach.

    make bench            # or: .venv/bin/python benchmarks/routing.py [--section core] [--items N]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relaydesk \
        .venv/bin/python benchmarks/routing.py --section db
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
from urllib.parse import SplitResult, urlsplit, urlunsplit

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


# --- database claims ----------------------------------------------------------------------------

BENCH_ROLE = "relaydesk_bench_app"
DB_CAPACITY = 50


def db_claims(args: argparse.Namespace) -> None:
    """Claims per second on each database, each engine in a process of its own (one
    Django set-up per process), next to that database's ceiling."""
    import subprocess

    engines = ["sqlite"]
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        engines.append("postgresql")
    for engine in engines:
        print(flush=True)
        command = [sys.executable, os.path.abspath(__file__), "--db-engine", engine]
        command += ["--db-items", str(args.db_items), "--db-seconds", str(args.db_seconds)]
        command += ["--claimers", args.claimers]
        done = subprocess.run(command, check=False)
        if done.returncode:
            raise SystemExit(f"the {engine} claims benchmark failed ({done.returncode})")
    if len(engines) == 1:
        print("PostgreSQL skipped: set DATABASE_URL=postgres://… to measure it too")


def db_engine(args: argparse.Namespace) -> None:
    """One engine: a throwaway database, its ceiling, then claims at each concurrency."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="relaydesk-bench-claims-")
    try:
        os.environ["RELAYDESK_VAR_DIR"] = folder
        os.environ["DJANGO_SETTINGS_MODULE"] = "relaydesk.config.settings"
        os.environ["DEBUG"] = "false"  # as in production: no query log kept in memory
        claimers = [int(n) for n in args.claimers.split(",")]
        if args.db_engine == "sqlite":
            _sqlite_claims(args, folder, claimers)
        else:
            _postgres_claims(args, claimers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sqlite_claims(args: argparse.Namespace, folder: str, claimers: list[int]) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/claims.sqlite3"
    print(f"SQLite, throwaway {folder}/claims.sqlite3", flush=True)
    ceilings: dict[int, float | None] = {
        n: sqlite_ceiling(f"{folder}/ceiling.sqlite3", n, args.db_seconds) for n in claimers
    }
    run_claims(args, claimers, ceilings, "bare one-row UPDATE loop")


def _postgres_claims(args: argparse.Namespace, claimers: list[int]) -> None:
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"relaydesk_bench_claims_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        url = urlunsplit(parts._replace(path=f"/{name}"))
        os.environ["DATABASE_URL"] = url
        print(f"PostgreSQL, throwaway database {name}", flush=True)
        ceilings = pgbench_ceiling(parts, name, claimers, args.db_seconds)
        run_claims(args, claimers, ceilings, "pgbench -N")
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pgbench() -> str | None:
    import glob
    import shutil

    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


def pgbench_ceiling(
    parts: SplitResult, name: str, claimers: list[int], seconds: float
) -> dict[int, float | None]:
    """``pgbench -N`` TPS with as many clients as claimers, in the throwaway database."""
    import re
    import subprocess

    import psycopg

    binary = _pgbench()
    if binary is None:
        print("  pgbench not found (PATH, /usr/lib/postgresql/*/bin): no ceiling measured")
        return dict.fromkeys(claimers)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    base = [binary, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    base += ["-U", parts.username or "postgres"]
    subprocess.run([*base, "-i", "-q", name], check=True, env=env, capture_output=True)
    result: dict[int, float | None] = {}
    for clients in claimers:
        jobs = str(min(clients, os.cpu_count() or 1))
        command = [*base, "-N", "-c", str(clients), "-j", jobs, "-T", str(round(seconds)), name]
        out = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
        found = re.search(r"tps = ([0-9.]+)", out.stdout)
        result[clients] = float(found.group(1)) if found else None
        print(
            f"  ceiling: pgbench -N, {clients} client(s): {result[clients] or 0:,.0f} TPS",
            flush=True,
        )
    # pgbench's tables go again: the claims run on Relaydesk's schema alone.
    with psycopg.connect(urlunsplit(parts._replace(path=f"/{name}")), autocommit=True) as db:
        for table in ("accounts", "branches", "history", "tellers"):
            db.execute(f"DROP TABLE IF EXISTS pgbench_{table}")
    return result


def _sqlite_updates(path: str, seconds: float, start: object, counts: object) -> None:
    import sqlite3

    db = sqlite3.connect(path, timeout=20, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    start.wait()  # type: ignore[attr-defined]
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        db.execute("COMMIT")
        done += 1
    counts.put(done)  # type: ignore[attr-defined]
    db.close()


def sqlite_ceiling(path: str, processes: int, seconds: float) -> float:
    """Committed one-row UPDATE transactions per second, ``processes`` at once, with the
    settings Relaydesk gives SQLite (WAL, synchronous=NORMAL, BEGIN IMMEDIATE)."""
    import multiprocessing
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("INSERT OR IGNORE INTO counter VALUES (1, 0)")
    db.close()
    context = multiprocessing.get_context("fork")
    start, counts = context.Event(), context.Queue()
    workers = [
        context.Process(target=_sqlite_updates, args=(path, seconds, start, counts))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    start.set()
    total = sum(counts.get() for _ in workers)
    for worker in workers:
        worker.join()
    rate = total / seconds
    print(f"  ceiling: one-row UPDATE loop, {processes} process(es): {rate:,.0f} TPS", flush=True)
    return rate


def _as_app_role(sender: object, connection: object, **kwargs: object) -> None:
    if getattr(connection, "vendor", "") == "postgresql":
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"SET ROLE {BENCH_ROLE}")


def claim_as_requested(user: object) -> object:
    """``do_claim_next`` as a "Get next" request makes it: inside the request's
    transaction under the person's row-security scope (``RowSecurityMiddleware``,
    which does nothing on SQLite), without rendering a page."""
    from django.http import HttpRequest, HttpResponse

    from relaydesk.routing.actions import do_claim_next
    from relaydesk.tenancy.middleware import RowSecurityMiddleware

    claims = []

    def view(request: HttpRequest) -> HttpResponse:
        claims.append(do_claim_next(request.user))  # type: ignore[arg-type]
        return HttpResponse()

    request = HttpRequest()
    request.user = user  # type: ignore[assignment]
    RowSecurityMiddleware(view)(request)
    return claims[0]


def _claimer(user_ids: list[int], seconds: float, start: object, counts: object) -> None:
    """One claimer process: "Get next" round its agents until the time is up."""
    from django.db import connection

    from relaydesk.accounts.models import User
    from relaydesk.routing.actions import Claim

    users = list(User.objects.filter(pk__in=user_ids).order_by("pk"))
    start.wait()  # type: ignore[attr-defined]
    got = turn = 0
    cpu = time.process_time()
    deadline = time.monotonic() + seconds
    while users and time.monotonic() < deadline:
        user = users[turn % len(users)]
        claim = claim_as_requested(user)
        assert isinstance(claim, Claim)
        if claim.item is not None:
            got += 1
            turn += 1
        elif claim.rule == "capacity":
            users.remove(user)
        elif claim.rule == "empty":
            break
    # Claims, and this process's CPU time: on a busy machine the wall clock also
    # counts waiting for a core, the CPU time per claim does not.
    counts.put((got, time.process_time() - cpu))  # type: ignore[attr-defined]
    connection.close()


def run_claims(
    args: argparse.Namespace,
    claimers: list[int],
    ceilings: dict[int, float | None],
    ceiling_name: str,
) -> None:
    """Build the desk in the throwaway database, then time each round of claimers."""
    import multiprocessing

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created
    from django.utils import timezone

    from relaydesk.accounts.models import User
    from relaydesk.catalog.models import Service, Skill
    from relaydesk.clients.models import Client, Engagement
    from relaydesk.core.lifecycle import State
    from relaydesk.core.roles import Role
    from relaydesk.routing.models import AgentPresence
    from relaydesk.tenancy.management.commands.grant_app_role import grant_statements
    from relaydesk.tenancy.rowsecurity import trust_this_process
    from relaydesk.work.models import WorkItem, WorkItemEvent
    from relaydesk.workforce.models import Agent, AgentSkill, ShiftPattern, Site

    trust_this_process()  # claimers act in the provider's scope, as agents' requests do
    print("  migrating…", flush=True)
    call_command("migrate", verbosity=0)
    most = max(claimers)
    per_claimer = -(-args.db_items // DB_CAPACITY) + 2  # enough slots for the whole queue
    client = Client.objects.create(slug="bench", name="Bench client")
    engagement = Engagement.objects.create(
        client=client,
        name="Keying",
        time_zone="UTC",
        allowed_countries=["PH"],
        starts_on=dt.date(2026, 1, 1),
    )
    service = Service.objects.get(slug="data-entry")
    engagement.services.add(service)
    submitter = User.objects.create_user(
        email="sender@bench.test", password=None, role=Role.CLIENT_MEMBER.value, client=client
    )
    site = Site.objects.create(
        code="cc", name="Claim centre", country="PH", time_zone="Asia/Manila"
    )
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=site, name="all day", weekday=d, starts_at=dt.time(0), ends_at=dt.time(0))
        for d in range(7)
    )
    users = User.objects.bulk_create(
        User(email=f"a{n}@bench.test", role=Role.AGENT.value, full_name=f"Agent {n}")
        for n in range(per_claimer * most)
    )
    agents = Agent.objects.bulk_create(
        Agent(user=u, site=site, employee_code=f"B{n:05}", languages=["en"], capacity=DB_CAPACITY)
        for n, u in enumerate(users)
    )
    skill = Skill.objects.get(slug="data-entry")
    AgentSkill.objects.bulk_create(AgentSkill(agent=a, skill=skill, proficiency=3) for a in agents)
    now = timezone.now()
    AgentPresence.objects.bulk_create(
        AgentPresence(agent=a, status="available", since=now, idle_since=now) for a in agents
    )
    start = now - dt.timedelta(hours=3)
    print(f"  queueing {args.db_items:,} items…", flush=True)
    items = WorkItem.objects.bulk_create(
        WorkItem(
            client=client,
            engagement=engagement,
            service=service,
            title=f"Form {n}",
            priority=(2, 3, 1, 4)[n % 4],
            state=State.QUEUED.value,
            submitted_by=submitter,
            created_at=start + dt.timedelta(seconds=n),
            updated_at=start,
        )
        for n in range(args.db_items)
    )
    WorkItemEvent.objects.bulk_create(
        WorkItemEvent(
            client=client, item=i, at=i.created_at, kind="queue", to_state=State.QUEUED.value
        )
        for i in items
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [BENCH_ROLE])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE ROLE {BENCH_ROLE} NOLOGIN")
            for statement in grant_statements(BENCH_ROLE):
                cursor.execute(statement)
        # Claimers connect as a plain role, as the product does: row-level security binds them.
        connection_created.connect(_as_app_role)
    user_ids = [u.pk for u in users]
    print(
        f"  desk: {args.db_items:,} queued items, {len(user_ids):,} available agents "
        f"(capacity {DB_CAPACITY}); each round {args.db_seconds:g} s",
        flush=True,
    )
    # Two claims in this process, as the claimers make them (reconnected as the plain
    # role on PostgreSQL), to say what a claim is made of: the first one in a process
    # also builds the agent's queue filter, later ones reuse it.
    from django.test.utils import CaptureQueriesContext

    connection.close()
    for which, user in (("first", users[0]), ("next", users[1])):
        with CaptureQueriesContext(connection) as statements:
            began = time.perf_counter()
            claim_as_requested(user)
            one = time.perf_counter() - began
        print(
            f"  {which} claim of a process: {len(statements.captured_queries)} SQL statements "
            f"(transaction control included), {one * 1000:.1f} ms",
            flush=True,
        )
    context = multiprocessing.get_context("fork")
    rows = []
    for count in claimers:
        # Every round starts from the same full queue and empty hands.
        WorkItem.objects.filter(pk__in=[i.pk for i in items]).update(
            state=State.QUEUED.value, owner=None
        )
        connection.close()
        begin, counts = context.Event(), context.Queue()
        share = len(user_ids) // count
        workers = [
            context.Process(
                target=_claimer,
                args=(user_ids[n * share : (n + 1) * share], args.db_seconds, begin, counts),
            )
            for n in range(count)
        ]
        for worker in workers:
            worker.start()
        time.sleep(1.0)  # let every claimer connect before the clock starts
        begin.set()
        began = time.monotonic()
        while (left := args.db_seconds - (time.monotonic() - began)) > 0:
            time.sleep(min(5.0, left))
            if time.monotonic() - began < args.db_seconds:
                print(
                    f"    {count} claimer(s): {time.monotonic() - began:.0f} s "
                    f"of {args.db_seconds:g}",
                    flush=True,
                )
        reports = [counts.get() for _ in workers]
        for worker in workers:
            worker.join()
        claimed = sum(got for got, _ in reports)
        cpu_ms = sum(cpu for _, cpu in reports) / max(claimed, 1) * 1000
        rate = claimed / args.db_seconds
        ceiling = ceilings.get(count)
        ratio = f"{rate / ceiling:7.1%}" if ceiling else "      –"
        rows.append((count, rate, ceiling, ratio, cpu_ms))
        print(
            f"  {count} claimer(s): {claimed:,} claims, {rate:,.1f} claims/s, "
            f"{cpu_ms:.1f} ms of claimer CPU per claim",
            flush=True,
        )
    print()
    print(
        f"  {'claimers':>8} {'claims/s':>10} {'ceiling/s':>11} {'claims/ceiling':>15} "
        f"{'CPU ms/claim':>13}"
    )
    for count, rate, ceiling, ratio, cpu_ms in rows:
        print(f"  {count:>8} {rate:>10,.1f} {ceiling or 0:>11,.0f} {ratio:>15} {cpu_ms:>13.1f}")
    print(
        f"  ceiling: {ceiling_name} with as many clients/processes; target (PostgreSQL): "
        "claims ≥ 50 % of it"
    )
    if connection.vendor == "postgresql":
        pairs = list(Agent.objects.order_by("pk").values_list("pk", "user_id"))
        print()
        print(
            "  floor: the barest claim, one statement in its own transaction — lock the "
            "agent, check the load, lock the first queued item (SKIP LOCKED), assign it, "
            "write its timeline entry and an unchained audit row — with none of the "
            "product's other checks, no chain lock and no request transaction",
            flush=True,
        )
        for count in claimers:
            WorkItem.objects.filter(pk__in=[i.pk for i in items]).update(
                state=State.QUEUED.value, owner=None
            )
            connection.close()
            rate = bare_claim_rate(pairs, service.pk, count, args.db_seconds)
            ceiling = ceilings.get(count)
            ratio = f"{rate / ceiling:.1%}" if ceiling else "–"
            print(
                f"  {count:>8} {rate:>10,.1f} {ceiling or 0:>11,.0f} {ratio:>15}   (bare claim)",
                flush=True,
            )
    load = os.getloadavg()[0]
    print(f"  load average {load:.1f} on {os.cpu_count()} cores")


# The barest claim a database can make of the desk: what is left of "Get next" without
# the product's rules, scope, request transaction and audit chain (the floor's rows).
BARE_CLAIM = """
WITH me AS (SELECT id, capacity FROM workforce_agent WHERE id = %(agent)s FOR UPDATE),
load AS (SELECT count(*) AS n FROM work_workitem WHERE owner_id = %(user)s
         AND state IN ('assigned', 'in_progress', 'waiting_on_client', 'rework')),
pick AS (SELECT w.id FROM work_workitem w
         WHERE w.state = 'queued' AND w.service_id = %(service)s
           AND EXISTS (SELECT 1 FROM me, load WHERE load.n < me.capacity)
         ORDER BY w.queue_front DESC, w.priority DESC, w.due_at, w.created_at, w.id
         LIMIT 1 FOR UPDATE OF w SKIP LOCKED),
taken AS (UPDATE work_workitem w SET state = 'assigned', owner_id = %(user)s,
                 updated_at = now(), queue_front = false
          FROM pick WHERE w.id = pick.id RETURNING w.id, w.client_id),
entry AS (INSERT INTO work_workitemevent
              (at, kind, from_state, to_state, note, internal, data, actor_id, client_id, item_id)
          SELECT now(), 'take', 'queued', 'assigned', '', false, '{}', %(user)s,
                 taken.client_id, taken.id FROM taken),
trail AS (INSERT INTO audit_auditrecord
              (at, actor_label, action, object_type, object_id, detail, actor_id, client_id,
               seq, prev_hash, hash)
          SELECT now(), 'bench', 'work_item.take', 'WorkItem', taken.id::text, '{}',
                 %(user)s, taken.client_id, -nextval('bench_floor_seq'), '', '' FROM taken)
SELECT id FROM taken
"""


def _bare_claimer(
    url: str,
    agents: list[tuple[int, int]],
    service: int,
    seconds: float,
    start: object,
    counts: object,
) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"SET ROLE {BENCH_ROLE}")
        db.execute("SELECT set_config('relaydesk.scope', 'provider', false)")
        start.wait()  # type: ignore[attr-defined]
        got = turn = 0
        deadline = time.monotonic() + seconds
        while agents and time.monotonic() < deadline:
            agent, user = agents[turn % len(agents)]
            taken = db.execute(
                BARE_CLAIM, {"agent": agent, "user": user, "service": service}
            ).fetchone()
            if taken is None:
                agents.remove((agent, user))
            else:
                got += 1
                turn += 1
    counts.put(got)  # type: ignore[attr-defined]


def bare_claim_rate(
    agents: list[tuple[int, int]], service: int, count: int, seconds: float
) -> float:
    """Bare claims per second (``BARE_CLAIM``) with ``count`` processes at once."""
    import multiprocessing

    import psycopg

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE SEQUENCE IF NOT EXISTS bench_floor_seq")
        db.execute(f"GRANT USAGE ON SEQUENCE bench_floor_seq TO {BENCH_ROLE}")
    context = multiprocessing.get_context("fork")
    begin, counts = context.Event(), context.Queue()
    share = len(agents) // count
    workers = [
        context.Process(
            target=_bare_claimer,
            args=(url, agents[n * share : (n + 1) * share], service, seconds, begin, counts),
        )
        for n in range(count)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    begin.set()
    total = sum(counts.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


SECTIONS = {"core": core_pull, "wave": wave, "db": db_claims}


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
    parser.add_argument("--db-items", type=int, default=10_000, help="queued items for db")
    parser.add_argument("--db-seconds", type=float, default=15.0, help="length of a db round")
    parser.add_argument("--claimers", default="1,4,8", help="claimer processes per db round")
    parser.add_argument("--db-engine", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--section", action="append", choices=sorted(SECTIONS), help="run only these (repeatable)"
    )
    args = parser.parse_args()
    if args.db_engine:  # one engine of the db section, in a process of its own
        db_engine(args)
        return
    for name, section in SECTIONS.items():
        if args.section is None or name in args.section:
            section(args)
    print(
        f"measured at {dt.datetime.now(UTC):%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
