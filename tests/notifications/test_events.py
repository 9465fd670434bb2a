"""Who is told what, when work moves: deliveries, rework, SLA warnings, handoffs, reviews,
comments; and a notification that cannot be written never fails the work (for e-mail that
fails, see test_email_delivery.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from relaydesk.core.lifecycle import Action, State
from relaydesk.notifications.actions import do_set_preferences
from relaydesk.notifications.kinds import Kind
from relaydesk.notifications.models import Notification
from relaydesk.routing.actions import do_hand_off
from relaydesk.sla.actions import do_set_sla_policy, do_watch_clocks
from relaydesk.work.actions import (
    NewWorkItem,
    do_add_comment,
    do_assign,
    do_submit_work_item,
    do_transition,
)
from relaydesk.work.models import WorkItem
from tests.conftest import World, submit
from tests.notifications.support import in_progress, next_shift_agent, review_policy, told

pytestmark = pytest.mark.django_db

INTERNAL_NOTE = "Internal: the scans of page 3 were unreadable"


@pytest.fixture
def named(world: World) -> World:
    """The cast with names a test can look for in what the client reads."""
    for user, name in (
        (world.agent, "Maria Santos"),
        (world.other_agent, "Jun Reyes"),
        (world.qa, "Quentin Quality"),
        (world.lead, "Lena Lead"),
        (world.member_a, "Alice Member"),
        (world.client_admin_a, "Abel Admin"),
    ):
        user.full_name = name
        user.save(update_fields=["full_name"])
    review_policy("data-entry", "none")
    return world


def _deliver(world: World, committed: Any, **fields: Any) -> WorkItem:
    item = in_progress(world, **fields)
    do_add_comment(world.agent, item, INTERNAL_NOTE, visibility="internal")
    with committed(execute=True):
        return do_transition(world.agent, item, Action.COMPLETE)


def _mail_text(message: Any) -> str:
    html = "".join(str(content) for content, _ in message.alternatives)
    return f"{message.subject}\n{message.body}\n{html}"


# --- deliveries ---------------------------------------------------------------------------------


def test_a_delivery_tells_the_submitter_in_relaydesk_and_by_email_naming_nobody_of_the_provider(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = _deliver(named, django_capture_on_commit_callbacks)
    assert item.state == State.DELIVERED

    [notification] = told(named.member_a)
    assert notification.kind == Kind.ITEM_DELIVERED
    assert notification.title == f"{item.reference} delivered: Key 40 claim forms"
    assert notification.url == f"/items/{item.pk}/" and notification.read_at is None
    assert notification.client_id == named.client_a.pk

    [message] = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    assert message.to == ["member@alpha.test"]
    assert message.subject == f"[Relaydesk] {item.reference} delivered: Key 40 claim forms"
    assert [mimetype for _, mimetype in message.alternatives] == ["text/html"]
    text = _mail_text(message)
    assert f"/notifications/{notification.pk}/" in text
    assert "Maria Santos" not in text and INTERNAL_NOTE not in text
    assert "Hello Alice," in message.body
    assert Notification.objects.get(pk=notification.pk).emailed_at is not None
    # The client's admin did not ask to hear of every delivery; nobody of the provider is told.
    assert told(named.client_admin_a) == [] and told(named.agent) == []


def test_a_client_admin_who_opts_in_hears_of_every_delivery_of_the_firm(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    do_set_preferences(named.client_admin_a, {"firm_item_delivered": (True, "digest")})
    item = _deliver(named, django_capture_on_commit_callbacks)

    [notification] = told(named.client_admin_a)
    assert notification.kind == Kind.FIRM_ITEM_DELIVERED and notification.email == "digest"
    assert "submitted by Alice Member" in notification.body
    assert "Maria Santos" not in notification.body
    assert [m.to for m in mail.outbox] == [["member@alpha.test"]]  # the admin's waits for 08:00
    assert told(named.client_admin_b) == []
    assert item.state == State.DELIVERED


def test_history_loaded_after_the_fact_tells_nobody(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    long_ago = timezone.now() - dt.timedelta(days=3)
    item, _ = do_submit_work_item(
        named.member_a,
        NewWorkItem(
            engagement_id=named.engagement_a.pk, service_slug="data-entry", title="Old forms"
        ),
        at=long_ago,
    )
    do_assign(named.lead, item, named.agent.agent, at=long_ago)
    do_transition(named.agent, item, Action.START, at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(named.agent, item, Action.COMPLETE, at=long_ago + dt.timedelta(hours=2))
    assert Notification.objects.count() == 0 and mail.outbox == []


# --- rework -------------------------------------------------------------------------------------


def test_the_clients_request_for_rework_tells_the_agent_holding_the_item(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = _deliver(named, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(named.member_a, item, Action.REQUEST_REWORK, note="Row 12 has the old IBAN")

    [notification] = told(named.agent)
    assert notification.kind == Kind.REWORK_REQUESTED
    assert notification.title == f"{item.reference} back for rework: the client asked"
    assert "The client wrote: Row 12 has the old IBAN" in notification.body
    [message] = mail.outbox
    assert message.to == ["agent@provider.test"]


def test_a_reviewer_returning_work_tells_the_holder_and_the_reworked_item_comes_back_to_them(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    review_policy("data-entry", "mandatory")
    item = in_progress(named)
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(named.agent, item, Action.COMPLETE)
    # Entering review for the first time: the reviewers of the role are told it waits.
    [waiting] = told(named.qa)
    assert waiting.kind == Kind.REVIEW_WAITING and waiting.email == "off"
    assert told(named.attorney) == []  # another review role

    with django_capture_on_commit_callbacks(execute=True):
        do_transition(named.qa, item, Action.RETURN_FOR_REWORK, note="Totals do not add up")
    [rework] = told(named.agent, Kind.REWORK_REQUESTED)
    assert rework.title == f"{item.reference} returned for rework in review"
    assert "Quentin Quality wrote: Totals do not add up" in rework.body

    with django_capture_on_commit_callbacks(execute=True):
        do_transition(named.agent, item, Action.START)
        do_transition(named.agent, item, Action.COMPLETE)
    assigned = told(named.qa, Kind.REVIEW_ASSIGNED)
    assert [n.title for n in assigned] == [f"{item.reference} is back for your review"]
    assert any(m.to == ["qa@provider.test"] for m in mail.outbox)


def test_reviewers_who_worked_the_item_are_not_asked_to_review_it(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    review_policy("data-entry", "mandatory")
    item = in_progress(named)
    # The reviewer once started this item's work (as if they had held it).
    from relaydesk.work.models import WorkItemEvent

    WorkItemEvent.objects.create(
        client_id=item.client_id, item=item, actor=named.qa, kind="start", at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(named.agent, item, Action.COMPLETE)
    assert told(named.qa) == []


# --- comments -----------------------------------------------------------------------------------


def test_a_reply_from_the_provider_tells_the_submitter_without_saying_who_wrote_it(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = in_progress(named)
    with django_capture_on_commit_callbacks(execute=True):
        do_add_comment(named.agent, item, "Which tax year are these forms for?")
        do_add_comment(named.agent, item, INTERNAL_NOTE, visibility="internal")
    [notification] = told(named.member_a)
    assert notification.kind == Kind.COMMENT_ADDED
    assert notification.body == "The provider's team wrote: Which tax year are these forms for?"
    assert "Maria Santos" not in _mail_text(mail.outbox[0])
    assert told(named.agent) == []  # one's own comments tell nobody

    with django_capture_on_commit_callbacks(execute=True):
        do_add_comment(named.member_a, item, "2025, all of them.")
    [for_agent] = told(named.agent)
    assert for_agent.body == "Alice Member wrote: 2025, all of them."
    assert for_agent.email == "off"  # agents see comments in Relaydesk unless they ask


# --- SLA ----------------------------------------------------------------------------------------


def test_an_sla_warning_tells_the_holder_and_the_operations_lead_each_in_their_time_zone(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    named.lead.time_zone = "Europe/London"
    named.lead.save(update_fields=["time_zone"])
    do_set_sla_policy(
        named.lead,
        named.engagement_a,
        turnaround_minutes=240,
        turnaround_business=False,
        warn_at="75,90",
    )
    item, _ = do_submit_work_item(
        named.member_a,
        NewWorkItem(
            engagement_id=named.engagement_a.pk, service_slug="data-entry", title="Key forms"
        ),
        at=timezone.now() - dt.timedelta(hours=3.2),  # 80 % of 4 h
    )
    do_assign(named.lead, item, named.agent.agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert do_watch_clocks().warnings == 1

    [for_agent] = told(named.agent)
    [for_lead] = told(named.lead)
    assert for_agent.kind == for_lead.kind == Kind.SLA_WARNING
    assert for_agent.title == f"{item.reference}: 75 % of its turnaround time used"
    assert "(Asia/Manila)" in for_agent.body and "(Europe/London)" in for_lead.body
    assert "held by Maria Santos" in for_lead.body
    # The agent is e-mailed at once; the lead reads it in Relaydesk and in the morning digest.
    assert [m.to for m in mail.outbox] == [["agent@provider.test"]]
    assert for_lead.email == "digest"
    assert told(named.member_a) == []  # a warning is the provider's business
    # The next run has nothing new to say, and tells nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        do_watch_clocks()
    assert Notification.objects.filter(kind=Kind.SLA_WARNING).count() == 2


def test_a_missed_target_on_a_queued_item_tells_the_leads(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    do_set_sla_policy(
        named.lead, named.engagement_a, turnaround_minutes=60, turnaround_business=False
    )
    item, _ = do_submit_work_item(
        named.member_a,
        NewWorkItem(
            engagement_id=named.engagement_a.pk, service_slug="data-entry", title="Key forms"
        ),
        at=timezone.now() - dt.timedelta(hours=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        do_watch_clocks()
    titles = {n.title for n in told(named.lead)}
    assert f"{item.reference} missed its turnaround target" in titles
    assert told(named.agent) == []


def _late_item(world: World, hours_ago: float, **ladder: Any) -> WorkItem:
    """An item of client A under a 4-hour calendar-time turnaround, submitted ``hours_ago``,
    held by the agent, with an internal note on it."""
    do_set_sla_policy(
        world.lead,
        world.engagement_a,
        turnaround_minutes=240,
        turnaround_business=False,
        **ladder,
    )
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Key forms"
        ),
        at=timezone.now() - dt.timedelta(hours=hours_ago),
    )
    do_assign(world.lead, item, world.agent.agent)
    do_add_comment(world.agent, item, INTERNAL_NOTE, visibility="internal")
    return item


def test_the_lead_alert_step_tells_every_operations_lead_as_each_chose(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    from relaydesk.accounts.actions import do_create_user
    from relaydesk.core.roles import Role
    from tests.conftest import PASSWORD

    second_lead = do_create_user(
        None,
        email="lead2@provider.test",
        full_name="Lars Lead",
        role=Role.OPS_LEAD,
        password=PASSWORD,
        time_zone="Europe/London",
    )
    do_set_preferences(second_lead, {Kind.SLA_LEAD_ALERT.value: (True, "off")})
    item = _late_item(named, hours_ago=3.8)  # 95 % of 4 h: past the lead's 90 %
    with django_capture_on_commit_callbacks(execute=True):
        assert do_watch_clocks().escalations == 1

    [for_lead] = told(named.lead, Kind.SLA_LEAD_ALERT)
    [for_second] = told(second_lead, Kind.SLA_LEAD_ALERT)
    assert for_lead.title == f"{item.reference} escalated: 90 % of its turnaround time used"
    assert for_lead.body.startswith("Key forms (Alpha Law, Data entry), held by Maria Santos.")
    assert "(Asia/Manila)" in for_lead.body and "(Europe/London)" in for_second.body
    assert for_lead.url == f"/items/{item.pk}/"
    # The lead is e-mailed at once by default; the second lead chose the list only.
    assert (for_lead.email, for_second.email) == ("now", "off") and for_second.in_app
    alerts = [m for m in mail.outbox if "escalated" in m.subject]
    assert [m.to for m in alerts] == [["lead@provider.test"]]
    # The agent hears of warnings, not of the lead's step; the client of neither.
    assert told(named.agent, Kind.SLA_LEAD_ALERT) == []
    assert told(named.member_a) == told(named.client_admin_a) == []
    # The next run has taken the step already, and tells nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        assert do_watch_clocks().escalations == 0
    assert Notification.objects.filter(kind=Kind.SLA_LEAD_ALERT).count() == 2


def test_the_client_step_tells_that_clients_admins_what_their_timeline_says_and_no_more(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    from relaydesk.accounts.actions import do_create_user
    from relaydesk.core.roles import Role
    from relaydesk.work import queries
    from tests.conftest import PASSWORD

    second_admin = do_create_user(
        None,
        email="partner@alpha.test",
        full_name="Paula Partner",
        role=Role.CLIENT_ADMIN,
        password=PASSWORD,
        client=named.client_a,
        time_zone="America/New_York",
    )
    item = _late_item(named, hours_ago=5.2)  # 130 % of 4 h: every step at once
    with django_capture_on_commit_callbacks(execute=True):
        assert do_watch_clocks().escalations == 3

    [for_admin] = told(named.client_admin_a, Kind.SLA_CLIENT_ALERT)
    [for_partner] = told(second_admin, Kind.SLA_CLIENT_ALERT)
    assert for_admin.title == f"{item.reference} is running late: Key forms"
    assert for_admin.body.startswith(
        "A request of your firm, “Key forms” (Claims support, Data entry), is past its "
        "turnaround target, due "
    )
    assert for_admin.body.endswith("(Asia/Manila). The provider's team lead is on it.")
    assert "(America/New_York)" in for_partner.body
    assert for_admin.client_id == named.client_a.pk and for_admin.email == "now"
    # The timeline entry the client reads says the same; the notification adds nothing the
    # client may not read: no agent, no internal note, no share of the target.
    [entry] = [
        e for e in queries.visible_events(named.client_admin_a, item) if e.kind == "sla_escalated"
    ]
    assert entry.note.startswith("Your admins have been told this item is late: Turnaround")
    to_admins = [m for m in mail.outbox if set(m.to) & {"admin@alpha.test", "partner@alpha.test"}]
    assert len(to_admins) == 2
    for text in [for_admin.title, for_admin.body, *(_mail_text(m) for m in to_admins)]:
        for secret in ("Maria Santos", "Lena Lead", INTERNAL_NOTE, " %"):
            assert secret not in text
    # Only the admins of the item's client: never its members, never another client.
    assert told(named.member_a, Kind.SLA_CLIENT_ALERT) == []
    assert told(named.client_admin_b) == told(named.member_b) == []
    assert Notification.objects.filter(kind=Kind.SLA_CLIENT_ALERT).count() == 2
    # The leads heard of the first step, which the same run took.
    assert len(told(named.lead, Kind.SLA_LEAD_ALERT)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert do_watch_clocks().escalations == 0
    assert Notification.objects.filter(kind=Kind.SLA_CLIENT_ALERT).count() == 2


def test_a_ladder_that_tells_the_client_before_the_due_time_says_the_item_may_run_late(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = _late_item(named, hours_ago=3.4, lead_at=50, raise_priority_at=None, client_at=80)
    with django_capture_on_commit_callbacks(execute=True):
        assert do_watch_clocks().escalations == 2  # 85 %: the lead, then the client

    [for_admin] = told(named.client_admin_a, Kind.SLA_CLIENT_ALERT)
    assert for_admin.title == f"{item.reference} may run late: Key forms"
    assert "is close to its turnaround target, due " in for_admin.body
    [for_lead] = told(named.lead, Kind.SLA_LEAD_ALERT)
    assert for_lead.title == f"{item.reference} escalated: 50 % of its turnaround time used"


def test_an_admin_who_turned_the_client_step_off_is_not_told(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    do_set_preferences(named.client_admin_a, {Kind.SLA_CLIENT_ALERT.value: (False, "off")})
    _late_item(named, hours_ago=5.2)
    with django_capture_on_commit_callbacks(execute=True):
        do_watch_clocks()
    assert told(named.client_admin_a) == []
    assert all("alpha.test" not in address for m in mail.outbox for address in m.to)


# --- handoffs -----------------------------------------------------------------------------------


def test_a_handoff_tells_the_agent_it_is_offered_to(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    relay = next_shift_agent(named)
    item = in_progress(named)
    with django_capture_on_commit_callbacks(execute=True):
        handoff = do_hand_off(named.agent, item, "First half keyed; rows 20-40 left.")
    assert handoff.to_agent == relay

    [notification] = told(relay.user)
    assert notification.kind == Kind.HANDOFF_WAITING
    assert notification.title == f"{item.reference} handed to you by Maria Santos"
    assert "Maria Santos's note: First half keyed; rows 20-40 left." in notification.body
    assert "Acknowledge it by" in notification.body and "(Asia/Manila)" in notification.body
    assert notification.url == "/workspace/"
    assert [m.to for m in mail.outbox] == [["relay@provider.test"]]
    assert told(named.member_a) == []  # the client never hears who holds its work


# --- failures -----------------------------------------------------------------------------------


def test_a_notification_that_cannot_be_written_never_fails_the_work(
    named: World,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from relaydesk.notifications import receivers

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(receivers, "do_notify", broken)
    with caplog.at_level(logging.ERROR, logger="relaydesk.notifications"):
        item = _deliver(named, django_capture_on_commit_callbacks)
    assert WorkItem.objects.get(pk=item.pk).state == State.DELIVERED
    assert f"Notifications of item {item.pk} were not written" in caplog.text


def test_inactive_people_and_people_of_another_client_are_never_told(
    named: World, django_capture_on_commit_callbacks: Any
) -> None:
    from relaydesk.notifications.actions import Note, do_notify

    item = submit(named.member_a, named.engagement_a)
    named.member_a.is_active = False
    named.member_a.save(update_fields=["is_active"])
    written = do_notify(
        Kind.ITEM_DELIVERED,
        item,
        [Note(named.member_a, "x"), Note(named.member_b, "x"), Note(named.client_admin_b, "x")],
    )
    assert written == []
