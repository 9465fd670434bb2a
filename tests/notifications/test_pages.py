"""The notification pages, the settings, the unread badge and the daily digest."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import Action
from relaydesk.core.roles import Role
from relaydesk.errors import Invalid
from relaydesk.notifications.actions import (
    Note,
    do_mark_all_read,
    do_notify,
    do_send_digests,
    do_set_preferences,
)
from relaydesk.notifications.kinds import Email, Kind, default_for, kinds_for
from relaydesk.notifications.models import Notification, NotificationDigest
from relaydesk.notifications.queries import preferences_of
from relaydesk.work.actions import do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, login, submit
from tests.notifications.support import in_progress, review_policy, told

pytestmark = pytest.mark.django_db

MANILA = ZoneInfo("Asia/Manila")
CHICAGO = ZoneInfo("America/Chicago")


def _tell(
    user: User, item: WorkItem, title: str, *, kind: Kind = Kind.ITEM_DELIVERED, at: Any = None
) -> Notification:
    [row] = do_notify(
        kind, item, [Note(user, title, "Body of " + title, f"/items/{item.pk}/")], at=at
    )
    return row


def _badge(page: str) -> str | None:
    found = re.search(r'<span class="bell-count"[^>]*>([^<]+)</span>', page)
    return found.group(1) if found else None


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_unread_first_and_the_badge_counts_them(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    old = _tell(world.member_a, item, "First news", at=dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    _tell(world.member_a, item, "Second news", at=dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC))
    _tell(world.member_a, item, "Third news", at=dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC))
    browser = login(world.member_a)
    browser.post(f"/notifications/{old.pk}/read/")
    # A newer one read: still listed after the unread ones.
    third = Notification.objects.get(title="Third news")
    browser.post(f"/notifications/{third.pk}/read/")

    page = browser.get("/notifications/").content.decode()
    order = [t for t in ("Second news", "Third news", "First news") if t in page]
    assert order == ["Second news", "Third news", "First news"]
    assert page.index("Second news") < page.index("Third news") < page.index("First news")
    assert _badge(page) == "1"
    assert 'aria-label="Notifications, 1 unread"' in page
    # Times in the reader's own time zone: 02:00 UTC is 10:00 in Manila.
    assert "Mon 2 Mar, 10:00" in page
    assert "1 unread, shown first." in page


def test_mark_all_read_empties_the_badge_and_the_unread_tab(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    for n in range(3):
        _tell(world.member_a, item, f"News {n}")
    browser = login(world.member_a)
    assert _badge(browser.get("/portal/").content.decode()) == "3"
    response = browser.post("/notifications/read/", follow=True)
    page = response.content.decode()
    assert "Marked 3 notifications read." in page
    assert _badge(page) is None and "All caught up." in page
    assert "No unread notifications." in browser.get("/notifications/?show=unread").content.decode()
    assert do_mark_all_read(world.member_a) == 0


def test_the_badge_costs_one_count(world: World, django_assert_max_num_queries: Any) -> None:
    from relaydesk.notifications.queries import unread_count

    item = submit(world.member_a, world.engagement_a)
    for n in range(120):
        _tell(world.member_a, item, f"News {n}")
    with django_assert_max_num_queries(1):
        assert unread_count(world.member_a) == 120
    assert _badge(login(world.member_a).get("/notifications/").content.decode()) == "99+"


def test_opening_a_notification_marks_it_read_and_leads_to_its_item(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    notification = _tell(world.member_a, item, "Delivered")
    response = login(world.member_a).get(f"/notifications/{notification.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/items/{item.pk}/"
    assert Notification.objects.get(pk=notification.pk).read_at is not None


def test_an_item_that_moved_on_is_neither_linked_nor_described(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    review_policy("data-entry", "none")
    item = in_progress(world, title="Payroll of the Manila office")
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(world.agent, item, Action.COMPLETE)
        do_transition(world.member_a, item, Action.REQUEST_REWORK, note="Wrong month")
    [rework] = told(world.agent, Kind.REWORK_REQUESTED)
    browser = login(world.agent)
    page = browser.get("/notifications/").content.decode()
    assert "Payroll of the Manila office" in page and f"/notifications/{rework.pk}/" in page

    # A lead gives the item to another agent: the first can no longer open it.
    from relaydesk.work.actions import do_assign

    do_assign(world.lead, item, world.other_agent.agent)
    page = browser.get("/notifications/").content.decode()
    assert "Payroll of the Manila office" not in page and "Wrong month" not in page
    assert f"RD-{item.pk}" in page and "you can no longer open it" in page
    response = browser.get(f"/notifications/{rework.pk}/", follow=True)
    assert response.redirect_chain[-1][0] == "/notifications/"
    assert "has moved on since" in response.content.decode()


# --- nobody else's ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member_a", "client_admin_b", "agent", "lead", "admin"])
def test_nobody_reads_or_marks_another_persons_notification(world: World, who: str) -> None:
    item = submit(world.client_admin_a, world.engagement_a, title="Alpha confidential batch")
    theirs = _tell(world.client_admin_a, item, "Alpha confidential batch delivered")
    browser = login(getattr(world, who))
    assert browser.get(f"/notifications/{theirs.pk}/").status_code == 404
    assert browser.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert browser.get("/notifications/999999/").status_code == 404
    browser.post("/notifications/read/")
    page = browser.get("/notifications/").content.decode()
    assert "Alpha confidential" not in page
    assert Notification.objects.get(pk=theirs.pk).read_at is None


# --- settings -----------------------------------------------------------------------------------


def test_each_role_is_offered_only_the_kinds_that_concern_it() -> None:
    assert kinds_for(Role.CLIENT_MEMBER) == [Kind.ITEM_DELIVERED, Kind.COMMENT_ADDED]
    assert kinds_for(Role.CLIENT_ADMIN) == [
        Kind.ITEM_DELIVERED,
        Kind.FIRM_ITEM_DELIVERED,
        Kind.COMMENT_ADDED,
        Kind.SLA_CLIENT_ALERT,
    ]
    assert kinds_for(Role.AGENT) == [
        Kind.COMMENT_ADDED,
        Kind.REWORK_REQUESTED,
        Kind.SLA_WARNING,
        Kind.HANDOFF_WAITING,
    ]
    assert kinds_for(Role.OPS_LEAD) == [Kind.SLA_WARNING, Kind.SLA_LEAD_ALERT]
    assert kinds_for(Role.QA_REVIEWER) == [Kind.REVIEW_ASSIGNED, Kind.REVIEW_WAITING]
    assert kinds_for(Role.SUPERVISING_ATTORNEY) == kinds_for(Role.QA_REVIEWER)
    assert kinds_for(Role.PROVIDER_ADMIN) == []
    assert default_for(Kind.SLA_WARNING, Role.OPS_LEAD) == (True, Email.DIGEST)
    assert default_for(Kind.SLA_WARNING, Role.AGENT) == (True, Email.NOW)
    assert default_for(Kind.FIRM_ITEM_DELIVERED, Role.CLIENT_ADMIN) == (False, Email.OFF)
    assert default_for(Kind.SLA_LEAD_ALERT, Role.OPS_LEAD) == (True, Email.NOW)
    assert default_for(Kind.SLA_CLIENT_ALERT, Role.CLIENT_ADMIN) == (True, Email.NOW)


def test_the_settings_page_offers_the_persons_kinds_and_saves_them(world: World) -> None:
    browser = login(world.member_a)
    page = browser.get("/account/notifications/").content.decode()
    assert "Your request was delivered" in page and "A new comment" in page
    assert "An item is handed to you" not in page and "firm&#x27;s requests" not in page
    assert "Asia/Manila" in page  # when the digest comes, in their own time

    response = browser.post(
        "/account/notifications/",
        {
            "item_delivered-email": "digest",
            "comment_added-in_app": "on",
            "comment_added-email": "off",
        },
        follow=True,
    )
    assert "Your notification settings are saved." in response.content.decode()
    assert preferences_of(world.member_a) == {
        Kind.ITEM_DELIVERED: (False, Email.DIGEST),
        Kind.COMMENT_ADDED: (True, Email.OFF),
    }
    [record] = AuditRecord.objects.filter(action="notification.preferences_set")
    assert record.client_id == world.client_a.pk
    assert record.detail == {
        "comment_added": {"email": "off", "in_app": True},
        "item_delivered": {"email": "digest", "in_app": False},
    }
    # Saving the same again changes nothing and records nothing.
    browser.post(
        "/account/notifications/",
        {
            "item_delivered-email": "digest",
            "comment_added-in_app": "on",
            "comment_added-email": "off",
        },
    )
    assert AuditRecord.objects.filter(action="notification.preferences_set").count() == 1


def test_the_settings_page_offers_the_sla_escalations_to_leads_and_client_admins(
    world: World,
) -> None:
    lead_page = login(world.lead).get("/account/notifications/").content.decode()
    assert "An item is escalated to the operations leads" in lead_page
    assert 'name="sla_lead_alert-email"' in lead_page
    admin_page = login(world.client_admin_a).get("/account/notifications/").content.decode()
    assert "One of your firm&#x27;s requests is running late" in admin_page
    assert 'name="sla_client_alert-email"' in admin_page
    for other in (world.member_a, world.agent):
        page = login(other).get("/account/notifications/").content.decode()
        assert "sla_lead_alert" not in page and "sla_client_alert" not in page

    response = login(world.lead).post(
        "/account/notifications/",
        {
            "sla_warning-in_app": "on",
            "sla_warning-email": "digest",
            "sla_lead_alert-in_app": "on",
            "sla_lead_alert-email": "digest",
        },
    )
    assert response.status_code == 302
    assert preferences_of(world.lead)[Kind.SLA_LEAD_ALERT] == (True, Email.DIGEST)


def test_a_bad_choice_is_a_clear_error_and_changes_nothing(world: World) -> None:
    browser = login(world.member_a)
    response = browser.post(
        "/account/notifications/",
        {"item_delivered-email": "hourly", "comment_added-email": "now"},
    )
    assert response.status_code == 400
    assert "Choose one of: right away, daily digest, no e-mail." in response.content.decode()
    assert preferences_of(world.member_a)[Kind.ITEM_DELIVERED] == (True, Email.NOW)
    with pytest.raises(Invalid, match="not a notification your role can choose"):
        do_set_preferences(world.member_a, {"handoff_waiting": (True, "now")})
    with pytest.raises(Invalid, match="E-mail must be one of"):
        do_set_preferences(world.member_a, {"item_delivered": (True, "weekly")})


def test_a_provider_admin_is_told_nothing_applies(world: World) -> None:
    page = login(world.admin).get("/account/notifications/").content.decode()
    assert "No notifications apply to your role." in page


def test_choices_decide_where_a_notification_goes(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_set_preferences(world.member_a, {"item_delivered": (True, "off")})
    with django_capture_on_commit_callbacks(execute=True):
        shown = _tell(world.member_a, item, "In the list only")
    assert shown.in_app and shown.email == "off" and mail.outbox == []

    do_set_preferences(world.member_a, {"item_delivered": (True, "digest")})
    with django_capture_on_commit_callbacks(execute=True):
        later = _tell(world.member_a, item, "For the digest")
    assert later.email == "digest" and mail.outbox == []

    do_set_preferences(world.member_a, {"item_delivered": (False, "now")})
    with django_capture_on_commit_callbacks(execute=True):
        mailed = _tell(world.member_a, item, "By e-mail only")
    assert not mailed.in_app and [m.subject for m in mail.outbox] == ["[Relaydesk] By e-mail only"]
    page = login(world.member_a).get("/notifications/").content.decode()
    assert "By e-mail only" not in page
    # Its e-mail's link still opens the item.
    assert login(world.member_a).get(f"/notifications/{mailed.pk}/").status_code == 302

    do_set_preferences(world.member_a, {"item_delivered": (False, "off")})
    assert do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Nowhere")]) == []


# --- the daily digest ---------------------------------------------------------------------------


def _manila(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=MANILA)


def test_the_digest_goes_out_once_a_day_at_eight_in_the_persons_time_zone(world: World) -> None:
    item = submit(world.member_a, world.engagement_a, title="Claim batch")
    do_set_preferences(world.member_a, {"item_delivered": (True, "digest")})
    first = _tell(world.member_a, item, "Delivered yesterday", at=_manila(2, 15))
    read = _tell(world.member_a, item, "Read already", at=_manila(2, 16))
    Notification.objects.filter(pk=read.pk).update(read_at=_manila(2, 17))
    second = _tell(world.member_a, item, "Delivered overnight", at=_manila(3, 2))
    too_old = _tell(world.member_a, item, "From two days ago", at=_manila(1, 7))

    assert do_send_digests(at=_manila(3, 7, 59)).digests == 0
    run = do_send_digests(at=_manila(3, 8, 5))
    assert (run.digests, run.notifications) == (1, 2)
    [digest] = mail.outbox
    assert digest.to == ["member@alpha.test"]
    assert digest.subject == "[Relaydesk] Your daily digest: 2 updates, Tue 3 Mar"
    assert "Delivered yesterday" in digest.body and "Delivered overnight" in digest.body
    assert "Read already" not in digest.body and "From two days ago" not in digest.body
    assert digest.body.index("Delivered yesterday") < digest.body.index("Delivered overnight")
    assert "Mon 2 Mar, 15:00" in digest.body  # in the reader's time, not UTC
    assert f"/notifications/{first.pk}/" in digest.body
    emailed = set(
        Notification.objects.filter(emailed_at__isnull=False).values_list("pk", flat=True)
    )
    assert emailed == {first.pk, second.pk}
    assert too_old.pk not in emailed

    # Later that morning, something new: it waits for tomorrow's digest.
    third = _tell(world.member_a, item, "Delivered at nine", at=_manila(3, 9))
    assert do_send_digests(at=_manila(3, 9, 30)).digests == 0
    assert do_send_digests(at=_manila(3, 23)).digests == 0
    run = do_send_digests(at=_manila(4, 8, 1))
    assert (run.digests, run.notifications) == (1, 1)
    assert "Delivered at nine" in mail.outbox[-1].body
    assert len(mail.outbox) == 2
    assert NotificationDigest.objects.filter(user=world.member_a).count() == 2
    assert Notification.objects.get(pk=third.pk).emailed_at is not None


def test_each_person_gets_the_digest_at_their_own_eight(world: World) -> None:
    world.member_b.time_zone = "America/Chicago"
    world.member_b.save(update_fields=["time_zone"])
    for user, engagement in (
        (world.member_a, world.engagement_a),
        (world.member_b, world.engagement_b),
    ):
        do_set_preferences(user, {"item_delivered": (True, "digest")})
        item = submit(
            user, engagement, "data-entry" if user == world.member_a else "customer-support"
        )
        # 01:00 in Manila, 11:00 the day before in Chicago.
        _tell(user, item, f"News for {user.email}", at=_manila(3, 1))

    # 08:10 in Manila is 18:10 the day before in Chicago.
    do_send_digests(at=_manila(3, 8, 10))
    assert [m.to for m in mail.outbox] == [["member@alpha.test"]]
    chicago_morning = dt.datetime(2026, 3, 3, 8, 15, tzinfo=CHICAGO)
    assert chicago_morning > _manila(3, 8, 10)
    do_send_digests(at=chicago_morning)
    assert [m.to for m in mail.outbox] == [["member@alpha.test"], ["member@bravo.test"]]
    assert "News for member@alpha.test" not in mail.outbox[1].body


def test_a_digest_that_fails_is_sent_by_the_next_sweep(world: World, settings: Any) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_set_preferences(world.member_a, {"item_delivered": (True, "digest")})
    _tell(world.member_a, item, "Waiting for the digest", at=_manila(3, 1))
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.support.BrokenMailer"}}
    run = do_send_digests(at=_manila(3, 8))
    assert (run.digests, run.failed) == (0, 1)
    assert NotificationDigest.objects.count() == 0
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert do_send_digests(at=_manila(3, 8, 15)).digests == 1
    assert do_send_digests(at=_manila(3, 8, 30)).digests == 0
    assert len(mail.outbox) == 1


def test_the_send_digests_command_says_what_it_did(world: World) -> None:
    out = StringIO()
    call_command("send_digests", stdout=out)
    assert out.getvalue().strip() == (
        "digests: 0 sent with 0 notification(s); e-mails retried: 0 sent, 0 still failing"
    )


def test_the_worker_run_sends_the_digests(world: World) -> None:
    from relaydesk.routing.tasks import route_and_escalate

    assert route_and_escalate.call()["notification_digests"] == 0


def test_the_settings_live_in_the_account_menu(world: World) -> None:
    page = login(world.agent).get("/workspace/").content.decode()
    assert '<a href="/account/notifications/">Notification settings</a>' in page
    assert 'href="/notifications/"' in page  # the bell
