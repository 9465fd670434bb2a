"""Presence: available, on a break, offline — set by the agent, audited, and read by routing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import Action
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.routing.actions import do_claim_next, do_set_presence
from relaydesk.routing.models import AgentPresence
from relaydesk.work.actions import do_transition
from relaydesk.workforce.models import Site
from tests.conftest import World, login
from tests.routing.conftest import T0, queue


def test_setting_presence_is_recorded_once_per_change(world: World) -> None:
    row = do_set_presence(world.agent, "available", at=T0)
    assert (row.status, row.since, row.idle_since) == ("available", T0, T0)
    do_set_presence(world.agent, "available", at=T0 + dt.timedelta(minutes=5))
    do_set_presence(world.agent, "on-break", at=T0 + dt.timedelta(minutes=9))

    row = AgentPresence.objects.get(agent=world.agent.agent)
    assert (row.status, row.since, row.idle_since) == (
        "on-break",
        T0 + dt.timedelta(minutes=9),
        T0,
    )
    trail = AuditRecord.objects.filter(action="agent.presence").order_by("seq")
    assert [(r.detail["from"], r.detail["to"]) for r in trail] == [
        ("offline", "available"),
        ("available", "on-break"),
    ]
    assert all(r.actor_id == world.agent.pk and r.client_id is None for r in trail)


def test_only_agents_have_a_presence(world: World) -> None:
    with pytest.raises(NotAllowed, match="Only agents"):
        do_set_presence(world.lead, "available")
    with pytest.raises(Invalid, match="available, on-break, offline"):
        do_set_presence(world.agent, "asleep")
    assert not AgentPresence.objects.exists()


def test_presence_over_the_api(world: World, manila: Site) -> None:
    agent = login(world.agent)
    before = agent.get("/api/v1/agents/me/presence")
    assert before.status_code == 200
    assert before.json()["status"] == "offline"
    assert before.json()["can_take_work"] is False
    assert before.json()["reason"] == "You are offline: set yourself available to get work."

    changed = agent.put(
        "/api/v1/agents/me/presence", {"status": "available"}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["status"] == "available" and body["can_take_work"] is True
    assert (body["site"], body["load"], body["capacity"], body["reason"]) == ("Manila", 0, 3, "")

    wrong = agent.put(
        "/api/v1/agents/me/presence", {"status": "asleep"}, content_type="application/json"
    )
    assert wrong.status_code == 422
    for user in (world.member_a, world.lead):
        assert login(user).get("/api/v1/agents/me/presence").status_code == 403


def test_finishing_an_item_starts_the_idle_time_again(
    desk: World, django_capture_on_commit_callbacks
) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0 - dt.timedelta(minutes=1))
    do_claim_next(desk.agent, at=T0)
    do_transition(desk.agent, item, Action.START)
    finished = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(desk.agent, item, Action.COMPLETE)
    row = AgentPresence.objects.get(agent=desk.agent.agent)
    assert row.idle_since is not None and row.idle_since >= finished
