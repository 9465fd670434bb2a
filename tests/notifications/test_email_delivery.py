"""E-mails sent right away leave the request: the change commits, a task sends the e-mail,
and a mail server that is slow or refuses never fails the work. What became of each e-mail
is kept on its notification, and the sweep tries a failed one again, a few times."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.core.lifecycle import Action, State
from relaydesk.notifications.actions import (
    MAX_EMAIL_ATTEMPTS,
    RETRY_AFTER,
    Note,
    do_notify,
    do_send_digests,
    do_send_notification_email,
)
from relaydesk.notifications.kinds import Kind
from relaydesk.notifications.models import EmailStatus, Notification
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, submit
from tests.notifications.support import (
    in_progress,
    mail_server_at_closed_port,
    review_policy,
    run_the_worker,
    tasks_in_the_database,
    told,
    working_mail_server,
)

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
EMAIL_TASK = "send_notification_email"


@pytest.fixture
def delivered_without_review(world: World) -> World:
    """The cast, with data entry delivered as soon as the agent completes it."""
    review_policy("data-entry", "none")
    return world


def _complete_through_the_api(world: World, item: WorkItem, committed: Any) -> Any:
    """The agent completes the item with the API, the follow-ups of the commit run."""
    from django.test import Client as HttpClient

    _, token = do_create_api_token(world.agent, name="desk")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    with committed(execute=True):
        return http.post(
            f"/api/v1/work-items/{item.pk}/transitions",
            {"action": "complete"},
            content_type="application/json",
        )


def _queued_emails() -> list[list[Any]]:
    rows = DBTaskResult.objects.filter(task_path__endswith=EMAIL_TASK).order_by("enqueued_at")
    return [row.args_kwargs["args"] for row in rows]


def test_the_action_answers_before_the_email_is_sent_and_the_worker_sends_it(
    delivered_without_review: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world = delivered_without_review
    tasks_in_the_database(settings)
    item = in_progress(world)

    response = _complete_through_the_api(world, item, django_capture_on_commit_callbacks)

    assert response.status_code == 200, response.content
    assert response.json()["state"] == State.DELIVERED
    [notification] = told(world.member_a, Kind.ITEM_DELIVERED)
    assert notification.email_status == EmailStatus.PENDING
    assert mail.outbox == []  # nothing was sent while the agent waited
    assert _queued_emails() == [[notification.pk]]

    assert run_the_worker() == [(EMAIL_TASK, "SUCCESSFUL", "sent")]
    [message] = mail.outbox
    assert message.to == ["member@alpha.test"]
    assert message.subject == f"[Relaydesk] {notification.title}"
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.SENT
    assert notification.emailed_at is not None and notification.email_error == ""

    # The same task arriving twice, or the sweep after it, sends nothing more.
    assert do_send_notification_email(notification.pk) == "not_due"
    assert do_send_digests(at=timezone.now() + dt.timedelta(hours=1)).retried == 0
    assert len(mail.outbox) == 1


def test_a_refusing_mail_server_never_fails_the_action_and_the_retry_sends_the_email(
    delivered_without_review: World,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = delivered_without_review
    tasks_in_the_database(settings)
    url = mail_server_at_closed_port(settings)
    item = in_progress(world)

    with caplog.at_level(logging.INFO):
        response = _complete_through_the_api(world, item, django_capture_on_commit_callbacks)
        assert response.status_code == 200, response.content
        # The worker's try reaches the real (absent) server: refused, and recorded.
        assert run_the_worker() == [(EMAIL_TASK, "SUCCESSFUL", "failed")]

    assert WorkItem.objects.get(pk=item.pk).state == State.DELIVERED
    [notification] = told(world.member_a, Kind.ITEM_DELIVERED)
    assert notification.email_status == EmailStatus.FAILED
    assert notification.email_attempts == 1 and notification.emailed_at is None
    assert notification.email_error == (
        "ConnectionRefusedError: The mail server refused the connection."
    )
    assert f"E-mail of notification {notification.pk} failed (ConnectionRefusedError" in (
        caplog.text
    )
    for secret in ("hunter2-secret", "relay-mailer", url, "member@alpha.test"):
        assert secret not in caplog.text and secret not in notification.email_error

    # Not tried again at once: the sweep waits before the second try.
    working_mail_server(settings)
    tried_at = notification.email_tried_at
    assert tried_at is not None
    assert do_send_digests(at=tried_at + RETRY_AFTER[0] - MINUTE).retried == 0
    assert mail.outbox == []
    assert do_send_digests(at=tried_at + RETRY_AFTER[0]).retried == 1
    assert [m.to for m in mail.outbox] == [["member@alpha.test"]]
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.SENT
    assert notification.email_attempts == 1 and notification.email_error == ""
    assert do_send_digests(at=tried_at + dt.timedelta(hours=3)).retried == 0
    assert len(mail.outbox) == 1


def test_an_action_rolled_back_sends_nothing_and_leaves_nothing_to_send(
    delivered_without_review: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world = delivered_without_review
    tasks_in_the_database(settings)
    item = in_progress(world)

    class Undone(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Undone), transaction.atomic():
            do_transition(world.agent, item, Action.COMPLETE)
            raise Undone
        # Telling someone directly, inside a change that is then undone, as well.
        with pytest.raises(Undone), transaction.atomic():
            do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Delivered")])
            raise Undone

    assert callbacks == []
    assert WorkItem.objects.get(pk=item.pk).state == State.IN_PROGRESS
    assert Notification.objects.count() == 0
    assert _queued_emails() == []
    assert run_the_worker() == []
    assert do_send_digests(at=timezone.now() + dt.timedelta(hours=1)).retried == 0
    assert mail.outbox == []


def test_a_failing_email_is_tried_a_few_times_further_apart_then_given_up(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.support.BrokenMailer"}}
    item = submit(world.member_a, world.engagement_a)
    with django_capture_on_commit_callbacks(execute=True):
        [notification] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Done")])

    notification.refresh_from_db()
    assert (notification.email_status, notification.email_attempts) == (EmailStatus.FAILED, 1)
    # The server's answer quotes a credential: only the kind of failure is kept.
    assert notification.email_error == (
        "SMTPAuthenticationError: The mail server refused the sign-in."
    )
    at = notification.email_tried_at
    assert at is not None
    for wait in RETRY_AFTER:
        at += wait
        run = do_send_digests(at=at)
        assert (run.retried, run.failed) == (0, 1)
        notification.refresh_from_db()
        assert notification.email_tried_at == at
    assert notification.email_attempts == MAX_EMAIL_ATTEMPTS
    assert notification.email_status == EmailStatus.GIVEN_UP

    working_mail_server(settings)
    assert do_send_digests(at=at + dt.timedelta(hours=6)).retried == 0
    assert mail.outbox == []
    # Given up by e-mail, still in the person's list.
    assert told(world.member_a) == [notification] and notification.read_at is None


def test_the_sweep_sends_an_email_whose_task_never_ran_and_the_late_task_sends_nothing(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tasks_in_the_database(settings)
    item = submit(world.member_a, world.engagement_a)
    with django_capture_on_commit_callbacks(execute=True):
        [notification] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Done")])

    # No worker runs: a minute on, the task may still come; two minutes on, the sweep sends it.
    assert do_send_digests(at=notification.created_at + MINUTE).retried == 0
    assert do_send_digests(at=notification.created_at + 2 * MINUTE).retried == 1
    assert len(mail.outbox) == 1
    assert run_the_worker() == [(EMAIL_TASK, "SUCCESSFUL", "not_due")]
    assert len(mail.outbox) == 1


def test_an_email_read_before_it_is_sent_or_about_an_item_moved_on_is_skipped(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tasks_in_the_database(settings)
    item = submit(world.member_a, world.engagement_a)
    with django_capture_on_commit_callbacks(execute=True):
        [read_first] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Read")])
        [moved_on] = do_notify(Kind.REWORK_REQUESTED, item, [Note(world.agent, "Yours")])
    Notification.objects.filter(pk=read_first.pk).update(read_at=timezone.now())
    # Before the worker runs, the item goes to another agent: not the first one's to open.
    do_assign(world.lead, item, world.other_agent.agent)

    assert run_the_worker() == [
        (EMAIL_TASK, "SUCCESSFUL", "skipped"),
        (EMAIL_TASK, "SUCCESSFUL", "skipped"),
    ]
    assert mail.outbox == []
    statuses = Notification.objects.filter(pk__in=[read_first.pk, moved_on.pk])
    assert set(statuses.values_list("email_status", flat=True)) == {EmailStatus.SKIPPED}
    assert do_send_digests(at=timezone.now() + dt.timedelta(hours=1)).retried == 0


def test_a_try_cut_off_mid_way_counts_as_failed_and_is_tried_again(
    world: World, settings: Any
) -> None:
    item = submit(world.member_a, world.engagement_a)
    [notification] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Done")])
    started = timezone.now()
    # A worker stopped while it was sending: the claim stays behind.
    Notification.objects.filter(pk=notification.pk).update(
        email_status=EmailStatus.SENDING, email_tried_at=started
    )
    assert do_send_digests(at=started + 10 * MINUTE).retried == 0
    assert do_send_notification_email(notification.pk) == "not_due"
    assert mail.outbox == []

    # A quarter of an hour on, it counts as a failed try, long enough ago to try again.
    assert do_send_digests(at=started + 15 * MINUTE).retried == 1
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert (notification.email_status, notification.email_attempts) == (EmailStatus.SENT, 1)


def test_an_email_still_owed_a_day_later_is_given_up(world: World, settings: Any) -> None:
    tasks_in_the_database(settings)
    item = submit(world.member_a, world.engagement_a)
    [notification] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Done")])
    do_send_digests(at=notification.created_at + dt.timedelta(days=1))
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.GIVEN_UP
    assert notification.email_error == "Not sent within a day of being written."
    assert do_send_notification_email(notification.pk) == "not_due"
    assert mail.outbox == []


def test_notifications_not_emailed_right_away_have_no_email_status(world: World) -> None:
    from relaydesk.notifications.actions import do_set_preferences

    do_set_preferences(world.member_a, {"item_delivered": (True, "digest")})
    item = submit(world.member_a, world.engagement_a)
    [notification] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Later")])
    assert notification.email_status == EmailStatus.NONE
    assert do_send_notification_email(notification.pk) == "not_due"


def test_one_refused_address_does_not_hold_up_the_others_in_a_sweep(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.notifications.support import RefusingMailer

    tasks_in_the_database(settings)
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.support.RefusingMailer"}}
    type(world.member_a).objects.filter(pk=world.member_a.pk).update(email=RefusingMailer.REFUSED)
    world.member_a.refresh_from_db()
    item = submit(world.member_a, world.engagement_a)
    with django_capture_on_commit_callbacks(execute=True):
        refused, delivered = do_notify(
            Kind.ITEM_DELIVERED,
            item,
            [Note(world.member_a, "Done"), Note(world.client_admin_a, "Done")],
        )
    assert refused.pk < delivered.pk  # the refused one comes first in the sweep

    run = do_send_digests(at=refused.created_at + 2 * MINUTE)
    assert (run.retried, run.failed) == (1, 1)
    assert [m.to for m in mail.outbox] == [[world.client_admin_a.email]]
    refused.refresh_from_db()
    assert refused.email_status == EmailStatus.FAILED
    assert refused.email_error == (
        "SMTPRecipientsRefused: The mail server refused the recipient's address."
    )
