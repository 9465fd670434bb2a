"""At the end of a Manila shift an agent hands an item to Pune, where it is acknowledged."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from relaydesk.accounts.actions import do_create_user
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.routing.models import Handoff, HandoffState
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.workforce.models import (
    ShiftException,
    ShiftExceptionKind,
    Site,
)
from tests.browser.test_walkthrough import sign_in
from tests.conftest import PASSWORD, World, make_agent, submit
from tests.routing.conftest import around_the_clock

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_catalog"),
]

SKILLS = {"legal-document-review": 4, "legal-drafting": 4, "data-entry": 4}


def test_a_manila_agent_hands_off_at_shift_end_and_a_pune_agent_acknowledges(
    browser: Any, live_server: Any, world: World, shots: Path
) -> None:
    # Given a Manila agent whose shift ends in 20 minutes, holding an item in progress,
    now = timezone.now()
    manila = Site.objects.get(code="mnl")
    ShiftException.objects.create(
        site=manila,
        kind=ShiftExceptionKind.OVERTIME,
        name="Day shift",
        agent=world.agent.agent,
        starts_at=now - dt.timedelta(hours=8),
        ends_at=now + dt.timedelta(minutes=20),
    )
    # and Pune, which works around the clock, with an agent of the next shift
    pune = Site.objects.create(code="pnq", name="Pune", country="IN", time_zone="Asia/Kolkata")
    around_the_clock(pune)
    priya = do_create_user(
        None,
        email="priya@provider.test",
        full_name="Priya Nair",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="Asia/Kolkata",
    )
    make_agent(priya, pune, code="P-001", skills=SKILLS, languages=["en"])
    engagement = Engagement.objects.create(
        client=world.client_a,
        name="Follow-the-sun intake",
        time_zone="America/New_York",
        allowed_countries=["PH", "IN"],
        starts_on=dt.date(2026, 1, 1),
    )
    engagement.services.set(Service.objects.filter(slug="data-entry"))
    item = submit(world.member_a, engagement, title="Key 40 PIP claim forms")
    do_assign(world.agent, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    base = live_server.url

    # When the Manila agent opens the workspace, they are asked to hand off, and do
    maria = sign_in(browser, base, world.agent.email)
    maria.goto(f"{base}/workspace/")
    heading = maria.inner_text("#shift-end")
    assert re.match(
        r"Your shift ends at \d\d:\d\d \(in (19|20) min\) — hand off your 1 item$", heading
    )
    maria.screenshot(path=shots / "handoff-1-shift-ends.png", full_page=True)
    note = "Keyed 30 of 40 forms. The last 10 are in tray B; two are hard to read, ask the client."
    maria.fill(f"#note-{item.pk}", note)
    maria.click(f"#hand-off-{item.pk} button[type=submit]")
    maria.wait_for_selector("text=handed to Priya Nair (Pune)")
    assert not maria.is_visible("#shift-end")
    maria.screenshot(path=shots / "handoff-2-handed-off.png", full_page=True)

    # Then the Pune agent sees it with the note, and acknowledges it
    pune_agent = sign_in(browser, base, priya.email)
    pune_agent.goto(f"{base}/workspace/")
    handoff = Handoff.objects.get(item=item)
    card = pune_agent.inner_text(f"#handoff-{handoff.pk}")
    assert note in card and "From Agent (Manila)" in card
    pune_agent.screenshot(path=shots / "handoff-3-pending-acknowledgement.png", full_page=True)
    pune_agent.click(f"#handoff-{handoff.pk} button:has-text('Acknowledge')")
    pune_agent.wait_for_url(re.compile(rf"/items/{item.pk}/$"))

    # And the item is theirs, and its page shows the relay
    assert pune_agent.is_visible(f"text=You now hold {item.reference}")
    timeline = pune_agent.inner_text("ol.timeline >> nth=-1")
    assert "Handed off" in timeline and note in timeline and "to Priya Nair" in timeline
    assert "Handoff acknowledged" in timeline and "Priya Nair took over from Agent." in timeline
    pune_agent.screenshot(path=shots / "handoff-4-item-relay.png", full_page=True)
    handoff.refresh_from_db()
    item.refresh_from_db()
    assert handoff.state == HandoffState.ACKNOWLEDGED
    assert (item.state, item.owner) == (State.ASSIGNED.value, priya)
