"""Agents see items only while they hold them, and only where the client allows their country."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token, do_create_user
from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.errors import Conflict, NotFound
from relaydesk.work.actions import do_add_comment, do_assign, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import can_see_item, visible_work_items
from relaydesk.workforce.models import Agent, Site
from relaydesk.workforce.queries import visible_agents
from tests.conftest import PASSWORD, World, kpo_engagement, login, make_agent, submit


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


# Residency for reviewers and for assignment -------------------------------------------


def bearer(user: User) -> HttpClient:
    _, secret = do_create_api_token(user, name="tests")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def karachi() -> Site:
    return Site.objects.create(code="khi", name="Karachi", country="PK", time_zone="Asia/Karachi")


def seat(reviewer: User, site: Site) -> None:
    """Record the site a reviewer works from (their workforce profile)."""
    Agent.objects.create(
        user=reviewer, site=site, employee_code=f"R-{reviewer.pk}", languages=["en"]
    )


def in_review(world: World, who: str) -> tuple[WorkItem, User]:
    """An item with a file, finished and waiting for the review of ``who``'s role."""
    engagement: Engagement = world.engagement_a
    service = {"qa": "data-entry", "attorney": "legal-drafting", "analyst": "market-research"}[who]
    if who == "qa":
        Service.objects.filter(slug=service).update(review_policy="mandatory", review_role="")
    if who == "analyst":
        engagement = kpo_engagement(world)
    item = submit(world.member_a, engagement, service, title="Reviewed work", with_file=True)
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert item.state == State.IN_REVIEW
    return item, getattr(world, who)


def sees(reviewer: User, item: WorkItem) -> dict[str, bool]:
    """Whether ``reviewer`` reaches ``item`` on every road a reviewer reads it by."""
    attachment = item.attachments.get()
    browser, api = login(reviewer), bearer(reviewer)
    listed = api.get("/api/v1/work-items").json()["items"]
    return {
        "query": visible_work_items(reviewer).filter(pk=item.pk).exists(),
        "one item": can_see_item(reviewer, item),
        "review queue": item.title in browser.get("/workspace/reviews/").content.decode(),
        "page": browser.get(f"/items/{item.pk}/").status_code == 200,
        "download": browser.get(f"/items/{item.pk}/attachments/{attachment.pk}/").status_code
        == 200,
        "api list": any(row["id"] == item.pk for row in listed),
        "api item": api.get(f"/api/v1/work-items/{item.pk}").status_code == 200,
        "api file": api.get(
            f"/api/v1/work-items/{item.pk}/attachments/{attachment.pk}/content"
        ).status_code
        == 200,
    }


@pytest.mark.parametrize("who", ["qa", "attorney", "analyst"])
def test_a_reviewer_outside_the_allowed_countries_neither_reads_nor_reviews(
    world: World, who: str
) -> None:
    item, reviewer = in_review(world, who)
    seat(reviewer, karachi())  # Pakistan; the engagement allows PH and US
    assert not any(sees(reviewer, item).values()), sees(reviewer, item)
    with pytest.raises(NotFound):
        do_transition(reviewer, item, Action.APPROVE)
    refused = login(reviewer).post(f"/items/{item.pk}/actions/approve/")
    assert refused.status_code == 404
    item.refresh_from_db()
    assert item.state == State.IN_REVIEW and item.reviewer is None


@pytest.mark.parametrize("who", ["qa", "attorney", "analyst"])
def test_a_reviewer_in_an_allowed_country_reviews_until_the_client_narrows_it(
    world: World, who: str
) -> None:
    item, reviewer = in_review(world, who)
    seat(reviewer, Site.objects.get(code="mnl"))
    assert all(sees(reviewer, item).values()), sees(reviewer, item)
    do_transition(reviewer, item, Action.RETURN_FOR_REWORK, note="Check page 2.")
    item.refresh_from_db()
    assert item.reviewer == reviewer
    assert all(sees(reviewer, item).values())  # the item they reviewed stays in sight
    Engagement.objects.filter(pk=item.engagement_id).update(allowed_countries=["US"])
    item.refresh_from_db()
    assert not any(sees(reviewer, item).values()), sees(reviewer, item)


def _outsider(world: World) -> Agent:
    """An agent skilled for everything engagement A asks, but working from Pakistan."""
    user = do_create_user(
        None,
        email="farah@provider.test",
        full_name="Farah",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="Asia/Karachi",
    )
    skills = {"data-entry": 4, "legal-document-review": 4, "legal-drafting": 4}
    return make_agent(user, karachi(), code="K-001", skills=skills, languages=["en"])


def test_an_agent_outside_the_allowed_countries_cannot_be_assigned(world: World) -> None:
    outsider = _outsider(world)
    item = submit(world.member_a, world.engagement_a)
    why = "works from PK; the client allows only PH, US"
    with pytest.raises(Conflict, match=why):
        do_assign(world.lead, item, outsider)

    page = login(world.lead).post(f"/items/{item.pk}/assign/", {"agent": outsider.pk})
    assert page.status_code == 409 and why in page.content.decode()

    api = bearer(world.lead).post(
        f"/api/v1/work-items/{item.pk}/assignment",
        json.dumps({"agent_id": outsider.pk}),
        content_type="application/json",
    )
    assert api.status_code == 409 and why in api.json()["detail"]

    item.refresh_from_db()
    assert item.state == State.QUEUED and item.owner is None
    # The same agent is given work where the client allows Pakistan.
    Engagement.objects.filter(pk=world.engagement_a.pk).update(allowed_countries=["PH", "PK"])
    do_assign(world.lead, item, outsider)
    item.refresh_from_db()
    assert item.owner == outsider.user
