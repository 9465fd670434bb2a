"""Explain: who may take an item and why not the others; why an agent has what they have."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from relaydesk.errors import NotAllowed
from relaydesk.routing.actions import (
    do_claim_next,
    do_escalate,
    do_push_assign,
    do_set_escalation_ladder,
    do_set_presence,
)
from relaydesk.routing.queries import explain_item, why_assigned
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Site
from tests.conftest import World, login
from tests.routing.conftest import T0, queue

MIN = dt.timedelta(minutes=1)


def _pip_bill(world: World, at: dt.datetime = T0) -> WorkItem:
    return queue(
        world.member_a,
        world.engagement_pip,
        "document-processing",
        at=at,
        title="FL PIP bill",
        jurisdiction="US-FL",
    )


def test_the_routing_api_names_who_may_take_the_item_and_why_not_the_others(
    desk: World,
) -> None:
    queued = timezone.now().replace(microsecond=0) - 31 * MIN
    bill = _pip_bill(desk, at=queued)
    do_set_escalation_ladder(
        desk.lead, desk.engagement_pip, widen_after_minutes=30, alert_after_minutes=60
    )
    do_escalate()

    response = login(desk.lead).get(f"/api/v1/work-items/{bill.pk}/routing")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reference"] == bill.reference and body["state"] == "queued"
    assert [(v["name"], v["site"]) for v in body["eligible"]] == [("Agent", "Manila")]
    assert body["excluded"] == [
        {
            "agent_id": desk.other_agent.agent.pk,
            "name": "Other",
            "site": "Manila",
            "eligible": False,
            "rule": "certification",
            "reason": "no valid pip-no-fault certification for US-FL",
        }
    ]
    assert body["excluded_by"] == {"certification": 1}
    assert body["summary"] == "1 of 2 agents may take it now"
    assert body["needs"]["certification"] == "pip-no-fault"
    assert body["needs"]["skills"] == {"legal-document-review": 2}  # widened from 3
    assert body["needs"]["clearance"] == "phi"
    assert [s["level"] for s in body["escalation"]] == [1]
    assert dt.datetime.fromisoformat(body["queued_since"]) == queued
    assert dt.datetime.fromisoformat(body["next_step_at"]) == queued + 60 * MIN


def test_the_explanation_gives_each_agent_the_first_rule_against_them(desk: World) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0)
    karachi = Site.objects.create(
        code="khi", name="Karachi", country="PK", time_zone="Asia/Karachi"
    )
    other = desk.other_agent.agent
    other.site = karachi
    other.save()
    do_set_presence(desk.agent, "on-break", at=T0)

    explained = explain_item(desk.lead, item, at=T0 + MIN)

    rules = {v.name: (v.rule, v.reason) for v in explained.verdicts}
    # Claims support may be delivered from PH and US only: residency comes before shift.
    assert rules == {
        "Agent": ("presence", "is on a break"),
        "Other": ("residency", "works from PK; the client allows only PH, US"),
    }
    assert explained.summary == "no agent may take it now; excluded by residency 1, presence 1"


def test_clients_agents_and_reviewers_may_not_see_routing(desk: World) -> None:
    bill = _pip_bill(desk)
    url = f"/api/v1/work-items/{bill.pk}/routing"
    # The client and the certified agent may see the item, but not who else could work it.
    for user in (desk.client_admin_a, desk.member_a, desk.agent):
        response = login(user).get(url)
        assert response.status_code == 403, user.email
        assert response.json() == {"detail": "Your role cannot see how items are routed."}
    # Those who may not see the item at all learn nothing more than for a missing one.
    for user in (desk.client_admin_b, desk.qa, desk.other_agent):
        assert login(user).get(url).status_code == 404
    assert login(desk.admin).get(url).status_code == 200


def test_why_an_agent_has_what_they_have(desk: World) -> None:
    taken = queue(desk.member_a, desk.engagement_a, at=T0, title="Taken by the agent")
    pushed = queue(desk.member_a, desk.engagement_a, at=T0 + MIN, title="Pushed")
    do_claim_next(desk.agent, at=T0 + 2 * MIN)
    do_set_presence(desk.other_agent, "offline", at=T0 + 2 * MIN)
    do_push_assign(at=T0 + 3 * MIN)
    waiting = _pip_bill(desk, at=T0 + 4 * MIN)

    answer = why_assigned(desk.agent, desk.agent.agent, at=T0 + 5 * MIN)

    assert [(h.item, h.how) for h in answer.held] == [(taken, "take"), (pushed, "assign")]
    assert answer.held[0].note.startswith("Get next")
    assert answer.held[1].note == "Assigned by routing to the longest-idle eligible agent."
    assert answer.next_item == waiting and answer.refusal == ""
    assert answer.summary == f"gets item {waiting.pk}, the first in routing order they may take"

    other = why_assigned(desk.lead, desk.other_agent.agent, at=T0 + 5 * MIN)
    assert other.refusal == "You are offline: set yourself available to get work."
    assert other.next_item is None and other.held == ()
    with pytest.raises(NotAllowed):
        why_assigned(desk.other_agent, desk.agent.agent)
