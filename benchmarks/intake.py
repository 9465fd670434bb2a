"""Intake and lifecycle throughput through the real actions, against raw inserts.

Runs on a throwaway SQLite database (or DATABASE_URL if it is set) and prints
figures that compare across machines as ratios to a baseline measured in the
same run: the baseline is a bulk insert of the same rows with no checks,
timeline or audit.

    make bench            # or: .venv/bin/python benchmarks/intake.py [--items N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time

ITEMS_DEFAULT = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=ITEMS_DEFAULT)
    args = parser.parse_args()
    os.environ.setdefault("RELAYDESK_VAR_DIR", tempfile.mkdtemp(prefix="relaydesk-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaydesk.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print("migrating…", flush=True)
    call_command("migrate", verbosity=0)
    run(args.items)


def run(count: int) -> None:
    """Measure and print."""
    from django.db import transaction
    from django.utils import timezone

    from relaydesk.accounts.actions import do_create_user
    from relaydesk.catalog.models import Service, Skill
    from relaydesk.clients.models import Client, Engagement
    from relaydesk.core.lifecycle import Action
    from relaydesk.core.roles import Role
    from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
    from relaydesk.work.models import WorkItem
    from relaydesk.work.queries import visible_work_items
    from relaydesk.workforce.models import Agent, AgentSkill, Site

    stamp = int(time.time())
    client = Client.objects.create(slug=f"bench-{stamp}", name=f"Bench client {stamp}")
    engagement = Engagement.objects.create(
        client=client, name="Bench", time_zone="UTC", starts_on=dt.date(2026, 1, 1)
    )
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    engagement.services.set(Service.objects.filter(slug="data-entry"))
    site = Site.objects.create(
        code=f"b{stamp % 10**8}", name=f"Bench site {stamp}", country="PH", time_zone="Asia/Manila"
    )
    member = do_create_user(
        None,
        email=f"m{stamp}@bench.test",
        full_name="Member",
        role=Role.CLIENT_MEMBER,
        password=None,
        client=client,
    )
    lead = do_create_user(
        None, email=f"l{stamp}@bench.test", full_name="Lead", role=Role.OPS_LEAD, password=None
    )
    agent_user = do_create_user(
        None, email=f"a{stamp}@bench.test", full_name="Agent", role=Role.AGENT, password=None
    )
    agent = Agent.objects.create(
        user=agent_user, site=site, employee_code=f"B{stamp}", languages=["en"], capacity=50
    )
    AgentSkill.objects.create(
        agent=agent, skill=Skill.objects.get(slug="data-entry"), proficiency=5
    )

    # Baseline: the same rows inserted in bulk, no checks, no timeline, no audit.
    service_id = engagement.services.get().pk
    started = time.perf_counter()
    with transaction.atomic():
        WorkItem.objects.bulk_create(
            WorkItem(
                client=client,
                engagement=engagement,
                service_id=service_id,
                title=f"Baseline {n}",
                submitted_by=member,
                state="queued",
            )
            for n in range(count)
        )
    baseline = time.perf_counter() - started

    latencies = []
    started = time.perf_counter()
    with transaction.atomic():
        for n in range(count):
            t0 = time.perf_counter()
            do_submit_work_item(
                member,
                NewWorkItem(
                    engagement_id=engagement.pk, service_slug="data-entry", title=f"Item {n}"
                ),
            )
            latencies.append(time.perf_counter() - t0)
            if (n + 1) % 200 == 0:
                print(f"  submitted {n + 1}/{count}", flush=True)
    intake = time.perf_counter() - started

    walked = min(count, 200)
    items = list(WorkItem.objects.filter(client=client, title__startswith="Item ")[:walked])
    started = time.perf_counter()
    for start in range(0, walked, 40):
        batch = items[start : start + 40]
        for item in batch:
            do_assign(lead, item, agent)
            do_transition(agent_user, item, Action.START)
            do_transition(agent_user, item, Action.COMPLETE)
            do_transition(member, item, Action.ACCEPT)
    walk = time.perf_counter() - started

    started = time.perf_counter()
    for _ in range(50):
        list(visible_work_items(agent_user).filter(state="queued")[:50])
    queue_query = (time.perf_counter() - started) / 50
    started = time.perf_counter()
    for _ in range(50):
        list(WorkItem.objects.filter(state="queued")[:50])
    plain_query = (time.perf_counter() - started) / 50

    per_item = intake / count
    print()
    print(f"baseline bulk insert       {count / baseline:10,.0f} items/s")
    print(
        f"intake (do_submit)         {count / intake:10,.0f} items/s   "
        f"{per_item / (baseline / count):6.1f}× baseline per item"
    )
    print(
        f"  latency p50 / p99        {statistics.median(latencies) * 1000:8.2f} / "
        f"{statistics.quantiles(latencies, n=100)[98] * 1000:.2f} ms"
    )
    print(
        f"full lifecycle (4 actions) {walked / walk:10,.0f} items/s   "
        f"{(walk / walked) / per_item:6.1f}× one intake"
    )
    print(
        f"agent's eligible queue     {queue_query * 1000:8.2f} ms/page   "
        f"{queue_query / plain_query:6.1f}× an unfiltered page ({plain_query * 1000:.2f} ms)"
    )
    print(f"measured at {timezone.now():%Y-%m-%d %H:%M} UTC on Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
