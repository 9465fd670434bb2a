"""Push: routing assigns queued work to ready agents, as the system, within every rule."""

from __future__ import annotations

import datetime as dt

import pytest

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.eligibility import first_exclusion
from relaydesk.core.lifecycle import State
from relaydesk.core.roles import Role
from relaydesk.errors import Invalid
from relaydesk.routing.actions import do_push_assign, do_set_presence
from relaydesk.routing.tasks import route_and_escalate
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import item_needs
from relaydesk.workforce.models import Agent, Site
from relaydesk.workforce.queries import agent_profile
from tests.conftest import PASSWORD, World, make_agent
from tests.routing.conftest import T0, queue, shifts

MIN = dt.timedelta(minutes=1)
SKILLS = {"legal-document-review": 4, "legal-drafting": 4, "data-entry": 4}


def _agent(email: str, site: Site, code: str, **fields: object) -> User:
    user = do_create_user(
        None,
        email=email,
        full_name=email.split("@")[0].title(),
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="UTC",
    )
    make_agent(user, site, code=code, skills=SKILLS, languages=["en"], **fields)  # type: ignore[arg-type]
    return user


@pytest.fixture
def crowd(desk: World) -> dict[str, User]:
    """Besides the desk's two: one on a break, one off shift, one with a single slot."""
    karachi = Site.objects.create(
        code="khi", name="Karachi", country="PK", time_zone="Asia/Karachi"
    )
    shifts(karachi, [(day, dt.time(20), dt.time(23)) for day in range(7)])  # evenings only
    people = {
        "on_break": _agent("break@provider.test", Site.objects.get(code="mnl"), "M-010"),
        "off_shift": _agent("karachi@provider.test", karachi, "K-001"),
        "one_slot": _agent(
            "single@provider.test", Site.objects.get(code="mnl"), "M-011", capacity=1
        ),
    }
    for user in people.values():
        do_set_presence(user, "available", at=T0 - 30 * MIN)
    do_set_presence(people["on_break"], "on-break", at=T0 - 5 * MIN)
    return people


def test_push_assigns_only_within_every_rule(desk: World, crowd: dict[str, User]) -> None:
    w = desk
    bills = [
        queue(
            w.member_a,
            w.engagement_pip,
            "document-processing",
            at=T0 - (20 - n) * MIN,
            title=f"FL PIP bill {n}",
            jurisdiction="US-FL",
        )
        for n in range(4)
    ]
    batch = [
        queue(w.member_b, w.engagement_b, at=T0 - (10 - n) * MIN, title=f"Batch {n}")
        for n in range(6)
    ]

    run = do_push_assign(at=T0)

    assert run.ready_agents == 3  # the desk's two and the one with a single slot
    assigned = dict(run.assigned)
    assert len(assigned) == 3 + 3 + 1  # every free slot filled
    agents = {a.pk: a for a in Agent.objects.select_related("user", "site")}
    for item_id, agent_id in assigned.items():
        item = WorkItem.objects.get(pk=item_id)
        agent = agents[agent_id]
        assert (item.state, item.owner_id) == (State.ASSIGNED.value, agent.user_id)
        # Every assignment passes every rule the item demands (capacity checked below).
        profile = agent_profile(agent, load=0, on=T0.date())
        assert first_exclusion(profile, item_needs(item), T0.date()) is None
        event = item.events.get(kind="assign")
        assert event.actor is None and event.internal
        assert event.note == "Assigned by routing to the longest-idle eligible agent."
    for agent in agents.values():
        held = WorkItem.objects.filter(owner=agent.user, state=State.ASSIGNED.value).count()
        assert held <= agent.capacity
    held_by = {agents[a].user.email for a in assigned.values()}
    assert held_by == {w.agent.email, w.other_agent.email, crowd["one_slot"].email}
    # Only the certified agent got PIP bills; the bills came first (they are older).
    assert {assigned[b.pk] for b in bills if b.pk in assigned} == {w.agent.agent.pk}
    assert sum(b.pk in assigned for b in bills) == 3
    assert sum(b.pk in assigned for b in batch) == 4
    records = AuditRecord.objects.filter(action="work_item.assign")
    assert records.count() == 7 and all(r.actor_id is None for r in records)


def test_the_longest_idle_agent_gets_the_item(desk: World) -> None:
    do_set_presence(desk.agent, "on-break", at=T0 - 20 * MIN)
    do_set_presence(desk.agent, "available", at=T0 - 10 * MIN)  # idle again since then
    item = queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    assert do_push_assign(at=T0).assigned == ((item.pk, desk.other_agent.agent.pk),)


def test_a_second_run_assigns_nothing_twice(desk: World) -> None:
    items = [queue(desk.member_a, desk.engagement_a, at=T0 - MIN, title=f"{n}") for n in range(2)]
    assert len(do_push_assign(at=T0).assigned) == 2
    again = do_push_assign(at=T0 + MIN)
    assert again.assigned == () and again.considered == 0
    assert all(i.events.filter(kind="assign").count() == 1 for i in items)


def test_a_wave_respects_the_same_rules(desk: World, crowd: dict[str, User]) -> None:
    for n in range(3):
        queue(
            desk.member_a,
            desk.engagement_pip,
            "document-processing",
            at=T0 - 10 * MIN,
            title=f"FL {n}",
            jurisdiction="US-FL",
            due_at=T0 + (30 + n) * MIN,
        )
    for n in range(5):
        queue(desk.member_b, desk.engagement_b, at=T0 - 5 * MIN, title=f"Batch {n}")

    run = do_push_assign(at=T0, method="wave")

    assert len(run.assigned) == 7
    for item_id, agent_id in run.assigned:
        item = WorkItem.objects.get(pk=item_id)
        agent = Agent.objects.get(pk=agent_id)
        assert first_exclusion(agent_profile(agent, load=0), item_needs(item), T0.date()) is None
        assert item.events.get(kind="assign").note.startswith("Assigned by routing: a wave")
    for agent in Agent.objects.all():
        assert WorkItem.objects.filter(owner=agent.user).count() <= agent.capacity


def test_push_needs_a_known_method(db: None) -> None:
    with pytest.raises(Invalid, match="router, wave"):
        do_push_assign(method="random")


def test_the_routing_task_escalates_then_pushes(desk: World) -> None:
    queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    counts = route_and_escalate.call()
    assert counts["assigned"] == 1 and counts["ready_agents"] == 2
    assert counts["escalation_steps"] == 0
