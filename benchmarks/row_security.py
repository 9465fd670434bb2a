"""What PostgreSQL's row-level security costs the reads people make most.

Builds a throwaway database beside the one ``DATABASE_URL`` names (PostgreSQL
only; on SQLite there is no such wall and the script says so), fills it with
clients and work items, and times the same queries twice in one run:
connected as the owner (a superuser: no policy applies) and as a plain
application role under the person's scope (every policy applies). The figure to
compare across machines is the ratio.

    make bench    # or: DATABASE_URL=postgres://… .venv/bin/python benchmarks/row_security.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

CLIENTS = 20
ITEMS_DEFAULT = 100_000
REPEATS = 200
BENCH_ROLE = "relaydesk_bench_app"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=ITEMS_DEFAULT)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("skipped: row-level security is PostgreSQL's; set DATABASE_URL=postgres://…")
        return
    import psycopg

    parts = urlsplit(url)
    name = f"relaydesk_bench_rls_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        os.environ.setdefault("RELAYDESK_VAR_DIR", tempfile.mkdtemp(prefix="relaydesk-bench-"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaydesk.config.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        print(f"database: PostgreSQL, throwaway {name}")
        print("migrating…", flush=True)
        call_command("migrate", verbosity=0)
        run(args.items)
        connection.close()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _timed(query: Callable[[], object]) -> list[float]:
    for _ in range(10):  # warm the caches and the plan
        query()
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        query()
        samples.append(time.perf_counter() - started)
    return samples


def run(count: int) -> None:
    """Fill, then measure and print."""
    from django.db import connection, transaction
    from django.utils import timezone

    from relaydesk.accounts.models import User
    from relaydesk.catalog.models import Service
    from relaydesk.clients.models import Client, Engagement
    from relaydesk.core.roles import Role
    from relaydesk.tenancy import rowsecurity
    from relaydesk.tenancy.management.commands.grant_app_role import grant_statements
    from relaydesk.work.models import WorkItem
    from relaydesk.work.queries import filter_items, visible_work_items

    service = Service.objects.get(slug="data-entry")
    now = timezone.now()
    clients, members = [], []
    for n in range(CLIENTS):
        client = Client.objects.create(slug=f"bench-{n}", name=f"Bench client {n}")
        engagement = Engagement.objects.create(
            client=client, name="Bench", time_zone="UTC", starts_on=dt.date(2026, 1, 1)
        )
        engagement.services.add(service)
        member = User.objects.create_user(
            email=f"m{n}@bench.test", password=None, role=Role.CLIENT_MEMBER.value, client=client
        )
        clients.append((client, engagement))
        members.append(member)
    lead = User.objects.create_user(
        email="lead@bench.test", password=None, role=Role.OPS_LEAD.value
    )
    print(f"inserting {count:,} work items for {CLIENTS} clients…", flush=True)
    batch = []
    for i in range(count):
        client, engagement = clients[i % CLIENTS]
        batch.append(
            WorkItem(
                client=client,
                engagement=engagement,
                service=service,
                title=f"Bench item {i}",
                state=("queued", "new", "cancelled")[i % 3],
                submitted_by=members[i % CLIENTS],
                created_at=now - dt.timedelta(minutes=i),
            )
        )
        if len(batch) == 10_000:
            WorkItem.objects.bulk_create(batch)
            batch.clear()
            print(f"  {i + 1:,}/{count:,}", flush=True)
    WorkItem.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [BENCH_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {BENCH_ROLE} NOLOGIN")
        for statement in grant_statements(BENCH_ROLE):
            cursor.execute(statement)

    member, client_id = members[0], clients[0][0].pk
    item_id = WorkItem.objects.filter(client_id=client_id).values_list("pk", flat=True)[500]

    def client_list() -> object:
        # The portal's list: the person's items, newest first, one page, and the count.
        items = filter_items(visible_work_items(member), state="queued")
        return list(items.order_by("-created_at")[:50]), items.count()

    def provider_list() -> object:
        items = filter_items(visible_work_items(lead), state="queued")
        return list(items.order_by("-created_at")[:50])

    def one_item() -> object:
        return visible_work_items(member).filter(pk=item_id).first()

    def as_app(scope: rowsecurity.Scope, query: Callable[[], object]) -> Callable[[], object]:
        def wrapped() -> object:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL ROLE {BENCH_ROLE}")
                rowsecurity.enter(scope)
                return query()

        return wrapped

    def as_owner(query: Callable[[], object]) -> Callable[[], object]:
        def wrapped() -> object:
            with transaction.atomic():
                return query()

        return wrapped

    print()
    print(f"{'query':34} {'owner p50':>10} {'app p50':>10} {'ratio':>7} {'app p99':>9}")
    client_scope = rowsecurity.Scope("client", client_id)
    for label, query, scope in (
        ("client's list page (50 + count)", client_list, client_scope),
        ("client opens one item", one_item, client_scope),
        ("provider's list page (50)", provider_list, rowsecurity.PROVIDER),
    ):
        owner = _timed(as_owner(query))
        app = _timed(as_app(scope, query))
        owner_p50, app_p50 = statistics.median(owner), statistics.median(app)
        app_p99 = statistics.quantiles(app, n=100)[98]
        print(
            f"{label:34} {owner_p50 * 1000:8.2f}ms {app_p50 * 1000:8.2f}ms "
            f"{app_p50 / owner_p50:6.2f}× {app_p99 * 1000:7.2f}ms"
        )
    print()
    print(
        "owner: superuser, no policy applies; app: plain role, every policy applies "
        f"({count:,} items, {CLIENTS} clients, {REPEATS} runs each)"
    )
    print(f"measured at {timezone.now():%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
