"""The dashboards over a long history: the client dashboard and the operations dashboard
with 1,000,000 work items, next to two baselines measured in the same run.

Seeds a throwaway database (bulk inserts, a batch at a time, with progress) with the
demo's shape — four sites working follow-the-sun shifts, 60 agents, four clients with
two engagements each (one billed per item, one per hour), six services — and ``--items``
work items (default 1,000,000) arriving over the last 365 days, more in the hours the
clients' offices are open. Each
finished item gets its rows of the dashboards' roll-up (``ItemMeasure``: handled time,
completion, agent and site; ``HandledSlice``: its time in progress per UTC hour), its
turnaround SLA clock (met or missed) and, one in twenty,
a QA review, as the product would have stored them. Timelines are not written: no
dashboard reads them (the roll-up is their summary; its replay is timed by the tests).

Then times each dashboard query, the median of ``--repeats`` runs after one warm-up:

- the client dashboard (``relaydesk.insights.queries.client_dashboard``) for a client's
  member over 30 and 365 days, and for the operations lead across every client; the
  warm-up fills the daily roll-up, so one more row times a year's first view, counted
  from the items;
- the operations dashboard (``relaydesk.insights.provider_queries``) as a whole over
  the default 30 days and over the whole year, and each of its parts counted live from
  the items' roll-up: work per site and agent, completions per day, arrivals per hour,
  people on shift per hour from the shift calendars, SLA attainment and quality by site
  and agent; its warm-up counts the settled days into its daily roll-up
  (``relaydesk.insights.ops_daily``), so one more row times a year's first view, which
  counts the year;
- the page ``/ops/dashboard/`` through the whole stack (middleware, templates).

Figures compare across machines as ratios to two baselines of the same run: a plain
``SELECT count(*)`` over the work items, and a naive Python loop that reads the 30 days'
completed rows and adds handled time per site itself (what the grouped query does in the
database).

Runs on SQLite (a file in a temporary folder) and, when ``DATABASE_URL`` names
PostgreSQL, on PostgreSQL too, each engine in a process of its own (``--engine`` picks
one); on PostgreSQL the queries run as a plain application role, in the provider's or
the client's row-security scope, as in production.

    make bench            # or: .venv/bin/python benchmarks/dashboards.py [--items N]
    .venv/bin/python benchmarks/dashboards.py --items 100000     # a quick run
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relaydesk \
        .venv/bin/python benchmarks/dashboards.py --engine postgresql
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from _throwaway import analyze_and_act_as_app_role, on_throwaway_database, signed_in_browser

if TYPE_CHECKING:
    from relaydesk.accounts.models import User

ITEMS_DEFAULT = 1_000_000
REPEATS = 5
BATCH = 5_000
HISTORY_DAYS = 365
# code, name, country, time zone, agents, shifts (name, local start, local end)
SITES = (
    ("mnl", "Manila", "PH", "Asia/Manila", 24, (("Day", 6, 15), ("Night", 21, 6))),
    ("khi", "Karachi", "PK", "Asia/Karachi", 10, (("Afternoon", 14, 23),)),
    ("pnq", "Pune", "IN", "Asia/Kolkata", 16, (("Day", 9, 18), ("Evening", 18, 3))),
    ("fll", "Fort Lauderdale", "US", "America/New_York", 10, (("Day", 8, 17),)),
)
SERVICES = (
    "data-entry",
    "customer-support",
    "document-processing",
    "legal-drafting",
    "payroll",
    "legal-research",
)
# Arrivals per UTC hour: US office hours weigh most, then Europe and Asia.
HOUR_WEIGHTS = (2, 2, 2, 2, 2, 3, 4, 5, 6, 7, 7, 7, 8, 10, 12, 12, 12, 12, 10, 8, 6, 4, 3, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=ITEMS_DEFAULT)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help="only this engine")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        one_engine(args)
        return
    engines = [args.engine] if args.engine else ["sqlite"]
    if not args.engine and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        engines.append("postgresql")
    if "postgresql" in engines and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("--engine postgresql needs DATABASE_URL=postgres://…")
    for engine in engines:
        command = [sys.executable, os.path.abspath(__file__), "--child", "--engine", engine]
        command += ["--items", str(args.items), "--repeats", str(args.repeats)]
        done = subprocess.run(command, check=False)
        if done.returncode:
            raise SystemExit(f"the {engine} dashboards benchmark failed ({done.returncode})")
        print(flush=True)
    if engines == ["sqlite"]:
        print("PostgreSQL skipped: set DATABASE_URL=postgres://… to measure it too")
    stamp = dt.datetime.now(dt.UTC)
    print(f"measured at {stamp:%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}")


def one_engine(args: argparse.Namespace) -> None:
    """A throwaway database on one engine: fill it, then time it."""
    on_throwaway_database("dashboards", args.engine, lambda: run(args))


# --- the history ------------------------------------------------------------------------------


@dataclass
class Cast:
    """Who the seeded history belongs to."""

    lead: User
    member: User
    client_id: int


def _progress(what: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"  {what}: {done:,} of {total:,} ({rate:,.0f} a second)", flush=True)


class RawRows:
    """Rows of one model written straight to its table: ``executemany`` on SQLite, ``COPY``
    on PostgreSQL. Millions of model instances would spend most of the seeding in Django;
    fields a row leaves out take their default, worked out once."""

    def __init__(self, model: Any) -> None:
        from django.db import connection
        from django.db.models import DateTimeField, DecimalField, JSONField

        self.connection = connection
        self.table = model._meta.db_table
        fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in fields]
        self.names = [f.attname for f in fields]
        self.defaults = [None if f.primary_key else f.get_default() for f in fields]
        postgres = connection.vendor == "postgresql"

        def stored_time(value: dt.datetime | None) -> object:
            if value is None or postgres:
                return value
            # What Django stores on SQLite: the UTC wall time as text.
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")

        def prepared(field: Any) -> Callable[[object], object]:
            return lambda value: field.get_db_prep_save(value, connection)

        self.converters: list[Callable[[Any], object] | None] = []
        for field in fields:
            if isinstance(field, DateTimeField):
                self.converters.append(stored_time)
            elif isinstance(field, JSONField | DecimalField):
                self.converters.append(prepared(field))
            else:
                self.converters.append(None)

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (attribute name to value; the id included)."""
        values: list[Any] = []
        for row in rows:
            line = []
            for name, default, convert in zip(
                self.names, self.defaults, self.converters, strict=True
            ):
                value = row.get(name, default)
                line.append(convert(value) if convert is not None else value)
            values.append(tuple(line))
        columns = ", ".join(f'"{c}"' for c in self.columns)
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                with cursor.cursor.copy(f'COPY "{self.table}" ({columns}) FROM STDIN') as copy:
                    for copied in values:
                        copy.write_row(copied)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(
                    f'INSERT INTO "{self.table}" ({columns}) VALUES ({marks})', values
                )

    def restart_ids(self) -> None:
        """On PostgreSQL, move the id sequence past the ids written."""
        if self.connection.vendor == "postgresql":
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{self.table}\"', 'id'), "
                    f'coalesce(max(id), 1)) FROM "{self.table}"'
                )


def seed(count: int, now: dt.datetime) -> Cast:
    """Sites, shifts, agents, clients and ``count`` items over :data:`HISTORY_DAYS` days with
    their measures, turnaround clocks and (one in twenty) QA reviews."""
    from decimal import Decimal

    from django.db import transaction

    from relaydesk.accounts.models import User
    from relaydesk.catalog.models import Service
    from relaydesk.clients.models import Client, Engagement, PricingBasis
    from relaydesk.core.lifecycle import State
    from relaydesk.core.roles import Role
    from relaydesk.insights.measure_models import HandledSlice, ItemMeasure
    from relaydesk.quality.models import Review, Scorecard, ScorecardVersion
    from relaydesk.sla.models import SlaClock
    from relaydesk.work.models import WorkItem
    from relaydesk.workforce.models import Agent, ShiftPattern, Site

    rng = random.Random(7)
    agents: list[tuple[int, int]] = []  # (user id, site id)
    serial = 0
    for code, name, country, zone, staff, shifts in SITES:
        site = Site.objects.create(code=code, name=name, country=country, time_zone=zone)
        weekdays = range(7) if code != "fll" else range(5)
        ShiftPattern.objects.bulk_create(
            ShiftPattern(
                site=site,
                name=shift,
                weekday=day,
                starts_at=dt.time(start),
                ends_at=dt.time(end),
            )
            for shift, start, end in shifts
            for day in weekdays
        )
        users = User.objects.bulk_create(
            User(email=f"{code}{n}@bench.test", role=Role.AGENT.value, full_name=f"{name} {n:02}")
            for n in range(staff)
        )
        for n, user in enumerate(users):
            serial += 1
            Agent.objects.create(
                user=user,
                site=site,
                employee_code=f"B{serial:03}",
                languages=["en"],
                shift_name=shifts[n % len(shifts)][0],
            )
            agents.append((user.pk, site.pk))
    services = list(Service.objects.filter(slug__in=SERVICES).values_list("pk", flat=True))
    engagements: list[tuple[int, int, int]] = []  # (engagement, client, submitter)
    members = []
    for n in range(4):
        client = Client.objects.create(slug=f"bench-{n}", name=f"Bench client {n}")
        member = User.objects.create_user(
            email=f"m{n}@bench.test",
            password=None,
            role=Role.CLIENT_MEMBER.value,
            client=client,
            full_name=f"Member {n}",
        )
        members.append(member)
        for m in range(2):
            engagement = Engagement.objects.create(
                client=client,
                name=f"Desk {m + 1}",
                time_zone="America/New_York",
                allowed_countries=[],
                starts_on=(now - dt.timedelta(days=HISTORY_DAYS + 1)).date(),
                # One desk billed per item, the other per hour worked, as clients are.
                pricing_basis=PricingBasis.PER_ITEM if m == 0 else PricingBasis.PER_HOUR,
                rate=Decimal("4.50") if m == 0 else Decimal(22),
            )
            engagement.services.set(services)
            engagements.append((engagement.pk, client.pk, member.pk))
    lead = User.objects.create_user(
        email="lead@bench.test", password=None, role=Role.OPS_LEAD.value, full_name="Lead"
    )
    reviewer = User.objects.create_user(
        email="qa@bench.test", password=None, role=Role.QA_REVIEWER.value, full_name="QA"
    )
    card = Scorecard.objects.create(name="Bench QA")
    version = ScorecardVersion.objects.create(
        scorecard=card,
        version=1,
        criteria=[{"key": "accuracy", "label": "Accurate", "weight": 1, "scale": "1-5"}],
        pass_mark=Decimal(80),
    )

    tables = {
        model: RawRows(model) for model in (WorkItem, ItemMeasure, HandledSlice, SlaClock, Review)
    }
    ids = dict.fromkeys(tables, 0)
    first_day = (now - dt.timedelta(days=HISTORY_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    hours = list(range(24))
    done_states = (State.ACCEPTED.value,) * 8 + (State.DELIVERED.value,)
    print(f"  inserting {count:,} items, {BATCH:,} at a time…", flush=True)
    started = time.perf_counter()
    made = 0
    while made < count:
        size = min(BATCH, count - made)
        rows: dict[Any, list[dict[str, Any]]] = {model: [] for model in tables}
        for n in range(made, made + size):
            # In order of arrival, so the time indexes grow at their end as in real life.
            day = first_day + dt.timedelta(days=n * (HISTORY_DAYS + 1) // count)
            created = day.replace(
                hour=rng.choices(hours, HOUR_WEIGHTS)[0],
                minute=rng.randrange(60),
                second=rng.randrange(60),
            )
            if created >= now:
                created = now - dt.timedelta(minutes=rng.randrange(1, 600))
            engagement_id, client_id, submitter = engagements[rng.randrange(len(engagements))]
            agent_id, site_id = agents[rng.randrange(len(agents))]
            handled = int(rng.lognormvariate(7.2, 0.5))  # about 25 minutes
            started_at = created + dt.timedelta(minutes=rng.expovariate(1 / 90))
            completed = started_at + dt.timedelta(seconds=handled)
            if rng.random() < 0.15:  # waited on the client
                completed += dt.timedelta(hours=rng.expovariate(1 / 3))
            cancelled = rng.random() < 0.02
            finished = completed < now and not cancelled
            if finished:
                state = rng.choice(done_states)
            else:
                state = State.CANCELLED.value if cancelled else State.IN_PROGRESS.value
            delivered = completed if finished else None
            closed = None
            if cancelled:
                closed = created
            elif state == State.ACCEPTED.value:
                closed = completed + dt.timedelta(days=1)
            ids[WorkItem] += 1
            item_id = ids[WorkItem]
            service_id = services[rng.randrange(len(services))]
            rows[WorkItem].append(
                {
                    "id": item_id,
                    "client_id": client_id,
                    "engagement_id": engagement_id,
                    "service_id": service_id,
                    "title": f"Bench item {n}",
                    "state": state,
                    "owner_id": None if cancelled else agent_id,
                    "submitted_by_id": submitter,
                    "created_at": created,
                    "updated_at": completed if finished else created,
                    "delivered_at": delivered,
                    "closed_at": closed,
                    "qa_seed": "0" * 64,
                }
            )
            ids[ItemMeasure] += 1
            rows[ItemMeasure].append(
                {
                    "id": ids[ItemMeasure],
                    "item_id": item_id,
                    "client_id": client_id,
                    "engagement_id": engagement_id,
                    "service_id": service_id,
                    "site_id": site_id if finished else None,
                    "agent_id": agent_id if finished else None,
                    "created_at": created,
                    "delivered_at": delivered,
                    "handled_seconds": handled if finished else 0,
                    "first_started_at": None if cancelled else started_at,
                    "completed_at": completed if finished else None,
                }
            )
            if not finished:
                continue
            # The time in progress, cut at the UTC hours it spans (the utilisation's source).
            spell_start, spell_end = started_at, started_at + dt.timedelta(seconds=handled)
            while spell_start < spell_end:
                hour = spell_start.replace(minute=0, second=0, microsecond=0)
                cut = min(spell_end, hour + dt.timedelta(hours=1))
                ids[HandledSlice] += 1
                rows[HandledSlice].append(
                    {
                        "id": ids[HandledSlice],
                        "item_id": item_id,
                        "client_id": client_id,
                        "engagement_id": engagement_id,
                        "agent_id": agent_id,
                        "hour": hour,
                        "started_at": spell_start,
                        "ended_at": cut,
                        "seconds": round((cut - spell_start).total_seconds()),
                    }
                )
                spell_start = cut
            due = created + dt.timedelta(hours=8)
            met = completed <= due
            ids[SlaClock] += 1
            rows[SlaClock].append(
                {
                    "id": ids[SlaClock],
                    "client_id": client_id,
                    "item_id": item_id,
                    "kind": "turnaround",
                    "cycle": 1,
                    "status": "met" if met else "breached",
                    "business": False,
                    "target_seconds": 8 * 3600,
                    "elapsed_seconds": int((completed - created).total_seconds()),
                    "started_at": created,
                    "due_at": due,
                    "stopped_at": completed,
                    "breached_at": None if met else due,
                    "replayed_at": completed,
                    "holder_id": agent_id,
                    "engagement_id": engagement_id,
                    "service_id": service_id,
                }
            )
            if rng.random() < 0.05:
                score = rng.choice((100, 100, 100, 75, 50, 25))
                ids[Review] += 1
                rows[Review].append(
                    {
                        "id": ids[Review],
                        "client_id": client_id,
                        "item_id": item_id,
                        "reviewer_id": reviewer.pk,
                        "agent_id": agent_id,
                        "scorecard_version_id": version.pk,
                        "answers": {"accuracy": 1 + score // 25},
                        "score": Decimal(score),
                        "passed": score >= 80,
                        "counted_criteria": 1,
                        "full_marks_criteria": 1 if score == 100 else 0,
                        "defect_categories": [] if score == 100 else ["Accuracy"],
                        "comments": "" if score >= 80 else "Re-key the totals.",
                        "created_at": completed + dt.timedelta(hours=2),
                    }
                )
        with transaction.atomic():
            for model, table in tables.items():
                table.write(rows[model])
        made += size
        if made % 100_000 == 0 or made == count:
            _progress("items with their measures, clocks and reviews", made, count, started)
    for table in tables.values():
        table.restart_ids()
    return Cast(lead=lead, member=members[0], client_id=members[0].client_id or 0)


# --- timing -----------------------------------------------------------------------------------


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    call()  # warm the caches and the plans
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(args: argparse.Namespace) -> None:
    """Migrate, seed, and time the dashboards' queries."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from relaydesk.core.sla import ClockKind
    from relaydesk.figures import utc_bounds
    from relaydesk.insights import provider_queries as ops
    from relaydesk.insights.daily import forget_all_days
    from relaydesk.insights.measure_models import ItemMeasure
    from relaydesk.insights.ops_daily import forget_all_operations_days
    from relaydesk.insights.queries import client_dashboard
    from relaydesk.quality.queries import quality_figures
    from relaydesk.sla.queries import attainment_figures
    from relaydesk.tenancy import rowsecurity

    print("  migrating…", flush=True)
    call_command("migrate", verbosity=0)
    now = timezone.now()
    started = time.perf_counter()
    cast = seed(args.items, now)
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    analyze_and_act_as_app_role()

    end = now.astimezone(dt.UTC).date()
    month = end - dt.timedelta(days=29)
    year = end - dt.timedelta(days=HISTORY_DAYS - 1)
    begin, finish = utc_bounds(month, end)
    lead, member = cast.lead, cast.member

    def as_provider(call: Callable[[], Any]) -> Callable[[], Any]:
        def scoped() -> Any:
            with rowsecurity.within(rowsecurity.PROVIDER):
                return call()

        return scoped

    def as_client(call: Callable[[], Any]) -> Callable[[], Any]:
        def scoped() -> Any:
            with rowsecurity.within(rowsecurity.Scope("client", cast.client_id)):
                return call()

        return scoped

    def count_items() -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM work_workitem")
            return cursor.fetchone()

    def naive_loop() -> dict[int | None, int]:
        # What the grouped query does, done in Python over the month's rows.
        handled: dict[int | None, int] = {}
        rows = ItemMeasure.objects.filter(completed_at__gte=begin, completed_at__lt=finish)
        for site_id, seconds in rows.values_list("site_id", "handled_seconds").iterator(
            chunk_size=10_000
        ):
            handled[site_id] = handled.get(site_id, 0) + seconds
        return handled

    agents = ops._agents()
    turnaround = ClockKind.TURNAROUND
    rows: list[tuple[str, Callable[[], Any]]] = [
        ("SELECT count(*) of work items (baseline)", count_items),
        ("naive Python loop, 30 days (baseline)", as_provider(naive_loop)),
    ]
    rows += [
        (
            "client dashboard, client, 30 days",
            as_client(lambda: client_dashboard(member, start=month, end=end)),
        ),
        (
            "client dashboard, client, 365 days",
            as_client(lambda: client_dashboard(member, start=year, end=end)),
        ),
        (
            "  the same, first view (counts the year)",
            as_client(lambda: (forget_all_days(), client_dashboard(member, start=year, end=end))),
        ),
        (
            "client dashboard, lead, 30 days",
            as_provider(lambda: client_dashboard(lead, start=month, end=end)),
        ),
    ]
    rows += [
        (
            "ops: completed by site, agent, day, 30 d",
            as_provider(lambda: ops.completed_work(begin, finish)),
        ),
        ("ops: arrivals per hour, 30 d", as_provider(lambda: ops.arrivals_by_hour(begin, finish))),
        ("ops: on shift per hour, 30 d", lambda: ops.on_shift_by_hour(agents, begin, finish)),
        (
            "ops: SLA by site, 30 d",
            as_provider(
                lambda: attainment_figures(
                    lead, kind=turnaround, start=month, end=end, group_by="site"
                )
            ),
        ),
        (
            "ops: SLA by agent, 30 d",
            as_provider(
                lambda: attainment_figures(
                    lead, kind=turnaround, start=month, end=end, group_by="agent"
                )
            ),
        ),
        (
            "ops: quality by site, 30 d",
            as_provider(lambda: quality_figures(lead, start=month, end=end, group_by="site")),
        ),
        (
            "ops: quality by agent, 30 d",
            as_provider(lambda: quality_figures(lead, start=month, end=end, group_by="agent")),
        ),
        (
            "ops: heat map, 30 d",
            as_provider(lambda: ops.coverage_heat_map(lead, start=month, end=end)),
        ),
        (
            "operations dashboard, 30 days",
            as_provider(lambda: ops.operations_dashboard(lead, start=month, end=end)),
        ),
        (
            "operations dashboard, 365 days",
            as_provider(lambda: ops.operations_dashboard(lead, start=year, end=end)),
        ),
        (
            "  the same, first view (counts the year)",
            as_provider(
                lambda: (
                    forget_all_operations_days(),
                    ops.operations_dashboard(lead, start=year, end=end),
                )
            ),
        ),
    ]

    browser = signed_in_browser(lead)

    def page() -> object:
        response = browser.get("/ops/dashboard/")
        assert response.status_code == 200, response.status_code
        return response

    rows.append(("page /ops/dashboard/, 30 days", page))

    results = []
    for label, call in rows:
        samples = _timed(call, args.repeats)
        results.append((label, samples))
        print(f"  {label:42} {statistics.median(samples):10.2f} ms", flush=True)
    base = statistics.median(results[0][1])
    naive = statistics.median(results[1][1])
    print()
    print(f"  {'query':42} {'median':>10} {'fastest':>10} {'× count(*)':>11} {'× naive':>9}")
    for label, samples in results:
        p50 = statistics.median(samples)
        print(
            f"  {label:42} {p50:8.2f}ms {min(samples):8.2f}ms {p50 / base:10.1f}× "
            f"{p50 / naive:8.2f}×"
        )
    in_month = ItemMeasure.objects.filter(completed_at__gte=begin, completed_at__lt=finish)
    with rowsecurity.within(rowsecurity.PROVIDER):
        month_rows = in_month.count()
    print(
        f"  {args.items:,} items over {HISTORY_DAYS} days ({month_rows:,} completed in the last "
        f"30), {len(agents)} agents at {len(SITES)} sites; median of {args.repeats} runs each; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
