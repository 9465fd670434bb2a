"""Claims under concurrency: many processes, one item each time, nothing lost when one dies.

These tests commit (``transaction=True``) so that other connections see the
data: separate processes, each with its own connection to the test database,
claim at once. Django empties every table after each of them, so the seeded
catalog is put back before each test and after the module.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest
from django.db import close_old_connections, connection, transaction
from django.db.models import Count
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.chain import HASHED_FIELDS, verify_chain
from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service, ServiceLine, ServiceSkill, Skill
from relaydesk.catalog.seed import seed_catalog, seed_file_types
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.lifecycle import State
from relaydesk.core.roles import Role
from relaydesk.routing.actions import do_claim_next, do_escalate, do_set_escalation_ladder
from relaydesk.routing.models import AgentPresence, EscalationStep
from relaydesk.work.models import WorkItem, WorkItemEvent
from relaydesk.workforce.models import Agent, AgentSkill, Certification, Clearance, Site
from tests.routing.conftest import around_the_clock

pytestmark = pytest.mark.django_db(transaction=True)
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's"
)

CLAIMERS = 8
CAPACITY = 50
# 2,000 items keep the suite quick; RELAYDESK_CLAIM_TEST_ITEMS=10000 runs the full size
# (about three minutes on two cores; benchmarks/routing.py --section db times 10,000).
ITEMS = int(os.environ.get("RELAYDESK_CLAIM_TEST_ITEMS", "2000"))
# The claimer that is killed takes this many items first, then dies holding one uncommitted.
VICTIM_FIRST = 20


def _seed() -> None:
    seed_catalog(ServiceLine, Skill, Service, ServiceSkill, Clearance, Certification)
    seed_file_types(Service)


@pytest.fixture(scope="module", autouse=True)
def _catalog_back_afterwards(django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """The last flush of this module empties the seeded catalog: later tests need it."""
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _seed()


@pytest.fixture
def floor(transactional_db: None) -> tuple[Engagement, User]:
    """A client with one engagement for data entry, and who submits its work."""
    _seed()
    client = Client.objects.create(slug="volume-co", name="Volume Co")
    engagement = Engagement.objects.create(
        client=client,
        name="Keying",
        time_zone="UTC",
        allowed_countries=["PH"],
        starts_on=dt.date(2026, 1, 1),
    )
    engagement.services.set(Service.objects.filter(slug="data-entry"))
    submitter = User.objects.create_user(
        email="sender@volume.test", password=None, role=Role.CLIENT_MEMBER.value, client=client
    )
    return engagement, submitter


def _agents(count: int, *, capacity: int) -> list[User]:
    """``count`` available agents at a site that never closes, fit for data entry."""
    site = Site.objects.create(
        code="cc", name="Claim centre", country="PH", time_zone="Asia/Manila"
    )
    around_the_clock(site)
    skill = Skill.objects.get(slug="data-entry")
    users = [
        User.objects.create_user(
            email=f"agent{n}@provider.test",
            password=None,
            role=Role.AGENT.value,
            full_name=f"Agent {n}",
        )
        for n in range(count)
    ]
    agents = Agent.objects.bulk_create(
        Agent(user=u, site=site, employee_code=f"C-{n:04}", languages=["en"], capacity=capacity)
        for n, u in enumerate(users)
    )
    AgentSkill.objects.bulk_create(AgentSkill(agent=a, skill=skill, proficiency=3) for a in agents)
    since = timezone.now() - dt.timedelta(hours=1)
    AgentPresence.objects.bulk_create(
        AgentPresence(agent=a, status="available", since=since, idle_since=since) for a in agents
    )
    return users


def _queue(engagement: Engagement, submitter: User, count: int) -> list[int]:
    """``count`` queued items, oldest first, each with its queueing on the timeline."""
    service = Service.objects.get(slug="data-entry")
    start = timezone.now() - dt.timedelta(hours=2)
    items = WorkItem.objects.bulk_create(
        WorkItem(
            client_id=engagement.client_id,
            engagement=engagement,
            service=service,
            title=f"Form {n}",
            priority=(2, 3, 1, 4)[n % 4],
            state=State.QUEUED.value,
            submitted_by=submitter,
            created_at=start + dt.timedelta(seconds=n),
            updated_at=start,
        )
        for n in range(count)
    )
    WorkItemEvent.objects.bulk_create(
        WorkItemEvent(
            client_id=engagement.client_id,
            item=item,
            at=item.created_at,
            kind="queue",
            from_state=State.NEW.value,
            to_state=State.QUEUED.value,
        )
        for item in items
    )
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum keeps them in production: without them the
        # planner does not know the queue is large enough to walk the routing index.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE NONE")
            cursor.execute("ANALYZE work_workitem, work_workitemevent")
    return [item.pk for item in items]


def _claim_until_done(user_ids: list[int], offset: int, report: Connection) -> None:
    """A claimer process: "Get next" round the agents until nothing is left for any of them."""
    close_old_connections()
    try:
        users = list(User.objects.filter(pk__in=user_ids).order_by("pk"))
        turn = offset
        claimed = 0
        while users:
            user = users[turn % len(users)]
            claim = do_claim_next(user)
            if claim.item is not None:
                claimed += 1
                turn += 1
            elif claim.rule == "capacity":
                users.remove(user)
            elif claim.rule == "busy":  # what is left is being claimed, or held by a dying one
                time.sleep(0.05)
            elif claim.rule == "empty":
                break
            else:
                report.send(("error", claim.reason))
                return
        report.send(("done", claimed))
    except BaseException as error:
        report.send(("error", repr(error)))
    finally:
        connection.close()


def _claim_then_die_holding_one(user_id: int, report: Connection) -> None:
    """The victim: claims for its own agent a few times, then takes one more and waits
    to be killed in the middle of that transaction."""
    close_old_connections()
    try:
        user = User.objects.get(pk=user_id)
        for _ in range(VICTIM_FIRST):
            claim = do_claim_next(user)
            assert claim.item is not None, claim.reason
            report.send(("committed", claim.item.pk))
        with transaction.atomic():
            claim = do_claim_next(user)
            assert claim.item is not None, claim.reason
            report.send(("holding", claim.item.pk))
            time.sleep(600)
    except BaseException as error:
        report.send(("error", repr(error)))


def _receive(pipe: Connection, seconds: float = 900) -> tuple[object, ...]:
    """The next message from a child, or a failure instead of waiting for ever."""
    assert pipe.poll(seconds), "a claimer process went silent"
    message: tuple[object, ...] = pipe.recv()
    assert message[0] != "error", message
    return message


def test_eight_claimers_give_every_item_exactly_once_and_a_killed_one_loses_nothing(
    floor: tuple[Engagement, User],
) -> None:
    engagement, submitter = floor
    victim_user, *agents = _agents(ITEMS // CAPACITY + 5, capacity=CAPACITY)
    items = _queue(engagement, submitter, ITEMS)
    user_ids = [u.pk for u in agents]
    connection.close()  # the children fork: none may share this connection
    context = multiprocessing.get_context("fork")

    started = time.monotonic()
    victim_end, victim_report = context.Pipe()
    victim = context.Process(
        target=_claim_then_die_holding_one, args=(victim_user.pk, victim_report)
    )
    pipes, claimers = [], []
    for n in range(CLAIMERS - 1):
        ours, theirs = context.Pipe()
        offset = n * len(user_ids) // CLAIMERS
        claimers.append(context.Process(target=_claim_until_done, args=(user_ids, offset, theirs)))
        pipes.append(ours)
    for process in [victim, *claimers]:
        process.start()
    committed: list[int] = []
    while True:
        kind, item_id = _receive(victim_end)
        assert isinstance(item_id, int)
        if kind == "holding":
            held = item_id
            break
        committed.append(item_id)
    # Killed while the others claim, inside its transaction: the item it took is
    # locked and updated but not committed.
    os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
    victim.join()
    answers = [_receive(pipe) for pipe in pipes]
    for process in claimers:
        process.join()
    elapsed = time.monotonic() - started

    assert victim.exitcode == -signal.SIGKILL
    assert all(kind == "done" for kind, _ in answers), answers
    # Every item assigned, each by exactly one committed take.
    assert WorkItem.objects.filter(state=State.QUEUED.value).count() == 0
    assert WorkItem.objects.filter(pk__in=items, state=State.ASSIGNED.value).count() == ITEMS
    takes = WorkItemEvent.objects.filter(kind="take")
    assert takes.count() == ITEMS
    assert not takes.values("item_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert sum(int(n) for _, n in answers) + len(committed) == ITEMS  # type: ignore[call-overload]
    # Nobody above capacity.
    loads = WorkItem.objects.values("owner_id").annotate(n=Count("id"))
    assert max(row["n"] for row in loads) <= CAPACITY
    # What the victim committed is still its agent's; what it held when it died went to
    # another agent, and the victim's agent holds nothing else.
    assert set(WorkItem.objects.filter(owner=victim_user).values_list("pk", flat=True)) == set(
        committed
    )
    assert WorkItemEvent.objects.get(item_id=held, kind="take").actor_id != victim_user.pk
    # One audit record per take, in one unbroken chain.
    assert AuditRecord.objects.filter(action="work_item.take").count() == ITEMS
    rows = AuditRecord.objects.order_by("seq").values("id", "hash", *HASHED_FIELDS)
    assert verify_chain(list(rows)).broken is None
    print(f"\n{ITEMS:,} items claimed by {CLAIMERS} processes in {elapsed:.1f} s")


@on_postgres
def test_a_claimer_skips_an_item_another_holds_instead_of_waiting(
    floor: tuple[Engagement, User],
) -> None:
    engagement, submitter = floor
    first_agent, second_agent = _agents(2, capacity=3)
    first, second = _queue(engagement, submitter, 2)
    # Items alternate priority 2 and 3: the second is first in routing order.
    first, second = second, first
    holding, release = threading.Event(), threading.Event()
    held: list[int | None] = []

    def hold() -> None:
        # Another claimer that has locked the best item and not yet written anything
        # (a full claim would also hold the audit chain's lock until it commits).
        try:
            with transaction.atomic():
                row = WorkItem.objects.select_for_update().get(pk=first)
                held.append(row.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    claim = do_claim_next(second_agent)
    waited = time.monotonic() - started
    release.set()
    thread.join()

    assert held == [first]
    assert claim.item is not None and claim.item.pk == second
    assert waited < 2, f"the second claim waited {waited:.1f} s for the first"
    owners = dict(WorkItem.objects.values_list("pk", "owner_id"))
    assert owners == {first: None, second: second_agent.pk}
    # Once the lock is gone, the first item is there for the next claim.
    assert do_claim_next(first_agent).item == WorkItem.objects.get(pk=first)


def test_sweeps_running_at_once_record_each_step_once(floor: tuple[Engagement, User]) -> None:
    engagement, submitter = floor
    lead = User.objects.create_user(email="lead@p.test", password=None, role=Role.OPS_LEAD.value)
    do_set_escalation_ladder(lead, engagement, widen_after_minutes=10, alert_after_minutes=20)
    items = _queue(engagement, submitter, 40)
    at = timezone.now()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def sweep() -> None:
        try:
            start.wait()
            do_escalate(at=at)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    do_escalate(at=at)  # a straggler skipped under a lock is caught by the next sweep

    assert errors == []
    assert EscalationStep.objects.count() == 2 * len(items)
    assert WorkItemEvent.objects.filter(kind="escalated").count() == 2 * len(items)
    assert AuditRecord.objects.filter(action="routing.lead_alert").count() == len(items)
