"""The webhook pages and API: a client admin sets up endpoints, tests them and reads their log;
the provider may look; nobody reaches another client's."""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.webhooks.actions import do_send_test_event, queue_event
from relaydesk.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from tests.conftest import World, login
from tests.webhooks.support import add_endpoint, closed_port, receiving

HOOK = "https://hooks.example.com/relaydesk"


def api(user: User) -> HttpClient:
    """A program calling the API with a token of ``user``."""
    _, secret = do_create_api_token(user, name="webhooks test")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def page(response: Any) -> str:
    """The page's text."""
    return str(response.content.decode())


def form(engagement_id: int, url: str = HOOK, **fields: Any) -> dict[str, Any]:
    """The endpoint form as a browser posts it."""
    return {
        "engagement": engagement_id,
        "url": url,
        "description": "Case system",
        "event_types": ["work_item.delivered", "comment.created"],
        "active": "on",
        **fields,
    }


def audit(action: str) -> list[AuditRecord]:
    """The audit records of ``action``, oldest first."""
    return list(AuditRecord.objects.filter(action=action).order_by("seq"))


# --- pages ----------------------------------------------------------------------------------


def test_a_client_admin_adds_an_endpoint_and_sees_its_secret_once(world: World) -> None:
    browser = login(world.client_admin_a)
    new = browser.get("/portal/webhooks/new/")
    assert new.status_code == 200
    assert "Claims support" in page(new) and "Support desk" not in page(new)

    added = browser.post("/portal/webhooks/new/", form(world.engagement_a.pk))

    assert added.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9_-]{40,}", page(added))
    assert secret is not None, page(added)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == HOOK and endpoint.engagement == world.engagement_a
    assert endpoint.event_types == ["work_item.delivered", "comment.created"]
    again = page(browser.get(f"/portal/webhooks/{endpoint.pk}/"))
    assert secret.group(0) not in again
    assert f"whsec_…{secret.group(0)[-4:]}" in again
    (record,) = audit("webhook.endpoint.create")
    assert record.client_id == world.client_a.pk
    assert secret.group(0) not in json.dumps(record.detail)
    listing = page(browser.get("/portal/webhooks/"))
    assert HOOK in listing and "Claims support" in listing


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"url": "ftp://files.example.com/drop"}, "Use an https:// URL (the URL has ftp://)."),
        ({"url": "http://hooks.example.com/x"}, "plain http:// is accepted only for"),
        ({"url": "https://me:pw@hooks.example.com/"}, "Leave user names and passwords out"),
        ({"event_types": []}, "Choose at least one event to send."),
        ({"event_types": ["work_item.assigned"]}, "is not an event Relaydesk sends"),
        ({"engagement": "other"}, "Choose one of your engagements."),
    ],
)
def test_bad_input_on_the_page_says_what_is_wrong_and_adds_nothing(
    world: World, change: dict[str, Any], says: str
) -> None:
    if change.get("engagement") == "other":
        change = {"engagement": world.engagement_b.pk}
    response = login(world.client_admin_a).post(
        "/portal/webhooks/new/", form(world.engagement_a.pk, **change)
    )
    assert response.status_code == 422
    assert says in page(response).replace("&#x27;", "'")
    assert not WebhookEndpoint.objects.exists()


def test_the_test_event_button_sends_a_ping_and_shows_how_it_went(world: World) -> None:
    browser = login(world.client_admin_a)
    with receiving() as receiver:
        endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        sent = browser.post(f"/portal/webhooks/{endpoint.pk}/test/", follow=True)
        (got,) = receiver.wait_for(1)
    text = page(sent)
    assert re.search(r"Test event delivered: the endpoint answered 200 in \d+ ms\.", text)
    assert got.event["type"] == "ping" and got.headers["Relaydesk-Event-Type"] == "ping"
    assert "<code>ping</code>" in text
    (record,) = audit("webhook.test")
    assert record.detail["state"] == "succeeded" and record.detail["status"] == 200

    dead, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, f"http://127.0.0.1:{closed_port()}/hook"
    )
    failed = browser.post(f"/portal/webhooks/{dead.pk}/test/", follow=True)
    assert "Test event failed: The connection was refused." in page(failed)
    (ping,) = WebhookDelivery.objects.filter(endpoint=dead)
    assert ping.state == DeliveryState.FAILED and ping.next_attempt_at is None


def test_the_delivery_log_shows_times_in_the_viewers_time_zone_and_retries_now(
    world: World,
) -> None:
    browser = login(world.client_admin_a)
    with receiving([500, 200]) as receiver:
        endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        queue_event(world.engagement_a, "work_item.delivered", {"work_item": {"id": 1}})
        (delivery,) = WebhookDelivery.objects.all()
        from relaydesk.webhooks.actions import do_send_delivery

        assert do_send_delivery(delivery.pk) == "failed"
        log = page(browser.get(f"/portal/webhooks/{endpoint.pk}/"))
        manila = timezone.localtime(delivery.created_at, zoneinfo.ZoneInfo("Asia/Manila"))
        assert manila.strftime("%H:%M:%S") in log and "PST" in log
        assert "The endpoint answered 500 Internal Server Error." in log
        assert "1 of 8" in log and "Retry now" in log

        retried = browser.post(
            f"/portal/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry/", follow=True
        )
        receiver.wait_for(2)
    assert re.search(r"Delivered: the endpoint answered 200 in \d+ ms\.", page(retried))
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 2
    (record,) = audit("webhook.delivery.retry")
    assert record.detail["state"] == "succeeded"
    shown = page(browser.get(f"/portal/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/"))
    assert "work_item.delivered" in shown and "&quot;id&quot;: 1" in shown


def test_edit_disable_roll_and_delete_from_the_pages(world: World) -> None:
    browser = login(world.client_admin_a)
    endpoint, first_secret = add_endpoint(world.client_admin_a, world.engagement_a, HOOK)
    base = f"/portal/webhooks/{endpoint.pk}/"

    assert browser.get(base + "edit/").status_code == 200
    saved = browser.post(
        base + "edit/",
        {"url": HOOK + "/v2", "description": "", "event_types": ["work_item.accepted"]},
        follow=True,
    )
    assert "Endpoint saved." in page(saved)
    endpoint.refresh_from_db()
    assert endpoint.url == HOOK + "/v2" and endpoint.event_types == ["work_item.accepted"]
    assert endpoint.active is False  # the box was left unticked

    enabled = browser.post(base + "toggle/", follow=True)
    assert "Endpoint enabled" in page(enabled)
    endpoint.refresh_from_db()
    assert endpoint.active is True

    rolled = browser.post(base + "roll-secret/", {"keep_previous_hours": "24"})
    new_secret = re.search(r"whsec_[A-Za-z0-9_-]{40,}", page(rolled))
    assert new_secret is not None and new_secret.group(0) != first_secret
    assert "The previous secret also signs until" in page(rolled)

    assert "Delete this endpoint?" in page(browser.get(base + "delete/"))
    gone = browser.post(base + "delete/", follow=True)
    assert "deleted" in page(gone)
    assert not WebhookEndpoint.objects.exists()
    actions = [
        r.action for r in AuditRecord.objects.filter(action__startswith="webhook.").order_by("seq")
    ]
    assert actions == [
        "webhook.endpoint.create",
        "webhook.endpoint.update",
        "webhook.endpoint.update",
        "webhook.secret.roll",
        "webhook.endpoint.delete",
    ]
    everything = json.dumps([r.detail for r in AuditRecord.objects.all()])
    assert first_secret not in everything and new_secret.group(0) not in everything


def test_another_client_and_client_members_never_reach_an_endpoint(world: World) -> None:
    endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, HOOK)
    base = f"/portal/webhooks/{endpoint.pk}/"
    other = login(world.client_admin_b)
    for path in ("", "edit/", "delete/"):
        assert other.get(base + path).status_code == 404
    for path in ("test/", "toggle/", "roll-secret/", "delete/", "edit/"):
        assert other.post(base + path, form(world.engagement_b.pk)).status_code == 404
    assert HOOK not in page(other.get("/portal/webhooks/"))

    member = login(world.member_a)
    assert member.get("/portal/webhooks/").status_code == 403
    assert member.get(base).status_code == 404
    assert member.post(base + "test/").status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.url == HOOK
    assert not WebhookDelivery.objects.exists()


def test_the_provider_may_look_but_not_change(world: World) -> None:
    endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, HOOK)
    other, _ = add_endpoint(world.client_admin_b, world.engagement_b, HOOK + "/bravo")
    admin = login(world.admin)
    listing = page(admin.get("/portal/webhooks/"))
    assert HOOK in listing and HOOK + "/bravo" in listing
    detail = page(admin.get(f"/portal/webhooks/{endpoint.pk}/"))
    assert "Send test event" not in detail and "Roll secret" not in detail
    refused = admin.post(f"/portal/webhooks/{endpoint.pk}/test/", follow=True)
    assert "Only the client&#x27;s admins change its webhooks." in page(refused)
    assert admin.get("/portal/webhooks/new/").status_code == 403
    assert not WebhookDelivery.objects.exists()
    assert login(world.agent).get("/portal/webhooks/").status_code == 403
    assert login(world.agent).get(f"/portal/webhooks/{other.pk}/").status_code == 404


# --- API ------------------------------------------------------------------------------------


def test_the_api_covers_an_endpoints_life(world: World) -> None:
    program = api(world.client_admin_a)
    with receiving([500, 200]) as receiver:
        created = program.post(
            "/api/v1/webhook-endpoints",
            {
                "engagement_id": world.engagement_a.pk,
                "url": receiver.url,
                "event_types": ["work_item.submitted"],
                "description": "Case system",
            },
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["secret"].startswith("whsec_") and body["secret_hint"] == body["secret"][-4:]
        endpoint_id = body["id"]
        base = f"/api/v1/webhook-endpoints/{endpoint_id}"

        listed = program.get("/api/v1/webhook-endpoints").json()
        assert [e["id"] for e in listed] == [endpoint_id] and "secret" not in listed[0]
        assert program.get(base).json()["event_types"] == ["work_item.submitted"]

        patched = program.patch(
            base,
            {"event_types": ["work_item.submitted", "comment.created"]},
            content_type="application/json",
        )
        assert patched.json()["event_types"] == ["work_item.submitted", "comment.created"]

        tested = program.post(base + "/test")
        assert tested.status_code == 200
        assert tested.json()["state"] == "failed"
        assert tested.json()["last_error"] == "The endpoint answered 500 Internal Server Error."
        ping_id = tested.json()["id"]
        retried = program.post(f"{base}/deliveries/{ping_id}/retry")
        assert retried.json()["state"] == "succeeded" and retried.json()["attempts"] == 2
        again = program.post(f"{base}/deliveries/{ping_id}/retry")
        assert again.status_code == 409
        receiver.wait_for(2)

    log = program.get(base + "/deliveries?state=succeeded").json()
    assert log["count"] == 1 and log["items"][0]["payload"]["type"] == "ping"
    rolled = program.post(
        base + "/roll-secret", {"keep_previous_hours": 0}, content_type="application/json"
    )
    assert rolled.json()["secret"] != body["secret"]
    assert rolled.json()["previous_secret_expires_at"] is None
    assert program.delete(base).status_code == 204
    assert program.get(base).status_code == 404


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"url": "ftp://files.example.com/drop"}, "Use an https:// URL (the URL has ftp://)."),
        ({"event_types": []}, "Choose at least one event to send."),
        ({"engagement_id": "other"}, "There is no engagement"),
        ({"event_types": ["work_item.assigned"]}, "event_types.0: Input should be"),
    ],
)
def test_bad_input_in_the_api_is_a_clear_422(
    world: World, change: dict[str, Any], says: str
) -> None:
    if change.get("engagement_id") == "other":
        change = {"engagement_id": world.engagement_b.pk}
    answer = api(world.client_admin_a).post(
        "/api/v1/webhook-endpoints",
        {
            "engagement_id": world.engagement_a.pk,
            "url": HOOK,
            "event_types": ["work_item.delivered"],
            **change,
        },
        content_type="application/json",
    )
    assert answer.status_code == 422, answer.content
    assert says in answer.json()["detail"]
    assert not WebhookEndpoint.objects.exists()


def test_the_api_refuses_other_clients_and_roles_without_webhooks(world: World) -> None:
    endpoint, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, f"http://127.0.0.1:{closed_port()}/hook"
    )
    delivery = do_send_test_event(world.client_admin_a, endpoint)
    base = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    stranger = api(world.client_admin_b)
    assert stranger.get("/api/v1/webhook-endpoints").json() == []
    for method, path in (
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", base + "/test"),
        ("post", base + "/roll-secret"),
        ("get", base + "/deliveries"),
        ("post", f"{base}/deliveries/{delivery.pk}/retry"),
    ):
        answer = getattr(stranger, method)(path, {}, content_type="application/json")
        assert answer.status_code == 404, (method, path, answer.content)
        assert answer.json() == {"detail": f"No webhook endpoint {endpoint.pk}."}
    member = api(world.member_a)
    assert member.get("/api/v1/webhook-endpoints").status_code == 403
    assert member.get(base).status_code == 404
    provider = api(world.lead)
    assert [e["id"] for e in provider.get("/api/v1/webhook-endpoints").json()] == [endpoint.pk]
    assert provider.get(base + "/deliveries").json()["count"] == 1
    refused = provider.post(base + "/test")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the client's admins change its webhooks."
    assert WebhookDelivery.objects.count() == 1
