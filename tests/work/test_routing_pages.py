"""The routing pages: "Get next" and presence in the agent's workspace, and the item page's
routing section for those who may see how items are routed."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import State
from relaydesk.routing.actions import (
    do_claim_next,
    do_escalate,
    do_set_escalation_ladder,
    do_set_presence,
)
from relaydesk.routing.models import AgentPresence
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Site
from tests.conftest import World, login, submit
from tests.routing.conftest import around_the_clock, queue, shifts

HTMX = {"HX-Request": "true"}


def _manila_around_the_clock() -> Site:
    site = Site.objects.get(code="mnl")
    around_the_clock(site)
    return site


def _pip_bill(world: World, *, minutes_ago: int = 0) -> WorkItem:
    """A Florida PIP bill: only someone certified for US-FL may take it."""
    return queue(
        world.member_a,
        world.engagement_pip,
        "document-processing",
        at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        title="FL PIP bill – claimant R. Vance",
        jurisdiction="US-FL",
    )


def test_an_available_agent_on_shift_presses_get_next_and_lands_on_the_most_urgent_item(
    world: World,
) -> None:
    # Given an agent on shift and available, and two items queued for them
    _manila_around_the_clock()
    do_set_presence(world.agent, "available")
    routine = submit(world.member_a, world.engagement_a, title="Routine claim forms", priority=2)
    urgent = submit(world.member_a, world.engagement_a, title="Urgent claim forms", priority=4)
    agent = login(world.agent)
    page = agent.get("/workspace/").content.decode()
    assert 'id="get-next"' in page and "On shift" in page

    # When they press Get next
    response = agent.post("/workspace/next/")

    # Then they hold the urgent item and are taken to it, and its timeline shows the take
    assert response.status_code == 302
    assert response["Location"] == f"/items/{urgent.pk}/"
    urgent.refresh_from_db()
    routine.refresh_from_db()
    assert (urgent.state, urgent.owner_id) == (State.ASSIGNED, world.agent.pk)
    assert routine.state == State.QUEUED
    item_page = agent.get(response["Location"]).content.decode()
    assert f"You took {urgent.reference}" in item_page
    assert "Taken" in item_page
    assert "Get next: the first item in routing order this agent may take." in item_page


def test_get_next_from_htmx_redirects_the_browser_to_the_item(world: World) -> None:
    _manila_around_the_clock()
    do_set_presence(world.agent, "available")
    item = submit(world.member_a, world.engagement_a)

    response = login(world.agent).post("/workspace/next/", headers=HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/items/{item.pk}/"


def test_an_off_shift_agent_is_told_when_their_shift_starts_and_takes_nothing(
    world: World,
) -> None:
    # Given Manila works only on the day after tomorrow (local), and the agent is available
    manila = Site.objects.get(code="mnl")
    local_today = timezone.now().astimezone(zoneinfo.ZoneInfo("Asia/Manila")).date()
    shift_day = local_today + dt.timedelta(days=2)
    shifts(manila, [(shift_day.weekday(), dt.time(9), dt.time(17))])
    do_set_presence(world.agent, "available")
    item = submit(world.member_a, world.engagement_a)
    agent = login(world.agent)
    assert "Off shift · next starts" in agent.get("/workspace/").content.decode()

    # When they press Get next (the page asks for the desk panel only)
    panel = agent.post("/workspace/next/", headers=HTMX)

    # Then they read why nothing came, with when their shift starts in Manila's time
    body = panel.content.decode()
    assert panel.status_code == 200
    assert "Nothing for you right now." in body
    assert "You are off shift: it is" in body
    assert f"your next shift there starts {shift_day:%a %d %b} 09:00 local time." in body
    assert "<html" not in body  # only the panel is swapped in
    # And without HTMX the same sentence comes back on the workspace
    followed = agent.post("/workspace/next/", follow=True)
    assert followed.redirect_chain[-1][0] == "/workspace/"
    assert "You are off shift" in followed.content.decode()
    item.refresh_from_db()
    assert (item.state, item.owner_id) == (State.QUEUED, None)


def test_an_agent_on_a_break_is_told_to_become_available(world: World) -> None:
    _manila_around_the_clock()
    do_set_presence(world.agent, "on-break")
    submit(world.member_a, world.engagement_a)

    body = login(world.agent).post("/workspace/next/", headers=HTMX).content.decode()

    assert "You are on a break: set yourself available to get work." in body


def test_an_agent_with_nothing_matching_is_told_why(world: World) -> None:
    # The other agent holds no PIP certification: the only queued item is not for them.
    _manila_around_the_clock()
    do_set_presence(world.other_agent, "available")
    _pip_bill(world)

    body = login(world.other_agent).post("/workspace/next/", headers=HTMX).content.decode()

    assert "Nothing in the queue matches your skills, certifications and languages" in body
    assert "1 need a certification you lack" in body
    assert "FL PIP bill" not in body  # the sentence never names an item


def test_presence_changes_stick_and_are_audited(world: World) -> None:
    _manila_around_the_clock()
    agent = login(world.agent)
    before = agent.get("/workspace/").content.decode()
    assert 'value="offline" class="seg seg-offline on" aria-pressed="true"' in before
    assert "You are offline: set yourself available to get work." in before

    # When the agent says they are available (HTMX swaps the desk panel)
    panel = agent.post("/workspace/presence/", {"status": "available"}, headers=HTMX)
    assert 'value="available" class="seg seg-available on"' in panel.content.decode()
    # And then goes on a break with a plain form post
    response = agent.post("/workspace/presence/", {"status": "on-break"})

    # Then the workspace shows the break after a reload, and both changes are on the trail
    assert response.status_code == 302 and response["Location"] == "/workspace/"
    page = agent.get("/workspace/").content.decode()
    assert 'value="on-break" class="seg seg-on-break on" aria-pressed="true"' in page
    assert "You are on a break" in page
    assert AgentPresence.objects.get(agent=world.agent.agent).status == "on-break"
    trail = AuditRecord.objects.filter(action="agent.presence").order_by("seq")
    assert [(r.actor_id, r.detail["from"], r.detail["to"]) for r in trail] == [
        (world.agent.pk, "offline", "available"),
        (world.agent.pk, "available", "on-break"),
    ]


def test_an_unknown_presence_is_refused_and_changes_nothing(world: World) -> None:
    agent = login(world.agent)

    followed = agent.post("/workspace/presence/", {"status": "asleep"}, follow=True)

    assert "Presence is one of: available, on-break, offline." in followed.content.decode()
    assert not AgentPresence.objects.exists()
    assert not AuditRecord.objects.filter(action="agent.presence").exists()


def test_only_agents_get_next_or_set_a_presence(world: World) -> None:
    for user in (world.lead, world.member_a, world.qa):
        browser = login(user)
        assert browser.post("/workspace/next/").status_code == 403
        assert browser.post("/workspace/presence/", {"status": "available"}).status_code == 403
    assert login(world.agent).get("/workspace/next/").status_code == 405
    assert not AgentPresence.objects.exists()


def test_the_ops_lead_sees_who_may_take_a_queued_item_and_why_not_the_others(
    world: World,
) -> None:
    # Given a PIP bill waiting 31 minutes on a ladder that widens after 30, the certified
    # agent available, and the other agent without a PIP certification
    _manila_around_the_clock()
    do_set_presence(world.agent, "available")
    bill = _pip_bill(world, minutes_ago=31)
    do_set_escalation_ladder(
        world.lead, world.engagement_pip, widen_after_minutes=30, alert_after_minutes=60
    )
    do_escalate()

    # When the operations lead opens the item
    body = login(world.lead).get(f"/items/{bill.pk}/").content.decode()

    # Then the routing section names who may take it, who may not and why, and the ladder
    assert 'id="routing"' in body
    assert "1 of 2 agents may take it now." in body
    eligible = body.split('id="routing-eligible"')[1].split("</ul>")[0]
    assert "Agent" in eligible and "Manila" in eligible and "holds 0 of 3" in eligible
    excluded = body.split('id="routing-excluded"')[1].split("<h3>Escalation")[0]
    assert "Without a valid certification" in excluded
    assert "Other" in excluded and "No valid pip-no-fault certification" in excluded
    steps = body.split('id="routing-steps"')[1].split("</ol>")[0]
    assert "Step 1" in steps and "skill minimums one level lower" in steps
    # And the provider admin sees the same section
    assert 'id="routing"' in login(world.admin).get(f"/items/{bill.pk}/").content.decode()


def test_a_stuck_item_says_why_in_one_line(world: World) -> None:
    # Nobody is available: both agents are offline.
    _manila_around_the_clock()
    bill = _pip_bill(world)

    body = login(world.lead).get(f"/items/{bill.pk}/").content.decode()

    assert (
        "Stuck: none of the 2 agents may take it now — 1 without a valid certification, "
        "1 on a break or offline." in body
    )
    assert "routing-summary stuck" in body
    assert "On a break or offline" in body


def test_the_lead_sees_how_the_owner_got_a_held_item(world: World) -> None:
    _manila_around_the_clock()
    do_set_presence(world.agent, "available")
    item = submit(world.member_a, world.engagement_a)
    assert do_claim_next(world.agent).item == item

    body = login(world.lead).get(f"/items/{item.pk}/").content.decode()

    routing = body.split('id="routing"')[1].split("</section>")[0]
    assert "Agent took it" in routing
    assert "Get next: the first item in routing order" in routing


def test_clients_and_agents_never_see_the_routing_section(world: World) -> None:
    _manila_around_the_clock()
    do_set_presence(world.agent, "available")
    bill = _pip_bill(world)

    for user in (world.client_admin_a, world.member_a, world.agent):
        response = login(user).get(f"/items/{bill.pk}/")
        body = response.content.decode()
        assert response.status_code == 200, user.email
        assert 'id="routing"' not in body, user.email
        assert "may take it now" not in body, user.email
        assert "Other" not in body, user.email  # the other agent's name
