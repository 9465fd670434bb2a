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


def test_a_json_body_with_nul_is_refused_whatever_its_type_or_encoding(world: World) -> None:
    http = _bearer(world)
    body = {"engagement_id": world.engagement_a.pk, "service": "data-entry", "title": "K\u0000"}
    for content_type, raw in (
        ("text/plain", json.dumps(body).encode()),
        ("application/json", json.dumps(body).encode("utf-16")),
    ):
        response = http.post("/api/v1/work-items", raw, content_type=content_type)
        assert response.status_code == 422, (content_type, response.content)
        assert response.json()["errors"][0]["field"] == "body"
    assert WorkItem.objects.count() == 0


def test_a_form_posted_to_the_api_still_gets_its_json_answer(world: World) -> None:
    response = _bearer(world).post("/api/v1/work-items", {"title": "plain form"})
    assert response.status_code == 400
    assert response.json() == {"detail": "The request body is not valid JSON."}


def test_nul_in_a_cookie_or_header_is_refused_not_a_server_error(world: World) -> None:
    browser = login(world.member_a)
    browser.cookies["sessionid"] = "abcdefghij\x00"
    page = browser.get("/portal/")
    assert page.status_code == 400 and "NUL characters" in page.content.decode()
    api = _bearer(world).post(
        "/api/v1/work-items",
        json.dumps({"engagement_id": world.engagement_a.pk, "service": "data-entry", "title": "K"}),
        content_type="application/json",
        headers={"Idempotency-Key": "a\x00b"},
    )
    assert api.status_code == 422
    assert api.json()["errors"][0]["field"] == "header.Idempotency-Key"


def test_other_bad_requests_get_a_plain_400_page_or_json(world: World, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    browser = login(world.member_a)
    fields = {f"f{n}": "x" for n in range(10)}
    page = browser.post("/portal/new/", fields)
    assert page.status_code == 400
    text = page.content.decode()
    assert "That request could not be read" in text and "NUL" not in text
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    big = _bearer(world).post(
        "/api/v1/work-items", json.dumps({"title": "x" * 500}), content_type="application/json"
    )
    assert big.status_code == 400
    assert big.json() == {"detail": "The request body is too large."}
