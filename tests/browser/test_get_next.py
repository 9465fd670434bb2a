"""An agent says they are available and presses "Get next" in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from relaydesk.core.lifecycle import State
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Site
from tests.browser.test_walkthrough import sign_in
from tests.conftest import World, submit
from tests.routing.conftest import around_the_clock

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_catalog"),
]


def test_agent_becomes_available_presses_get_next_and_lands_on_the_item(
    browser: Any, live_server: Any, world: World, shots: Path
) -> None:
    # Given Manila on shift around the clock and two queued items, one of them urgent
    around_the_clock(Site.objects.get(code="mnl"))
    submit(world.member_a, world.engagement_a, title="Routine claim forms", priority=2)
    urgent = submit(world.member_a, world.engagement_a, title="Urgent claim forms", priority=4)

    # When the agent signs in, says they are available and presses Get next
    agent = sign_in(browser, live_server.url, world.agent.email)
    agent.goto(f"{live_server.url}/workspace/")
    assert agent.inner_text("#next-reason").startswith("You are offline")
    agent.click("button.seg-available")
    agent.wait_for_selector("button.seg-available.on")
    assert "On shift" in agent.inner_text("#shift-status")
    agent.screenshot(path=shots / "get-next-1-workspace.png", full_page=True)
    agent.click("#get-next")
    agent.wait_for_url(re.compile(rf"/items/{urgent.pk}/$"))

    # Then they are on the urgent item, which is theirs, and its timeline shows the take
    assert agent.inner_text("#item-state") == "Assigned"
    assert agent.is_visible(f"text=You took {urgent.reference}")
    assert agent.is_visible("text=Get next: the first item in routing order")
    agent.screenshot(path=shots / "get-next-2-item.png", full_page=True)
    urgent.refresh_from_db()
    assert (urgent.state, urgent.owner_id) == (State.ASSIGNED, world.agent.pk)
    assert WorkItem.objects.filter(state=State.QUEUED.value).count() == 1
