"""Push: routing assigns queued work to ready agents, as the system, within every rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.eligibility import first_exclusion
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.errors import Invalid
from relaydesk.routing import actions as routing_actions
from relaydesk.routing.actions import do_push_assign, do_set_presence, push_on_arrival_paused
from relaydesk.routing.models import AgentPresence
from relaydesk.routing.tasks import route_and_escalate
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import item_needs
from relaydesk.workforce.models import Agent, Site
from relaydesk.workforce.queries import agent_profile
from tests.conftest import PASSWORD, World, login, make_agent
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


# --- push on arrival --------------------------------------------------------------------------


@pytest.fixture
def arrival(settings: Any) -> None:
    """Push on arrival switched on (it is off unless RELAYDESK_PUSH_ON_ARRIVAL says so)."""
    settings.RELAYDESK_PUSH_ON_ARRIVAL = True


def _owner(item: WorkItem) -> User | None:
    item.refresh_from_db()
    return item.owner


def test_an_item_goes_to_a_ready_agent_as_soon_as_its_submission_commits(
    desk: World, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    do_set_presence(desk.agent, "on-break", at=T0 - 20 * MIN)
    do_set_presence(desk.agent, "available", at=T0 - 10 * MIN)  # idle since then
    with django_capture_on_commit_callbacks(execute=True):
        item = queue(desk.member_a, desk.engagement_a, at=T0)
        # Inside the submitting transaction nothing is pushed yet.
        assert WorkItem.objects.get(pk=item.pk).state == State.QUEUED.value

    item.refresh_from_db()
    assert (item.state, item.owner) == (State.ASSIGNED.value, desk.other_agent)  # longest idle
    event = item.events.get(kind="assign")
    assert event.actor is None and event.at == T0
    assert event.note == "Assigned by routing on arrival to the longest-idle eligible agent."


def test_without_the_setting_items_wait_for_get_next_or_the_routing_run(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        item = queue(desk.member_a, desk.engagement_a, at=T0)
    assert _owner(item) is None and item.state == State.QUEUED.value


def test_arrival_push_keeps_every_rule(
    desk: World, crowd: dict[str, User], arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    # The other agent has been idle longest, but only the agent holds PIP certification.
    do_set_presence(desk.agent, "on-break", at=T0 - 20 * MIN)
    do_set_presence(desk.agent, "available", at=T0 - 10 * MIN)
    with django_capture_on_commit_callbacks(execute=True):
        bill = queue(
            desk.member_a,
            desk.engagement_pip,
            "document-processing",
            at=T0,
            title="FL PIP bill",
            jurisdiction="US-FL",
        )
    assert _owner(bill) == desk.agent

    # Fill every slot; the one on a break and the one off shift in Karachi get nothing.
    with django_capture_on_commit_callbacks(execute=True):
        batch = [queue(desk.member_b, desk.engagement_b, at=T0, title=f"B{n}") for n in range(8)]
    owners = [_owner(item) for item in batch]
    assert owners.count(None) == 8 - (2 + 3 + 1)
    assert {o for o in owners if o} == {desk.agent, desk.other_agent, crowd["one_slot"]}
    for agent in Agent.objects.all():
        assert WorkItem.objects.filter(owner=agent.user).count() <= agent.capacity


def test_a_released_item_goes_to_someone_else_and_the_releaser_gets_other_work(
    desk: World, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    first = queue(desk.member_a, desk.engagement_a, at=T0 - 2 * MIN, title="First")
    waiting = queue(desk.member_a, desk.engagement_a, at=T0 - MIN, title="Waiting")
    do_assign(desk.lead, first, desk.agent.agent, at=T0 - MIN)
    Agent.objects.filter(user=desk.other_agent).update(capacity=1)
    do_assign(desk.lead, waiting, desk.other_agent.agent, at=T0 - MIN)
    do_transition(desk.other_agent, waiting, Action.RELEASE, at=T0 - MIN // 2)
    Agent.objects.filter(user=desk.other_agent).update(capacity=3)
    assert _owner(waiting) is None  # released, with nobody pushing yet (no commit in tests)

    with django_capture_on_commit_callbacks(execute=True):
        do_transition(desk.agent, first, Action.RELEASE, at=T0)

    # The released item goes to the other agent, never straight back to who let it go;
    # the agent who let it go is free and gets the item that was waiting.
    assert _owner(first) == desk.other_agent
    assert _owner(waiting) == desk.agent


def test_an_agent_who_becomes_available_gets_the_waiting_items_up_to_capacity(
    world: World, manila: Site, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        items = [
            queue(world.member_a, world.engagement_a, at=T0 - (10 - n) * MIN, title=f"{n}")
            for n in range(5)
        ]
    assert all(_owner(item) is None for item in items)  # nobody was available

    with django_capture_on_commit_callbacks(execute=True):
        do_set_presence(world.agent, "available", at=T0)

    assert [_owner(item) for item in items] == [world.agent] * 3 + [None] * 2  # oldest first
    assert all(item.events.get(kind="assign").actor is None for item in items[:3])


def test_a_finished_item_frees_the_agent_for_the_next(
    desk: World, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    Agent.objects.update(capacity=1)
    first = queue(desk.member_a, desk.engagement_a, at=T0 - 3 * MIN, title="First")
    second = queue(desk.member_a, desk.engagement_a, at=T0 - 2 * MIN, title="Second")
    third = queue(desk.member_a, desk.engagement_a, at=T0 - MIN, title="Third")
    do_push_assign(at=T0 - MIN)
    assert _owner(third) is None
    holder = _owner(first)
    assert holder is not None and _owner(second) not in (None, holder)
    do_transition(holder, first, Action.START)

    with django_capture_on_commit_callbacks(execute=True):
        do_transition(holder, first, Action.COMPLETE)

    assert _owner(third) == holder


def test_a_client_submission_over_the_api_is_pushed_within_capacity(
    desk: World, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    # The agent's one slot is taken by another client's item the submitter cannot see.
    Agent.objects.filter(user=desk.agent).update(capacity=1)
    other = queue(desk.member_b, desk.engagement_b, at=T0 - MIN, title="Bravo work")
    do_assign(desk.lead, other, desk.agent.agent)
    do_set_presence(desk.other_agent, "offline")
    member = login(desk.member_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(
            "/api/v1/work-items",
            {"engagement_id": desk.engagement_a.pk, "service": "data-entry", "title": "Key it"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    item = WorkItem.objects.get(pk=response.json()["id"])
    assert (item.state, item.owner) == (State.QUEUED.value, None)  # no room anywhere

    do_set_presence(desk.other_agent, "available")
    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(
            "/api/v1/work-items",
            {"engagement_id": desk.engagement_a.pk, "service": "data-entry", "title": "Next"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    pushed = WorkItem.objects.get(pk=response.json()["id"])
    assert (pushed.state, pushed.owner) == (State.ASSIGNED.value, desk.other_agent)
    assert WorkItem.objects.filter(owner=desk.agent).count() == 1


def test_a_failing_push_is_logged_and_the_submission_stands(
    desk: World,
    arrival: None,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("routing is down")

    monkeypatch.setattr(routing_actions, "routing_agents", broken)
    with django_capture_on_commit_callbacks(execute=True):
        item = queue(desk.member_a, desk.engagement_a, at=T0)

    assert WorkItem.objects.get(pk=item.pk).state == State.QUEUED.value
    assert "Push on arrival failed after an item entered the queue" in caplog.text


def test_a_bulk_load_can_pause_push_on_arrival(
    desk: World, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    with push_on_arrival_paused(), django_capture_on_commit_callbacks(execute=True):
        item = queue(desk.member_a, desk.engagement_a, at=T0)
    assert _owner(item) is None


def test_an_item_a_lead_releases_goes_to_someone_else_and_frees_its_agent(
    desk: World, arrival: None, django_capture_on_commit_callbacks: Any
) -> None:
    # The agent has been idle longest, so only "never back to its agent" keeps it from them.
    do_set_presence(desk.other_agent, "on-break", at=T0 - 20 * MIN)
    do_set_presence(desk.other_agent, "available", at=T0 - 10 * MIN)
    item = queue(desk.member_a, desk.engagement_a, at=T0 - 2 * MIN)
    do_assign(desk.lead, item, desk.agent.agent, at=T0 - MIN)

    with django_capture_on_commit_callbacks(execute=True):
        do_transition(desk.lead, item, Action.RELEASE, at=T0)

    assert _owner(item) == desk.other_agent
    release = item.events.get(kind="release")
    assert release.data["previous_owner_id"] == desk.agent.pk
    assert AgentPresence.objects.get(agent__user=desk.agent).idle_since == T0
