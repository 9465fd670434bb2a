"""Text holding a NUL character is refused with a clear answer, on SQLite and PostgreSQL alike.

PostgreSQL cannot even compare such text, so without the check a search box or an
API filter would end in a server error.
"""

from __future__ import annotations

import json

from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.work.models import WorkItem
from tests.conftest import World, login, submit


def _bearer(world: World) -> HttpClient:
    _, secret = do_create_api_token(world.member_a, name="tests")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_an_api_filter_with_nul_gets_422_naming_the_parameter(world: World) -> None:
    submit(world.member_a, world.engagement_a, title="Alpha keying batch")
    http = _bearer(world)
    response = http.get("/api/v1/work-items", {"owner": "\x00o", "search": "open"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {"field": "query.owner", "message": "Text may not contain NUL characters (\\u0000)."}
    ]
    assert "query.owner" in body["detail"]
    # The same filter without the character still answers.
    assert http.get("/api/v1/work-items", {"search": "Alpha"}).json()["count"] == 1


def test_a_json_body_with_nul_is_refused_and_nothing_is_saved(world: World) -> None:
    http = _bearer(world)
    body = {
        "engagement_id": world.engagement_a.pk,
        "service": "data-entry",
        "title": "Key\u0000 forms",
    }
    response = http.post("/api/v1/work-items", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert WorkItem.objects.count() == 0
    # An escaped backslash followed by "u0000" is ordinary text, not a NUL.
    body["title"] = "Key \\u0000 forms"
    accepted = http.post("/api/v1/work-items", json.dumps(body), content_type="application/json")
    assert accepted.status_code == 201, accepted.content.decode()
    assert WorkItem.objects.get().title == "Key \\u0000 forms"


def test_a_page_search_or_form_with_nul_gets_a_readable_400(world: World) -> None:
    submit(world.member_a, world.engagement_a, title="Alpha keying batch")
    browser = login(world.member_a)
    page = browser.get("/portal/", {"q": "Alpha\x00"})
    assert page.status_code == 400
    text = page.content.decode()
    assert "That request could not be read" in text and "NUL characters" in text
    posted = browser.post(
        "/portal/new/",
        {
            "engagement": world.engagement_a.pk,
            "service": "document-processing",
            "title": "Bill\x00",
            "priority": 2,
            "language": "en",
        },
    )
    assert posted.status_code == 400
    assert WorkItem.objects.count() == 1
