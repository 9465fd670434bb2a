"""The operations board and the provider's item list with a deep queue.

Seeds a throwaway database with the demo's shape — four sites with shifts, 60
agents, four clients — and 100,000 queued items (some late, some due soon, a
few hundred held, handoffs waiting), then times whole requests through the
middleware as an operations lead: the board page, its poll, and the provider's
item list ``/ops/`` (unfiltered and filtered to queued). Figures compare across
machines as ratios to two baselines measured in the same run: a ``SELECT 1``
round trip and a trivial page (``/healthz``) through the same stack.

Runs on SQLite and, when ``DATABASE_URL`` names PostgreSQL, on PostgreSQL too,
each engine in a process of its own; on PostgreSQL the requests connect as a
plain application role, so row-level security applies as in production.

    make bench            # or: .venv/bin/python benchmarks/board.py [--items N]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relaydesk .venv/bin/python benchmarks/board.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from _throwaway import analyze_and_act_as_app_role, on_throwaway_database, signed_in_browser

if TYPE_CHECKING:
    from relaydesk.accounts.models import User

ITEMS_DEFAULT = 100_000
REPEATS = 30
# code, name, country, time zone
SITES = (
    ("mnl", "Manila", "PH", "Asia/Manila"),
    ("khi", "Karachi", "PK", "Asia/Karachi"),
    ("pnq", "Pune", "IN", "Asia/Kolkata"),
    ("fll", "Fort Lauderdale", "US", "America/New_York"),
)
SERVICES = (
    "data-entry",
    "customer-support",
    "document-processing",
    "legal-drafting",
    "payroll",
    "legal-research",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=ITEMS_DEFAULT)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        one_engine(args)
        return
    engines = ["sqlite"]
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        engines.append("postgresql")
    for engine in engines:
        command = [sys.executable, os.path.abspath(__file__), "--engine", engine]
        command += ["--items", str(args.items), "--repeats", str(args.repeats)]
        done = subprocess.run(command, check=False)
        if done.returncode:
            raise SystemExit(f"the {engine} board benchmark failed ({done.returncode})")
        print(flush=True)
    if len(engines) == 1:
        print("PostgreSQL skipped: set DATABASE_URL=postgres://… to measure it too")
    stamp = dt.datetime.now(dt.UTC)
    print(f"measured at {stamp:%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}")


def one_engine(args: argparse.Namespace) -> None:
    """A throwaway database on one engine: fill it, then time it."""
    on_throwaway_database("board", args.engine, lambda: run(args))


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    for _ in range(3):  # warm the caches and the plans
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def seed(count: int) -> User:
    """The demo's shape with ``count`` queued items; returns the operations lead."""
    from django.utils import timezone

    from relaydesk.accounts.models import User
    from relaydesk.catalog.models import Service, Skill
    from relaydesk.clients.models import Client, Engagement
    from relaydesk.core.lifecycle import State
    from relaydesk.core.roles import Role
    from relaydesk.routing.models import AgentPresence, Handoff
    from relaydesk.work.models import WorkItem
    from relaydesk.workforce.models import Agent, AgentSkill, ShiftPattern, Site

    rng = random.Random(11)
    now = timezone.now()
    sites = [
        Site.objects.create(code=code, name=name, country=country, time_zone=zone)
        for code, name, country, zone in SITES
    ]
    for site in sites:  # day, evening and night, Monday to Saturday
        ShiftPattern.objects.bulk_create(
            ShiftPattern(site=site, name=name, weekday=day, starts_at=start, ends_at=end)
            for day in range(6)
            for name, start, end in (
                ("Day", dt.time(6), dt.time(15)),
                ("Evening", dt.time(14), dt.time(23)),
                ("Night", dt.time(22), dt.time(7)),
            )
        )
    services = list(Service.objects.filter(slug__in=SERVICES))
    engagements = []
    members = []
    for n in range(4):
        client = Client.objects.create(slug=f"bench-{n}", name=f"Bench client {n}")
        engagement = Engagement.objects.create(
            client=client,
            name="Outsourced desk",
            time_zone="America/New_York",
            allowed_countries=[["PH", "US"], ["PH", "PK", "IN"], [], ["US"]][n],
            starts_on=dt.date(2026, 1, 1),
        )
        engagement.services.set(services)
        engagements.append(engagement)
        members.append(
            User.objects.create_user(
                email=f"m{n}@bench.test",
                password=None,
                role=Role.CLIENT_MEMBER.value,
                client=client,
            )
        )
    users = User.objects.bulk_create(
        User(email=f"a{n}@bench.test", role=Role.AGENT.value, full_name=f"Agent {n:02}")
        for n in range(60)
    )
    agents = Agent.objects.bulk_create(
        Agent(user=u, site=sites[n % 4], employee_code=f"B{n:03}", languages=["en"], capacity=5)
        for n, u in enumerate(users)
    )
    skills = list(Skill.objects.all()[:6])
    AgentSkill.objects.bulk_create(
        AgentSkill(agent=a, skill=s, proficiency=rng.randint(2, 5)) for a in agents for s in skills
    )
    AgentPresence.objects.bulk_create(
        AgentPresence(
            agent=a,
            status=rng.choice(["available", "available", "available", "on-break", "offline"]),
            since=now,
            idle_since=now,
        )
        for a in agents
    )
    print(f"  inserting {count:,} queued items…", flush=True)
    batch: list[WorkItem] = []
    for n in range(count):
        engagement = engagements[n % 4]
        due = rng.randint(-6 * 60, 3 * 24 * 60) if rng.random() < 0.7 else None
        batch.append(
            WorkItem(
                client_id=engagement.client_id,
                engagement=engagement,
                service=services[rng.randrange(len(services))],
                title=f"Bench item {n}",
                priority=rng.choice((1, 2, 2, 2, 3, 4)),
                state=State.QUEUED.value,
                submitted_by=members[n % 4],
                created_at=now - dt.timedelta(minutes=rng.randint(1, 3 * 24 * 60)),
                due_at=None if due is None else now + dt.timedelta(minutes=due),
            )
        )
        if len(batch) == 10_000:
            WorkItem.objects.bulk_create(batch)
            batch.clear()
    WorkItem.objects.bulk_create(batch)
    # A few hundred items held, and twenty handoffs waiting for an answer.
    held = list(WorkItem.objects.order_by("?")[:240])
    for n, item in enumerate(held):
        item.state = (State.ASSIGNED.value, State.IN_PROGRESS.value)[n % 2]
        item.owner_id = agents[n % 60].user_id
    WorkItem.objects.bulk_update(held, ["state", "owner"])
    Handoff.objects.bulk_create(
        Handoff(
            client_id=item.client_id,
            item=item,
            from_agent=agents[n % 60],
            to_agent=agents[(n + 1) % 60],
            note="Half done.",
            respond_by=now + dt.timedelta(minutes=5 * n - 20),
        )
        for n, item in enumerate(held[:20])
    )
    return User.objects.create_user(
        email="lead@bench.test", password=None, role=Role.OPS_LEAD.value, full_name="Lead"
    )


def run(args: argparse.Namespace) -> None:
    """Migrate, seed, and time the requests."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    print("  migrating…", flush=True)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    lead = seed(args.items)
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    analyze_and_act_as_app_role()
    browser = signed_in_browser(lead)

    def get(path: str, **headers: str) -> Callable[[], object]:
        def call() -> object:
            response = browser.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code)
            return response

        return call

    def select_one() -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()

    rows = [
        ("SELECT 1 round trip (baseline)", select_one),
        ("trivial page /healthz (baseline)", get("/healthz")),
        ("operations board /ops/board/", get("/ops/board/")),
        ("board poll (HTMX partial)", get("/ops/board/", **{"HX-Request": "true"})),
        ("provider list /ops/", get("/ops/")),
        ("provider list /ops/?state=queued", get("/ops/?state=queued")),
    ]
    results = [(label, _timed(call, args.repeats)) for label, call in rows]
    page_p50 = statistics.median(results[1][1])
    print()
    print(f"  {'request':36} {'p50':>9} {'p90':>9} {'× trivial page':>15}")
    for label, samples in results:
        p50 = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[8]
        print(f"  {label:36} {p50:7.2f}ms {p90:7.2f}ms {p50 / page_p50:14.1f}×")
    print(
        f"  {args.items:,} queued items, 240 held, 20 handoffs waiting, 60 agents at 4 sites; "
        f"{args.repeats} requests each; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
