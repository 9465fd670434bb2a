"""The JSON API as a program uses it: tokens, sessions with CSRF, errors people can read."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token, do_revoke_api_token
from relaydesk.catalog.models import Service
from relaydesk.work.models import WorkItem
from tests.conftest import PASSWORD, World, submit


def bearer(user) -> HttpClient:
    _, secret = do_create_api_token(user, name="tests")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _post(http: HttpClient, url: str, body: dict[str, object], **headers: str):
    return http.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_openapi_is_3_1_and_documents_errors(world: World) -> None:
    schema = HttpClient().get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    assert len(operations) >= 15
    for operation in operations:
        assert "401" in operation["responses"], operation["operationId"]
    assert HttpClient().get("/api/v1/docs").status_code == 200


def test_unauthenticated_and_bad_token_get_json_401(world: World) -> None:
    response = HttpClient().get("/api/v1/work-items")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    bad = HttpClient(HTTP_AUTHORIZATION="Bearer rdk_nope").get("/api/v1/me")
    assert bad.status_code == 401
    assert bad.json() == {"detail": "The API token is unknown, expired or revoked."}


def test_revoked_token_stops_working(world: World) -> None:
    token, secret = do_create_api_token(world.member_a, name="sync")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert http.get("/api/v1/me").json()["email"] == "member@alpha.test"
    do_revoke_api_token(world.member_a, token.pk)
    assert http.get("/api/v1/me").status_code == 401


def test_submit_with_idempotency_key_never_duplicates(world: World) -> None:
    http = bearer(world.member_a)
    body = {
        "engagement_id": world.engagement_a.pk,
        "service": "data-entry",
        "title": "Key 200 claim forms",
        "priority": "high",
        "due_at": "2099-01-01T17:00:00-05:00",
    }
    first = _post(http, "/api/v1/work-items", body, **{"Idempotency-Key": "batch-7"})
    assert first.status_code == 201, first.content
    again = _post(http, "/api/v1/work-items", body, **{"Idempotency-Key": "batch-7"})
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert WorkItem.objects.count() == 1
    item = first.json()
    assert item["state"] == "queued" and item["priority"] == "high"
    assert item["due_at"].startswith("2099-01-01T22:00:00")
    changed = _post(
        http, "/api/v1/work-items", {**body, "title": "Other"}, **{"Idempotency-Key": "batch-7"}
    )
    assert changed.status_code == 409
    assert "different request" in changed.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"service": "data-entry", "title": "x"}, 422, "engagement_id"),
        ({"service": "payroll", "title": "x"}, 422, "does not cover the service 'payroll'"),
        ({"service": "data-entry", "title": "x", "priority": "asap"}, 422, "priority"),
        ({"service": "data-entry", "title": "x", "due_at": "2001-01-01T00:00:00Z"}, 422, "future"),
        ({"service": "data-entry", "title": "x", "jurisdiction": "Florida"}, 422, "US-FL"),
    ],
)
def test_bad_input_gets_a_clear_message(world: World, body, status, words) -> None:
    if "engagement_id" not in words:
        body = {"engagement_id": world.engagement_a.pk, **body}
    response = _post(bearer(world.member_a), "/api/v1/work-items", body)
    assert response.status_code == status, response.content
    assert words in response.json()["detail"]
    assert WorkItem.objects.count() == 0


def test_lifecycle_over_the_api_with_409_and_403(world: World) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    item = submit(world.member_a, world.engagement_a)
    client = bearer(world.member_a)
    lead = bearer(world.lead)
    agent = bearer(world.agent)
    early = _post(client, f"/api/v1/work-items/{item.pk}/transitions", {"action": "accept"})
    assert early.status_code == 409 and "queued" in early.json()["detail"]
    wrong_role = _post(
        client, f"/api/v1/work-items/{item.pk}/assignment", {"agent_id": world.agent.agent.pk}
    )
    assert wrong_role.status_code == 404  # client users can't even name agents
    assigned = _post(
        lead, f"/api/v1/work-items/{item.pk}/assignment", {"agent_id": world.agent.agent.pk}
    )
    assert assigned.status_code == 200 and assigned.json()["owner"]["full_name"] == "Agent"
    started = _post(agent, f"/api/v1/work-items/{item.pk}/transitions", {"action": "start"})
    assert started.json()["allowed_actions"] == ["wait_on_client", "complete"]
    forbidden = _post(client, f"/api/v1/work-items/{item.pk}/transitions", {"action": "complete"})
    assert forbidden.status_code == 403 and "Client member" in forbidden.json()["detail"]
    _post(agent, f"/api/v1/work-items/{item.pk}/transitions", {"action": "complete"})
    accepted = _post(client, f"/api/v1/work-items/{item.pk}/transitions", {"action": "accept"})
    assert accepted.json()["state"] == "accepted"
    timeline = client.get(f"/api/v1/work-items/{item.pk}/events").json()
    assert [e["to_state"] for e in timeline if e["to_state"]][-1] == "accepted"
    unknown = _post(client, f"/api/v1/work-items/{item.pk}/transitions", {"action": "teleport"})
    assert unknown.status_code == 422 and "action" in unknown.json()["detail"]


def test_session_writes_need_the_csrf_token(world: World) -> None:
    browser = HttpClient(enforce_csrf_checks=True)
    assert browser.login(email="member@alpha.test", password=PASSWORD)
    body = {"engagement_id": world.engagement_a.pk, "service": "data-entry", "title": "Keys"}
    refused = _post(browser, "/api/v1/work-items", body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.get("/portal/")  # sets the CSRF cookie, as the page would
    token = browser.cookies["csrftoken"].value
    accepted = _post(browser, "/api/v1/work-items", body, **{"X-CSRFToken": token})
    assert accepted.status_code == 201


def test_comments_and_attachments_round_trip(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    client = bearer(world.member_a)
    lead = bearer(world.lead)
    _post(
        lead,
        f"/api/v1/work-items/{item.pk}/comments",
        {"body": "internal only", "visibility": "internal"},
    )
    _post(client, f"/api/v1/work-items/{item.pk}/comments", {"body": "Please hurry"})
    assert [c["body"] for c in client.get(f"/api/v1/work-items/{item.pk}/comments").json()] == [
        "Please hurry"
    ]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(
        f"/api/v1/work-items/{item.pk}/attachments",
        {"file": SimpleUploadedFile("../../etc/passwd bill.pdf", b"%PDF-1.4 x", "application/pdf")},
    )
    assert upload.status_code == 201, upload.content
    meta = upload.json()
    assert "/" not in meta["name"] and meta["size"] == 10
    download = client.get(meta["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 x"  # type: ignore[attr-defined]
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"


def test_unknown_api_paths_answer_json(world: World) -> None:
    response = bearer(world.member_a).get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    page = HttpClient().get("/no-such-page/")
    assert page.status_code == 404 and b"Not found" in page.content
