"""Agents see items only while they hold them, and only where the client allows their country."""

from __future__ import annotations

import pytest

from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.errors import NotFound
from relaydesk.work.actions import do_add_comment, do_assign, do_transition
from relaydesk.work.queries import can_see_item, visible_work_items
from relaydesk.workforce.queries import visible_agents
from tests.conftest import World, login, submit


def test_an_agent_loses_sight_of_an_item_once_it_is_handed_on(world: World) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    assert visible_work_items(world.agent).filter(pk=item.pk).exists()
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert not visible_work_items(world.agent).filter(pk=item.pk).exists()
    assert not can_see_item(world.agent, item)
    assert login(world.agent).get(f"/items/{item.pk}/").status_code == 404
    page = login(world.agent).get("/workspace/").content.decode()
    assert item.title not in page and "completed 1 in the last 7 days" in page


def test_rework_brings_the_item_back_to_its_agent(world: World) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    do_transition(world.member_a, item, Action.REQUEST_REWORK, note="Page 2 is missing.")
    assert visible_work_items(world.agent).filter(pk=item.pk).exists()


def test_residency_is_enforced_on_reads_of_held_items(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)  # Manila agent; PH allowed
    world.engagement_a.allowed_countries = ["US"]  # the client narrows residency
    world.engagement_a.save()
    assert not visible_work_items(world.agent).filter(pk=item.pk).exists()
    with pytest.raises(NotFound):
        do_transition(world.agent, item, Action.START)
    with pytest.raises(NotFound):
        do_add_comment(world.agent, item, "still here?")


def test_only_those_who_run_the_workforce_see_the_roster(world: World) -> None:
    assert visible_agents(world.lead).count() == 2
    for user in (world.agent, world.qa, world.attorney, world.member_a):
        assert visible_agents(user).count() == 0
