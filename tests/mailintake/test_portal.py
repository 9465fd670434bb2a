"""A client's people see their engagements' intake addresses where they submit work, in the
API, and nowhere another client's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.mailintake.actions import do_save_intake_address
from tests.conftest import World, login
from tests.mailintake.support import Intake, intake_addresses

ALPHA = "alpha-claims@intake.relaydesk.test"
BRAVO = "bravo-support@intake.relaydesk.test"


@pytest.fixture
def intake(world: World) -> Intake:
    return intake_addresses(world)


def bearer(user) -> HttpClient:
    _, secret = do_create_api_token(user, name="tests")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_a_member_sees_their_engagements_address_on_the_new_request_page_and_not_another_clients(
    world: World, intake: Intake
) -> None:
    page = login(world.member_a).get("/portal/new/")

    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="mailto:{ALPHA}"' in html and "Claims support" in html
    assert "attachments the request&#x27;s documents" in html and "RD-…" in html
    assert BRAVO not in html
    theirs = login(world.member_b).get("/portal/new/").content.decode()
    assert BRAVO in theirs and ALPHA not in theirs


def test_client_admins_see_it_with_their_engagements_on_import_and_security_pages(
    world: World, intake: Intake
) -> None:
    browser = login(world.client_admin_a)

    for url in ("/portal/import/", "/clients/security/"):
        html = browser.get(url).content.decode()
        assert "By e-mail: <a" in html and ALPHA in html, url
        assert BRAVO not in html, url


def test_a_switched_off_address_or_an_ended_engagement_is_not_offered(
    world: World, intake: Intake
) -> None:
    intake.alpha.active = False
    do_save_intake_address(world.admin, intake.alpha)
    world.engagement_b.ends_on = dt.date(2026, 1, 31)
    world.engagement_b.save()

    assert ALPHA not in login(world.member_a).get("/portal/new/").content.decode()
    assert BRAVO not in login(world.member_b).get("/portal/new/").content.decode()
    # Nor in the API: the same rule.
    ended = bearer(world.member_b).get(f"/api/v1/engagements/{world.engagement_b.pk}").json()
    assert ended["intake_address"] is None


def test_the_engagements_api_gives_each_engagement_its_intake_address(
    world: World, intake: Intake
) -> None:
    listed = bearer(world.member_a).get("/api/v1/engagements").json()

    by_name = {e["name"]: e["intake_address"] for e in listed}
    assert by_name == {"Claims support": ALPHA, "PIP claims": None}
    one = bearer(world.member_b).get(f"/api/v1/engagements/{world.engagement_b.pk}").json()
    assert one["intake_address"] == BRAVO
    other = bearer(world.member_b).get(f"/api/v1/engagements/{world.engagement_a.pk}")
    assert other.status_code == 404 and ALPHA not in other.content.decode()
    assert bearer(world.agent).get("/api/v1/engagements").json() == []
    schema = HttpClient().get("/api/v1/openapi.json").json()
    field = schema["components"]["schemas"]["EngagementOut"]["properties"]["intake_address"]
    assert "send or forward work by e-mail" in field["description"]
