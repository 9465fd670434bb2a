"""The operations board: what a lead checks at a glance, refreshed by polling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from relaydesk.catalog.models import Service
from relaydesk.core.eligibility import Presence
from relaydesk.core.lifecycle import Action, State
from relaydesk.errors import NotAllowed
from relaydesk.routing.actions import do_set_presence
from relaydesk.routing.models import Handoff
from relaydesk.routing.queries import operations_board
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Site
from tests.conftest import World, login
from tests.routing.conftest import queue, shifts

HOUR = dt.timedelta(hours=1)


def _now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def test_a_queued_item_raises_its_services_depth_and_oldest_wait(
    world: World, manila: Site
) -> None:
    now = _now()
    older = queue(world.member_a, world.engagement_a, "data-entry", at=now - 3 * HOUR)
    queue(world.member_a, world.engagement_a, "data-entry", at=now - HOUR)
    queue(world.member_b, world.engagement_b, "customer-support", at=now - 2 * HOUR)

    board = operations_board(world.lead, at=now)

    rows = {row.service.slug: row for row in board.services}
    assert rows["data-entry"].queue.depth == 2
    assert rows["data-entry"].queue.oldest == older.created_at == now - 3 * HOUR
    assert rows["customer-support"].queue.depth == 1
    assert rows["data-entry"].site_names == ("Manila",)
    assert board.queue.depth == 3
    assert [s.queue.depth for s in board.sites if s.site.code == "mnl"] == [3]
    # The deepest queue comes first, and the page says how long the oldest has waited.
    assert board.services[0].service.slug == "data-entry"
    page = login(world.lead).get("/ops/board/").content.decode()
    assert 'data-service="data-entry"' in page
    assert "oldest 3 h<" in page


def test_a_site_outside_the_engagements_countries_is_not_open_to_its_queue(
    world: World, manila: Site
) -> None:
    Site.objects.create(code="pnq", name="Pune", country="IN", time_zone="Asia/Kolkata")
    queue(world.member_b, world.engagement_b, "customer-support", at=_now() - HOUR)

    board = operations_board(world.lead)

    depth = {s.site.code: s.queue.depth for s in board.sites}
    assert depth == {"mnl": 1, "pnq": 0}


def test_an_agent_on_shift_appears_under_their_site_with_their_load(
    world: World, manila: Site
) -> None:
    now = _now()
    do_set_presence(world.agent, "available", at=now - HOUR)
    do_set_presence(world.other_agent, "on-break", at=now - HOUR)
    item = queue(world.member_a, world.engagement_a, at=now - HOUR)
    do_assign(world.lead, item, world.agent.agent)
    # Pune has no shifts at all: off shift, nobody on it.
    Site.objects.create(code="pnq", name="Pune", country="IN", time_zone="Asia/Kolkata")

    board = operations_board(world.lead, at=now)

    sites = {s.site.code: s for s in board.sites}
    on_shift = {a.agent.user.email: a for a in sites["mnl"].agents}
    assert set(on_shift) == {"agent@provider.test", "other@provider.test"}
    mine = on_shift["agent@provider.test"]
    assert (mine.held, mine.capacity, mine.presence) == (1, 3, Presence.AVAILABLE)
    assert on_shift["other@provider.test"].presence is Presence.ON_BREAK
    assert (sites["mnl"].held, sites["mnl"].capacity, sites["mnl"].available) == (1, 6, 1)
    assert sites["mnl"].on_shift and sites["pnq"].agents == ()
    assert not sites["pnq"].on_shift
    # The site's clock runs in the site's own zone.
    assert sites["pnq"].local_time.utcoffset() == dt.timedelta(hours=5, minutes=30)

    page = login(world.lead).get("/ops/board/").content.decode()
    manila_card = page.split('id="site-mnl"')[1].split("</section>")[0]
    assert "Agent" in manila_card and "1/3" in manila_card and "On a break" in manila_card
    pune_card = page.split('id="site-pnq"')[1].split("</section>")[0]
    assert "Off shift" in pune_card and "Nobody on shift" in pune_card


def test_an_agent_off_shift_is_not_on_the_roster_but_flagged_if_holding_work(
    world: World,
) -> None:
    manila = Site.objects.get(code="mnl")
    now = _now()
    # Manila's only shift is three days from today there: nobody is on shift now.
    weekday = (now.astimezone(dt.timezone(dt.timedelta(hours=8))).weekday() + 3) % 7
    shifts(manila, [(weekday, dt.time(9), dt.time(17))])
    item = queue(world.member_a, world.engagement_a, at=now - HOUR)
    do_assign(world.lead, item, world.agent.agent)

    board = operations_board(world.lead, at=now)

    assert board.sites[0].agents == ()
    assert [a.agent.user.email for a in board.off_shift_holding] == ["agent@provider.test"]


def test_an_overdue_item_is_listed_as_at_risk(world: World, manila: Site) -> None:
    now = _now()
    overdue = queue(
        world.member_a, world.engagement_a, at=now - 5 * HOUR, due_at=now - HOUR, title="Late batch"
    )
    soon = queue(
        world.member_a, world.engagement_a, at=now - HOUR, due_at=now + HOUR, title="Soon batch"
    )
    do_assign(world.lead, soon, world.agent.agent)
    do_transition(world.agent, soon, Action.START)
    queue(world.member_a, world.engagement_a, at=now, due_at=now + 9 * HOUR, title="Later batch")
    queue(world.member_a, world.engagement_a, at=now, title="No due time")

    board = operations_board(world.lead, at=now)

    assert [item.pk for item in board.at_risk] == [overdue.pk, soon.pk]
    assert (board.at_risk_count, board.overdue_count) == (2, 1)
    page = login(world.lead).get("/ops/board/").content.decode()
    risk = page.split('id="at-risk"')[1]
    assert f'href="/items/{overdue.pk}/"' in risk
    assert "1 h late" in risk
    assert "in 59 min" in risk or "in 1 h<" in risk  # the page is a moment later
    assert "Later batch" not in risk and "No due time" not in risk


def test_an_offered_handoff_is_listed_with_its_deadline(world: World, manila: Site) -> None:
    now = _now()
    item = queue(world.member_a, world.engagement_a, at=now - 2 * HOUR, title="Passed on")
    # A handoff assigns the item to the agent it is offered to.
    do_assign(world.lead, item, world.other_agent.agent)
    Handoff.objects.create(
        client=world.client_a,
        item=item,
        from_agent=world.agent.agent,
        to_agent=world.other_agent.agent,
        note="Half keyed; forms 21-40 left.",
        created_at=now - dt.timedelta(minutes=5),
        respond_by=now + dt.timedelta(minutes=25),
    )
    Handoff.objects.create(
        client=world.client_a,
        item=item,
        from_agent=world.agent.agent,
        to_agent=world.other_agent.agent,
        note="An older one, taken up.",
        state="acknowledged",
        respond_by=now - HOUR,
    )

    # An offer overtaken by a lead's reassignment waits for nobody.
    overtaken = queue(world.member_a, world.engagement_a, at=now - HOUR, title="Reassigned")
    do_assign(world.lead, overtaken, world.agent.agent)
    Handoff.objects.create(
        client=world.client_a,
        item=overtaken,
        from_agent=world.agent.agent,
        to_agent=world.other_agent.agent,
        note="Overtaken.",
        respond_by=now + HOUR,
    )

    board = operations_board(world.lead, at=now)

    assert [(h.item_id, h.to_agent_id) for h in board.handoffs] == [
        (item.pk, world.other_agent.agent.pk)
    ]
    assert board.handoff_count == 1
    page = login(world.lead).get("/ops/board/").content.decode()
    section = page.split('id="handoffs"')[1].split("</section>")[0]
    assert f"/items/{item.pk}/" in section
    assert "Agent" in section and "Other" in section
    assert "in 2" in section  # about 25 minutes from the moment of the request


@pytest.mark.parametrize("who", ["client_admin_a", "client_member_a", "agent", "qa_reviewer"])
def test_client_users_and_agents_cannot_open_the_board(world: World, who: str) -> None:
    user = world.users()[who]
    queue(world.member_a, world.engagement_a, at=_now() - HOUR, title="Alpha secret batch")
    browser = login(user)
    for headers in ({}, {"HX-Request": "true"}):
        response = browser.get("/ops/board/", headers=headers)
        assert response.status_code == 403
        assert "Alpha secret batch" not in response.content.decode()
    with pytest.raises(NotAllowed):
        operations_board(user)
    assert 'href="/ops/board/"' not in browser.get("/account/sign-ins/").content.decode()


def test_leads_and_admins_find_the_board_in_the_top_bar(world: World) -> None:
    for user in (world.lead, world.admin):
        page = login(user).get("/ops/board/")
        assert page.status_code == 200
        assert (
            'href="/ops/board/" class="active" aria-current="page">Board' in page.content.decode()
        )


def test_the_poll_returns_the_board_alone(world: World, manila: Site) -> None:
    queue(world.member_a, world.engagement_a, at=_now() - HOUR)
    browser = login(world.lead)

    full = browser.get("/ops/board/").content.decode()
    poll = browser.get("/ops/board/", HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 30s"' in full and "<html" in full
    assert "<html" not in poll and "hx-trigger" not in poll
    assert 'id="board-asof"' in poll and 'id="site-mnl"' in poll
    assert 'id="stat-queued">1<' in poll


def test_signed_out_visitors_are_sent_to_sign_in(db: None) -> None:
    from django.test import Client

    response = Client().get("/ops/board/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _fill(world: World, count: int, now: dt.datetime, *, hold: int = 0) -> None:
    """``count`` items over three services, some late, some due soon, some held."""
    services = {
        s.slug: s for s in Service.objects.filter(slug__in=["data-entry", "legal-drafting"])
    }
    WorkItem.objects.bulk_create(
        WorkItem(
            client=world.client_a,
            engagement=world.engagement_a,
            service=services[("data-entry", "legal-drafting")[n % 2]],
            title=f"Bulk {n}",
            state=State.QUEUED.value,
            submitted_by=world.member_a,
            created_at=now - dt.timedelta(minutes=n + 1),
            due_at=now + dt.timedelta(minutes=(n % 7 - 3) * 30),
        )
        for n in range(count)
    )
    for n, item in enumerate(WorkItem.objects.filter(title__startswith="Bulk")[:hold]):
        do_assign(world.lead, item, (world.agent, world.other_agent)[n].agent)


def _queries(world: World, now: dt.datetime) -> tuple[int, str]:
    browser = login(world.lead)
    browser.get("/ops/board/")  # sessions and the like settle first
    with CaptureQueriesContext(connection) as captured:
        response = browser.get("/ops/board/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return len(captured.captured_queries), response.content.decode()


def test_the_number_of_queries_does_not_grow_with_the_items(world: World, manila: Site) -> None:
    now = _now()
    queue(world.member_b, world.engagement_b, "customer-support", at=now - HOUR)
    _fill(world, 10, now, hold=2)
    few, _ = _queries(world, now)

    _fill(world, 190, now)
    many, page = _queries(world, now)

    assert many == few, f"{few} queries with 10 items, {many} with 200"
    assert few <= 30
    assert 'id="stat-queued">199<' in page  # 201 items, 2 of them held
    assert page.count('class="ref"') <= 50 + 1  # the at-risk list stops at 50


def test_spans_read_as_a_lead_glances_at_them() -> None:
    from relaydesk.routing.templatetags.opsboard import due_in, percent, span

    assert span(dt.timedelta(minutes=45)) == "45 min"
    assert span(dt.timedelta(minutes=125)) == "2 h 05 min"
    assert span(dt.timedelta(hours=2)) == "2 h"
    assert span(dt.timedelta(days=1, hours=3, minutes=10)) == "1 d 3 h"
    at = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
    assert due_in(at + dt.timedelta(minutes=20), at) == "in 20 min"
    assert due_in(at - dt.timedelta(minutes=20), at) == "20 min late"
    assert (percent(3, 2), percent(1, 4), percent(5, 0)) == (100, 25, 0)
