"""The item page's Assign list: agents as routing sees them now, with what rules them out.

What the item demands and capacity rule an agent out (``do_assign`` refuses
them, so the option is disabled). Shift and presence only warn: a lead may
still give an off-shift or absent agent the item, for when they are back.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.core.lifecycle import State
from relaydesk.core.roles import Role
from relaydesk.routing.actions import do_set_presence
from relaydesk.work.actions import do_assign
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import ShiftException, ShiftPattern, Site
from tests.conftest import PASSWORD, World, login, make_agent, submit

SKILLS = {"data-entry": 4, "legal-document-review": 4, "legal-drafting": 4}


def around_the_clock(site: Site) -> None:
    ShiftPattern.objects.bulk_create(
        ShiftPattern(
            site=site, name="All day", weekday=day, starts_at=dt.time(0), ends_at=dt.time(0)
        )
        for day in range(7)
    )


def _agent(
    email: str, site: Site, code: str, *, skills: dict[str, int] = SKILLS, **fields: object
) -> User:
    user = do_create_user(
        None,
        email=email,
        full_name=email.split("@")[0].title(),
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="UTC",
    )
    make_agent(user, site, code=code, skills=skills, languages=["en"], **fields)  # type: ignore[arg-type]
    do_set_presence(user, "available")
    return user


@pytest.fixture
def floor(world: World) -> dict[str, User]:
    """Agents in every situation the list tells apart."""
    manila = Site.objects.get(code="mnl")
    around_the_clock(manila)
    cebu = Site.objects.create(code="ceb", name="Cebu", country="PH", time_zone="Asia/Manila")
    davao = Site.objects.create(code="dvo", name="Davao", country="PH", time_zone="Asia/Manila")
    around_the_clock(davao)
    ShiftException.objects.create(
        site=davao,
        kind="holiday",
        name="Araw ng Dabaw",
        day=timezone.now().astimezone(ZoneInfo("Asia/Manila")).date(),
    )
    do_set_presence(world.agent, "available")
    do_set_presence(world.other_agent, "on-break")
    full = _agent("full@provider.test", manila, "M-020", capacity=1)
    people = {
        "ready": world.agent,
        "on_break": world.other_agent,
        "off_shift": _agent("nights@provider.test", cebu, "C-001"),  # Cebu has no shifts
        "holiday": _agent("davao@provider.test", davao, "D-001"),
        "full": full,
        "unskilled": _agent("novice@provider.test", manila, "M-021", skills={"data-entry": 1}),
    }
    held = submit(world.member_b, world.engagement_b, title="Bravo keying")
    do_assign(world.lead, held, full.agent)
    return people


def options(page: str) -> dict[str, tuple[bool, str]]:
    """The Assign list: agent name -> (disabled, what follows the name)."""
    select = page[page.index('<select name="agent"') : page.index("</select>")]
    found = {}
    for attrs, text in re.findall(r'<option value="\d+"([^>]*)>([^<]*)</option>', select):
        name, _, rest = html.unescape(text).partition(" · ")
        found[name] = ("disabled" in attrs, rest)
    return found


def test_the_list_shows_shift_presence_and_capacity_as_routing_does(
    world: World, floor: dict[str, User]
) -> None:
    item = submit(world.member_a, world.engagement_a, title="Key claim forms")

    page = login(world.lead).get(f"/items/{item.pk}/").content.decode()
    listed = options(page)

    assert listed["Agent"] == (False, "Manila · 0/3")  # ready: no remark
    assert listed["Other"] == (False, "Manila · 0/3 — on a break")
    disabled, rest = listed["Nights"]
    assert not disabled and re.fullmatch(r"Cebu · 0/3 — off shift \(Cebu \d\d:\d\d\)", rest)
    assert listed["Davao"] == (False, "Davao · 0/3 — off shift (holiday at Davao: Araw ng Dabaw)")
    assert listed["Full"] == (True, "Manila · 1/1 — at capacity 1/1")
    disabled, rest = listed["Novice"]
    assert disabled and "needs data-entry at" in rest
    # Ready agents first, then those routing would not give work now, then those ruled out.
    assert list(listed)[:1] == ["Agent"]
    assert set(list(listed)[1:4]) == {"Other", "Nights", "Davao"}
    assert set(list(listed)[4:]) == {"Full", "Novice"}


def test_a_lead_may_still_assign_an_off_shift_agent_but_not_one_at_capacity(
    world: World, floor: dict[str, User]
) -> None:
    item = submit(world.member_a, world.engagement_a, title="For the morning")
    lead = login(world.lead)

    refused = lead.post(f"/items/{item.pk}/assign/", {"agent": floor["full"].agent.pk})
    assert refused.status_code == 409
    assert "already holds 1 of 1 items" in refused.content.decode()

    given = lead.post(f"/items/{item.pk}/assign/", {"agent": floor["off_shift"].agent.pk})
    assert given.status_code == 302
    item = WorkItem.objects.get(pk=item.pk)
    assert (item.state, item.owner) == (State.ASSIGNED.value, floor["off_shift"])


def test_the_list_stays_for_leads_only(world: World, floor: dict[str, User]) -> None:
    item = submit(world.member_a, world.engagement_a)
    for user in (world.agent, world.member_a, world.qa):
        assert 'name="agent"' not in login(user).get(f"/items/{item.pk}/").content.decode()
