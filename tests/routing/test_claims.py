""" "Get next": the best eligible item, or a reason an agent can read."""

from __future__ import annotations

import datetime as dt

from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import State
from relaydesk.routing.actions import do_claim_next, do_set_presence
from relaydesk.routing.models import AgentPresence
from relaydesk.work.actions import do_assign
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import AgentSkill, ShiftPattern, Site
from tests.conftest import World, login
from tests.routing.conftest import T0, queue, shifts

MIN = dt.timedelta(minutes=1)


def test_get_next_gives_items_by_priority_then_due_time_then_age(desk: World) -> None:
    w = desk
    low_old = queue(w.member_a, w.engagement_a, at=T0 - 50 * MIN, title="low", priority=1)
    normal_old = queue(w.member_a, w.engagement_a, at=T0 - 40 * MIN, title="normal old")
    normal_new = queue(w.member_a, w.engagement_a, at=T0 - 30 * MIN, title="normal new")
    due_late = queue(
        w.member_a, w.engagement_a, at=T0 - 20 * MIN, title="due late", due_at=T0 + 300 * MIN
    )
    due_soon = queue(
        w.member_b,
        w.engagement_b,
        at=T0 - 10 * MIN,
        title="due soon",
        due_at=T0 + 60 * MIN,
    )
    urgent = queue(w.member_a, w.engagement_a, at=T0 - 5 * MIN, title="urgent", priority=4)
    w.agent.agent.capacity = 10
    w.agent.agent.save()

    taken = [do_claim_next(w.agent, at=T0 + n * MIN).item for n in range(6)]

    assert taken == [urgent, due_soon, due_late, normal_old, normal_new, low_old]
    for item in taken:
        assert item is not None
        item.refresh_from_db()
        assert (item.state, item.owner_id) == (State.ASSIGNED.value, w.agent.pk)
        event = item.events.get(kind="take")
        assert event.actor == w.agent and event.internal
        assert event.note.startswith("Get next")
    assert AuditRecord.objects.filter(action="work_item.take").count() == 6


def test_the_claim_says_why_it_was_this_item(desk: World) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    claim = do_claim_next(desk.agent, at=T0)
    assert claim.item == item and claim.rule == ""
    assert claim.reason == (
        f"{item.reference} is the first item in routing order (priority, due time, age) "
        "that you may take."
    )


def test_an_agent_off_shift_gets_nothing_and_is_told_when_the_shift_starts(world: World) -> None:
    manila = Site.objects.get(code="mnl")
    # Monday to Friday, 09:00 to 17:00 Manila time (01:00 to 09:00 UTC).
    shifts(manila, [(day, dt.time(9), dt.time(17)) for day in range(5)])
    do_set_presence(world.agent, "available", at=T0 - 60 * MIN)
    item = queue(world.member_a, world.engagement_a, at=T0 - 60 * MIN)
    evening = T0 + dt.timedelta(hours=10)  # Tuesday 19:00 in Manila

    claim = do_claim_next(world.agent, at=evening)

    assert claim.item is None and claim.rule == "shift"
    assert claim.reason == (
        "You are off shift: it is Tue 19:00 at Manila; your next shift there starts "
        "Wed 04 Mar 09:00 local time."
    )
    item.refresh_from_db()
    assert item.state == State.QUEUED.value and item.owner_id is None
    # Early the same morning the shift is later that day.
    early = dt.datetime(2026, 3, 3, 22, 30, tzinfo=dt.UTC)  # Wed 06:30 in Manila
    assert (
        "your next shift there starts 09:00 local time."
        in do_claim_next(world.agent, at=early).reason
    )
    assert do_claim_next(world.agent, at=T0 + 30 * MIN).item == item


def test_a_site_without_shifts_takes_no_work(world: World) -> None:
    do_set_presence(world.agent, "available", at=T0 - MIN)
    queue(world.member_a, world.engagement_a, at=T0 - MIN)
    claim = do_claim_next(world.agent, at=T0)
    assert claim.rule == "shift"
    assert claim.reason.endswith("and no shift is set up there for the coming week.")


def test_agents_on_a_break_or_offline_get_nothing(desk: World) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    do_set_presence(desk.agent, "on-break", at=T0)
    claim = do_claim_next(desk.agent, at=T0 + MIN)
    assert (claim.item, claim.rule) == (None, "presence")
    assert claim.reason == "You are on a break: set yourself available to get work."

    do_set_presence(desk.agent, "offline", at=T0 + 2 * MIN)
    assert do_claim_next(desk.agent, at=T0 + 3 * MIN).reason == (
        "You are offline: set yourself available to get work."
    )
    item.refresh_from_db()
    assert item.state == State.QUEUED.value


def test_an_agent_who_never_said_they_are_available_is_offline(world: World, manila: Site) -> None:
    queue(world.member_a, world.engagement_a, at=T0 - MIN)
    assert do_claim_next(world.agent, at=T0).rule == "presence"
    assert not AgentPresence.objects.exists()


def test_an_agent_at_capacity_gets_nothing(desk: World) -> None:
    for n in range(4):
        queue(desk.member_a, desk.engagement_a, at=T0 - (10 - n) * MIN, title=f"batch {n}")
    got = [do_claim_next(desk.agent, at=T0 + n * MIN) for n in range(4)]
    assert [c.item is not None for c in got] == [True, True, True, False]
    assert got[3].rule == "capacity"
    assert got[3].reason == (
        "You already hold 3 of your 3 items: finish or release one to get another."
    )
    assert WorkItem.objects.filter(owner=desk.agent).count() == 3
    assert WorkItem.objects.filter(state=State.QUEUED.value).count() == 1


def test_nothing_in_the_queue_for_the_agent_is_explained_by_rule(desk: World) -> None:
    assert do_claim_next(desk.agent, at=T0).reason == "The queue is empty."
    # Florida PIP bills need the PIP certification for US-FL; the other agent has none.
    for n in range(2):
        queue(
            desk.member_a,
            desk.engagement_pip,
            "document-processing",
            at=T0 - MIN,
            title=f"FL PIP bill {n}",
            jurisdiction="US-FL",
        )
    queue(desk.member_a, desk.engagement_a, "legal-drafting", at=T0 - MIN, title="Draft")
    AgentSkill.objects.filter(agent=desk.other_agent.agent, skill__slug="legal-drafting").update(
        proficiency=2
    )

    claim = do_claim_next(desk.other_agent, at=T0)

    assert (claim.item, claim.rule) == (None, "no-match")
    assert claim.reason == (
        "Nothing in the queue matches your skills, certifications and languages: of the 3 "
        "queued items, 2 need a certification you lack, 1 need a skill level you lack."
    )
    # The certified agent gets the bills.
    assert do_claim_next(desk.agent, at=T0).item is not None


def test_two_agents_never_get_the_same_item(desk: World) -> None:
    first = queue(desk.member_a, desk.engagement_a, at=T0 - 2 * MIN, title="first")
    second = queue(desk.member_a, desk.engagement_a, at=T0 - MIN, title="second")
    assert do_claim_next(desk.agent, at=T0).item == first
    assert do_claim_next(desk.other_agent, at=T0).item == second
    assert do_claim_next(desk.other_agent, at=T0).rule == "empty"


def test_items_a_lead_assigned_meanwhile_are_not_claimed(desk: World) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    do_assign(desk.lead, item, desk.other_agent.agent)
    assert do_claim_next(desk.agent, at=T0).rule == "empty"


def test_getting_work_restarts_the_agents_idle_time(desk: World) -> None:
    queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    do_claim_next(desk.agent, at=T0 + 5 * MIN)
    presence = AgentPresence.objects.get(agent=desk.agent.agent)
    assert presence.idle_since == T0 + 5 * MIN


def test_get_next_over_the_api(desk: World) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    agent = login(desk.agent)

    taken = agent.post("/api/v1/agents/me/next")
    assert taken.status_code == 200, taken.content
    body = taken.json()
    assert body["item"]["id"] == item.pk and body["item"]["state"] == "assigned"
    assert body["item"]["owner"]["id"] == desk.agent.pk
    assert body["reason"].startswith(item.reference)

    nothing = agent.post("/api/v1/agents/me/next")
    assert nothing.status_code == 409
    assert nothing.json() == {"detail": "The queue is empty.", "rule": "empty"}


def test_only_agents_get_next(desk: World) -> None:
    queue(desk.member_a, desk.engagement_a, at=T0 - MIN)
    for user in (desk.member_a, desk.lead, desk.qa):
        response = login(user).post("/api/v1/agents/me/next")
        assert response.status_code == 403
        assert response.json()["detail"] == "Only agents take work with Get next."
    assert WorkItem.objects.filter(state=State.QUEUED.value).count() == 1


def test_a_shift_change_is_read_from_the_site_patterns(world: World) -> None:
    # Removing the shift takes effect for the next claim: nothing is cached between calls.
    manila = Site.objects.get(code="mnl")
    shifts(manila, [(1, dt.time(8), dt.time(18))])  # Tuesdays only
    do_set_presence(world.agent, "available", at=T0 - MIN)
    queue(world.member_a, world.engagement_a, at=T0 - MIN)
    ShiftPattern.objects.filter(site=manila).delete()
    assert do_claim_next(world.agent, at=T0).rule == "shift"


def test_a_claim_takes_few_statements_and_writes_the_audit_record_last(desk: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(2):
        queue(desk.member_a, desk.engagement_a, at=T0 - (5 - n) * MIN, title=f"form {n}")
    do_claim_next(desk.agent, at=T0)  # the first claim also builds the agent's queue filter

    with CaptureQueriesContext(connection) as statements:
        claim = do_claim_next(desk.agent, at=T0 + MIN)

    assert claim.item is not None
    sql = [q["sql"] for q in statements.captured_queries]
    listing = "\n".join(s[:120] for s in sql)
    # 19 on SQLite; PostgreSQL adds reading the row-security scope (twice) and the
    # chain's advisory lock. A rise here is a regression in the claim's cost.
    assert len(sql) <= (22 if connection.vendor == "postgresql" else 19), listing
    # The audit chain is serialised from its head read to the commit: the record is
    # the transaction's last write, so that lock is held for as little as possible.
    head = next(n for n, s in enumerate(sql) if s.startswith('SELECT "audit_auditrecord"'))
    assert len(sql) - head == 2 and sql[-1].startswith('INSERT INTO "audit_auditrecord"'), listing
    if connection.vendor == "postgresql":
        assert "pg_advisory_xact_lock" in sql[head - 1], listing
