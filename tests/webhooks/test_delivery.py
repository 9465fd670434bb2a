"""Events reach a real receiver signed as documented, are retried with backoff, and never hold
up or fail the change that caused them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import pytest
from django.utils import timezone

from relaydesk.core.lifecycle import Action
from relaydesk.quality.actions import do_set_sampling_rule
from relaydesk.routing.tasks import route_and_escalate
from relaydesk.webhooks import actions, transport
from relaydesk.webhooks.actions import (
    MAX_ATTEMPTS,
    do_roll_secret,
    do_send_delivery,
    do_send_due_deliveries,
    do_update_endpoint,
)
from relaydesk.webhooks.models import DeliveryState, WebhookDelivery
from relaydesk.work.actions import do_add_comment, do_assign, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, submit
from tests.webhooks.support import add_endpoint, closed_port, documented_verifier, receiving

MIN = dt.timedelta(minutes=1)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what the actions schedule after their commit, as production does."""
    return django_capture_on_commit_callbacks


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    """Enqueued tasks run at once (the worker, in one process)."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def deliveries(**filters: Any) -> list[WebhookDelivery]:
    """Deliveries, oldest first."""
    return list(WebhookDelivery.objects.filter(**filters).order_by("created_at", "id"))


def delivered_without_review(world: World, item: WorkItem) -> WorkItem:
    """Assign, start and complete the item with nothing sampled for QA: it is delivered."""
    do_set_sampling_rule(world.lead, item.engagement, base_rate=0, probation_full=False)
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert item.state == "delivered", item.state
    return item


def test_a_delivery_reaches_the_receiver_signed_as_the_docs_say(
    world: World, on_commit: Any, immediate_tasks: None
) -> None:
    with receiving() as receiver:
        endpoint, secret = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        receiver.secret = secret
        with on_commit(execute=True):
            item = submit(world.member_a, world.engagement_a, title="Key 40 claim forms")
        (got,) = receiver.wait_for(1)

    assert got.verified is True
    assert got.path == "/hooks/relaydesk?source=tests"
    assert got.headers["User-Agent"] == "Relaydesk-Webhooks/1"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Relaydesk-Event-Type"] == "work_item.submitted"
    event = got.event
    assert got.headers["Relaydesk-Event-Id"] == event["id"]
    assert event["type"] == "work_item.submitted"
    assert event["created_at"].endswith("Z")
    assert event["engagement"] == {"id": world.engagement_a.pk, "name": "Claims support"}
    assert event["data"]["work_item"] == {
        "id": item.pk,
        "reference": item.reference,
        "title": "Key 40 claim forms",
        "state": "queued",
        "service": "data-entry",
        "priority": "normal",
        "due_at": None,
        "delivered_at": None,
        "url": f"http://127.0.0.1:8000/items/{item.pk}/",
    }
    (delivery,) = deliveries(endpoint=endpoint)
    assert delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.next_attempt_at is None


def test_the_documented_check_refuses_a_wrong_secret_an_altered_body_and_an_old_time(
    world: World,
) -> None:
    verify = documented_verifier()
    with receiving() as receiver:
        endpoint, secret = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        delivery = actions.do_send_test_event(world.client_admin_a, endpoint)
        (got,) = receiver.wait_for(1)
    header = got.headers["Relaydesk-Signature"]
    assert delivery.state == DeliveryState.SUCCEEDED
    assert verify(got.body, header, secret)
    assert not verify(got.body, header, secret + "x")
    assert not verify(got.body.replace(b"ping", b"pong"), header, secret)
    assert not verify(got.body, header, secret, now=time.time() + 600)
    assert not verify(got.body, "v1=deadbeef", secret)
    assert not verify(got.body, "", secret)


def test_a_receiver_failing_twice_gets_the_event_three_times_then_no_more(
    world: World, on_commit: Any
) -> None:
    with receiving([500, 502, 204]) as receiver:
        endpoint, secret = add_endpoint(
            world.client_admin_a, world.engagement_a, receiver.url, ["work_item.cancelled"]
        )
        receiver.secret = secret
        item = submit(world.member_a, world.engagement_a)
        with on_commit(execute=True):
            do_transition(world.member_a, item, Action.CANCEL)
        (delivery,) = deliveries(endpoint=endpoint)
        t0 = delivery.next_attempt_at
        assert t0 is not None

        assert do_send_due_deliveries(at=t0) == 1
        delivery.refresh_from_db()
        assert delivery.state == DeliveryState.FAILED and delivery.attempts == 1
        assert delivery.last_status_code == 500
        assert delivery.last_error == "The endpoint answered 500 Internal Server Error."
        assert delivery.next_attempt_at == t0 + MIN
        # Not due yet: nothing is sent.
        assert do_send_due_deliveries(at=t0 + dt.timedelta(seconds=30)) == 0

        assert do_send_due_deliveries(at=t0 + MIN) == 1
        delivery.refresh_from_db()
        assert delivery.attempts == 2 and delivery.next_attempt_at == t0 + 3 * MIN

        assert do_send_due_deliveries(at=t0 + 3 * MIN) == 1
        assert do_send_due_deliveries(at=t0 + dt.timedelta(days=1)) == 0
        got = receiver.wait_for(3)

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 3 and delivery.last_status_code == 204
    assert delivery.last_error == "" and delivery.next_attempt_at is None
    assert len(got) == 3
    assert all(r.verified for r in got)
    assert {r.headers["Relaydesk-Event-Id"] for r in got} == {str(delivery.event_id)}
    assert [r.headers["Relaydesk-Delivery-Attempt"] for r in got] == ["1", "2", "3"]


def test_a_delivery_is_given_up_after_the_last_attempt(world: World, on_commit: Any) -> None:
    with receiving([503]) as receiver:
        endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        with on_commit(execute=True):
            submit(world.member_a, world.engagement_a)
        (delivery,) = deliveries(endpoint=endpoint)
        waits = []
        while delivery.next_attempt_at is not None:
            due = delivery.next_attempt_at
            assert do_send_due_deliveries(at=due) == 1
            delivery.refresh_from_db()
            if delivery.next_attempt_at is not None:
                waits.append(int((delivery.next_attempt_at - due) / MIN))
        assert do_send_due_deliveries(at=timezone.now() + dt.timedelta(days=2)) == 0
        got = receiver.wait_for(MAX_ATTEMPTS)

    assert delivery.state == DeliveryState.GIVEN_UP
    assert delivery.attempts == MAX_ATTEMPTS == len(got) == 8
    assert waits == [1, 2, 4, 8, 16, 32, 60]
    assert delivery.last_status_code == 503


def test_a_dead_endpoint_never_slows_or_fails_the_change(world: World, on_commit: Any) -> None:
    with receiving(delay=4.0) as slow:
        add_endpoint(world.client_admin_a, world.engagement_a, slow.url)
        add_endpoint(
            world.client_admin_a, world.engagement_a, f"http://127.0.0.1:{closed_port()}/hook"
        )
        item = submit(world.member_a, world.engagement_a)
        started = time.monotonic()
        with on_commit(execute=True):
            do_transition(world.member_a, item, Action.CANCEL, note="Sent twice")
        took = time.monotonic() - started
        item.refresh_from_db()
        assert item.state == "cancelled"
        assert slow.received == [], "the change itself called the endpoint"
        assert took < 3.0, f"the change waited {took:.1f} s for the endpoints"
        waiting = deliveries(event_type="work_item.cancelled")
        assert [d.state for d in waiting] == ["pending", "pending"]

        # The worker sends them; both fail, and are retried later.
        transport_timeout = transport.TIMEOUT_SECONDS
        transport.TIMEOUT_SECONDS = 0.5
        try:
            results = [do_send_delivery(d.pk) for d in waiting]
        finally:
            transport.TIMEOUT_SECONDS = transport_timeout
    assert results == ["failed", "failed"]
    errors = {d.last_error for d in deliveries(event_type="work_item.cancelled")}
    assert errors == {"No answer within 0.5 seconds.", "The connection was refused."}
    item.refresh_from_db()
    assert item.state == "cancelled"


def test_a_failing_receiver_of_the_signal_is_logged_not_raised(
    world: World, on_commit: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    add_endpoint(world.client_admin_a, world.engagement_a, "https://hooks.example.com/x")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(actions, "queue_event", broken)
    item = submit(world.member_a, world.engagement_a)
    with caplog.at_level(logging.ERROR), on_commit(execute=True):
        do_transition(world.member_a, item, Action.CANCEL)
    item.refresh_from_db()
    assert item.state == "cancelled"
    assert "could not be queued" in caplog.text


def test_events_go_only_to_the_engagements_endpoints_that_chose_them(
    world: World, on_commit: Any
) -> None:
    url = "https://hooks.example.com/relaydesk"
    only_delivered, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, url, ["work_item.delivered"]
    )
    everything, _ = add_endpoint(world.client_admin_a, world.engagement_a, url + "/all")
    other_engagement, _ = add_endpoint(world.client_admin_a, world.engagement_pip, url)
    other_client, _ = add_endpoint(world.client_admin_b, world.engagement_b, url)
    disabled, _ = add_endpoint(world.client_admin_a, world.engagement_a, url, active=False)
    with on_commit(execute=True):
        item = submit(world.member_a, world.engagement_a)
        delivered_without_review(world, item)
    with on_commit(execute=True):
        do_transition(world.member_a, item, Action.ACCEPT)

    assert [d.event_type for d in deliveries(endpoint=only_delivered)] == ["work_item.delivered"]
    assert [d.event_type for d in deliveries(endpoint=everything)] == [
        "work_item.submitted",
        "work_item.state_changed",  # work started
        "work_item.delivered",
        "work_item.accepted",
    ]
    assert deliveries(endpoint=other_engagement) == []
    assert deliveries(endpoint=other_client) == []
    assert deliveries(endpoint=disabled) == []
    # One event, one id, whichever endpoints receive it.
    (a,) = deliveries(endpoint=only_delivered)
    b = deliveries(endpoint=everything, event_type="work_item.delivered")[0]
    assert a.event_id == b.event_id and a.payload == b.payload
    assert a.payload["data"]["work_item"]["state"] == "delivered"
    assert a.payload["data"]["work_item"]["delivered_at"] is not None


def test_the_providers_internal_moves_and_notes_never_reach_the_client(
    world: World, on_commit: Any
) -> None:
    endpoint, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, "https://hooks.example.com/relaydesk"
    )
    # Every finished item goes to QA, so a reviewer can send the work back.
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=100)
    with on_commit(execute=True):
        item = submit(world.member_a, world.engagement_a)
    # Each change commits on its own, as each request does.
    for step in (
        lambda: do_assign(world.lead, item, world.other_agent.agent, note="Give it to Other"),
        lambda: do_transition(world.lead, item, Action.RELEASE, note="Wrong one, lead note 5521"),
        lambda: do_assign(world.lead, item, world.agent.agent),
        lambda: do_add_comment(world.agent, item, "Internal only 8812", visibility="internal"),
        lambda: do_transition(world.agent, item, Action.START),
        lambda: do_transition(world.agent, item, Action.COMPLETE),
        lambda: do_transition(world.qa, item, Action.RETURN_FOR_REWORK, note="QA says redo 7731"),
        lambda: do_add_comment(world.agent, item, "We are re-checking line 4."),
        lambda: do_transition(world.agent, item, Action.START),
        lambda: do_transition(world.agent, item, Action.COMPLETE),
        lambda: do_transition(world.qa, item, Action.APPROVE),
    ):
        with on_commit(execute=True):
            step()

    sent = deliveries(endpoint=endpoint)
    assert [(d.event_type, d.payload["data"]["work_item"]["state"]) for d in sent] == [
        ("work_item.submitted", "queued"),
        ("work_item.state_changed", "in_progress"),
        ("work_item.state_changed", "in_review"),
        ("comment.created", "rework"),
        ("work_item.state_changed", "in_progress"),
        ("work_item.state_changed", "in_review"),
        ("work_item.delivered", "delivered"),
    ]
    everything = json.dumps([d.payload for d in sent])
    # Nobody who merely held the item, no internal note, no reviewer's words.
    for secret in ("Other", "lead note 5521", "Internal only 8812", "QA says redo 7731"):
        assert secret not in everything
    comment = next(d for d in sent if d.event_type == "comment.created").payload["data"]
    assert set(comment["comment"]) == {"id", "author", "created_at"}
    assert "line 4" not in everything  # the text is read through the API


def test_a_client_reply_and_rework_request_are_events(world: World, on_commit: Any) -> None:
    endpoint, _ = add_endpoint(
        world.client_admin_a,
        world.engagement_a,
        "https://hooks.example.com/relaydesk",
        ["work_item.rework_requested", "comment.created", "work_item.state_changed"],
    )
    with on_commit(execute=True):
        item = delivered_without_review(world, submit(world.member_a, world.engagement_a))
        do_transition(world.member_a, item, Action.REQUEST_REWORK, note="Line 3 is wrong")
        do_transition(world.agent, item, Action.START)
        do_transition(world.agent, item, Action.WAIT_ON_CLIENT, note="Which line 3?")
        do_add_comment(world.member_a, item, "The one with the date.")
    assert [d.event_type for d in deliveries(endpoint=endpoint)] == [
        "work_item.state_changed",  # started the first time
        "work_item.rework_requested",
        "work_item.state_changed",  # started again
        "work_item.state_changed",  # waiting on the client
        "comment.created",
        "work_item.state_changed",  # the reply resumed it
    ]


def test_disabling_gives_up_waiting_deliveries_and_the_sweep_skips_them(
    world: World, on_commit: Any
) -> None:
    endpoint, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, f"http://127.0.0.1:{closed_port()}/hook"
    )
    with on_commit(execute=True):
        submit(world.member_a, world.engagement_a)
    do_update_endpoint(world.client_admin_a, endpoint, active=False)
    (delivery,) = deliveries(endpoint=endpoint)
    assert delivery.state == DeliveryState.GIVEN_UP
    assert delivery.last_error == "Not sent: the endpoint was disabled."
    assert do_send_due_deliveries(at=timezone.now() + dt.timedelta(hours=3)) == 0


def test_the_routing_task_sends_what_is_due_when_a_task_was_lost(
    world: World, on_commit: Any
) -> None:
    with receiving() as receiver:
        endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        # No worker ran the enqueued task: the routing loop's sweep sends it.
        with on_commit(execute=True):
            submit(world.member_a, world.engagement_a)
        counts = route_and_escalate.call()
        receiver.wait_for(1)
    assert counts["webhooks_sent"] == 1
    assert [d.state for d in deliveries(endpoint=endpoint)] == ["succeeded"]


def test_the_sweep_tries_a_failing_endpoint_once_per_run(world: World, on_commit: Any) -> None:
    with receiving([500]) as failing, receiving([200]) as healthy:
        bad, _ = add_endpoint(world.client_admin_a, world.engagement_a, failing.url)
        good, _ = add_endpoint(world.client_admin_a, world.engagement_a, healthy.url)
        with on_commit(execute=True):
            for n in range(3):
                submit(world.member_a, world.engagement_a, title=f"Batch {n}")
        assert do_send_due_deliveries() == 4  # three for the good one, one for the bad one
        failing.wait_for(1)
        healthy.wait_for(3)
    assert [d.attempts for d in deliveries(endpoint=bad)] == [1, 0, 0]
    assert {d.state for d in deliveries(endpoint=good)} == {"succeeded"}


def test_a_retry_is_enqueued_for_its_time_and_a_task_never_sends_twice(
    world: World, on_commit: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    with receiving([500, 200]) as receiver:
        endpoint, _ = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        with on_commit(execute=True):
            submit(world.member_a, world.engagement_a)
        (delivery,) = deliveries(endpoint=endpoint)
        queued = DBTaskResult.objects.filter(task_path__endswith="send_webhook_delivery")
        assert [row.args_kwargs["args"] for row in queued] == [[delivery.pk]]
        with on_commit(execute=True):
            assert do_send_delivery(delivery.pk) == "failed"
        delivery.refresh_from_db()
        later = {row.run_after for row in queued.all()}
        assert len(later) == 2 and delivery.next_attempt_at in later
        # The same task arriving again before the retry is due does nothing.
        assert do_send_delivery(delivery.pk) == "not_due"
        assert do_send_delivery(delivery.pk, at=delivery.next_attempt_at) == "succeeded"
        assert do_send_delivery(delivery.pk, at=delivery.next_attempt_at) == "not_due"
        assert len(receiver.wait_for(2)) == 2


def test_after_a_roll_both_secrets_sign_until_the_old_one_expires(world: World) -> None:
    verify = documented_verifier()
    with receiving() as receiver:
        endpoint, old = add_endpoint(world.client_admin_a, world.engagement_a, receiver.url)
        new = do_roll_secret(world.client_admin_a, endpoint, keep_previous_hours=24)
        endpoint.refresh_from_db()
        actions.do_send_test_event(world.client_admin_a, endpoint)
        do_roll_secret(world.client_admin_a, endpoint, keep_previous_hours=0)
        endpoint.refresh_from_db()
        actions.do_send_test_event(world.client_admin_a, endpoint)
        first, second = receiver.wait_for(2)
    assert new != old and new.startswith("whsec_")
    assert first.headers["Relaydesk-Signature"].count("v1=") == 2
    assert verify(first.body, first.headers["Relaydesk-Signature"], old)
    assert verify(first.body, first.headers["Relaydesk-Signature"], new)
    assert second.headers["Relaydesk-Signature"].count("v1=") == 1
    assert not verify(second.body, second.headers["Relaydesk-Signature"], new)
    assert not verify(second.body, second.headers["Relaydesk-Signature"], old)


def test_the_secret_is_stored_only_encrypted(world: World) -> None:
    endpoint, secret = add_endpoint(
        world.client_admin_a, world.engagement_a, "https://hooks.example.com/relaydesk"
    )
    endpoint.refresh_from_db()
    stored = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for v in endpoint.__dict__.values()
    )
    assert secret.encode() not in stored
    assert endpoint.secret_hint == secret[-4:]
    assert actions.signing_secrets(endpoint) == [secret]


def test_finished_deliveries_leave_the_log_after_thirty_days(world: World) -> None:
    endpoint, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, "https://hooks.example.com/relaydesk"
    )
    old = timezone.now() - dt.timedelta(days=31)
    actions.queue_event(world.engagement_a, "work_item.submitted", {}, at=old)
    WebhookDelivery.objects.update(state=DeliveryState.SUCCEEDED, next_attempt_at=None)
    actions.queue_event(world.engagement_a, "work_item.submitted", {})
    WebhookDelivery.objects.filter(state="pending").update(next_attempt_at=None)
    do_send_due_deliveries()
    assert [d.created_at > old for d in deliveries(endpoint=endpoint)] == [True]


def test_a_change_the_client_makes_through_the_api_queues_its_event(
    world: World, on_commit: Any
) -> None:
    from django.test import Client as HttpClient

    from relaydesk.accounts.actions import do_create_api_token

    endpoint, _ = add_endpoint(
        world.client_admin_a, world.engagement_a, "https://hooks.example.com/relaydesk"
    )
    item = submit(world.member_a, world.engagement_a)
    _, token = do_create_api_token(world.member_a, name="case system")
    program = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    with on_commit(execute=True):
        answer = program.post(
            f"/api/v1/work-items/{item.pk}/transitions",
            {"action": "cancel", "note": "Sent by mistake"},
            content_type="application/json",
        )
    assert answer.status_code == 200, answer.content
    (delivery,) = deliveries(endpoint=endpoint)
    assert delivery.event_type == "work_item.cancelled"
    assert delivery.client_id == world.client_a.pk
    assert delivery.payload["data"]["work_item"]["state"] == "cancelled"
