"""SLA clocks on real items: replayed after every change, on the engagement's calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.sla.actions import do_replay_clocks, do_set_sla_policy
from relaydesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from relaydesk.work.actions import (
    NewWorkItem,
    do_add_comment,
    do_assign,
    do_submit_work_item,
    do_transition,
)
from relaydesk.work.models import WorkItem
from tests.audit.test_recording import back_office_user
from tests.conftest import World, login

UTC = dt.UTC
pytestmark = pytest.mark.django_db


def _clocks(item: WorkItem) -> dict[tuple[str, int], SlaClock]:
    return {(c.kind, c.cycle): c for c in SlaClock.objects.filter(item=item)}


def _submit_at(world: World, at: dt.datetime, **fields: object) -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk,
            service_slug="data-entry",
            title="Key the March claim forms",
            **fields,  # type: ignore[arg-type]
        ),
        at=at,
    )
    return item


@pytest.fixture
def new_york(world: World) -> BusinessCalendar:
    """The client's New York office: Mon–Fri 09:00–17:00 with US public holidays."""
    calendar = BusinessCalendar.objects.create(
        name="New York office",
        time_zone="America/New_York",
        working_hours="mon-fri 09:00-17:00",
        holiday_country="US",
    )
    world.engagement_a.calendar = calendar
    world.engagement_a.save()
    return calendar


def test_a_friday_evening_request_in_manila_is_due_monday_in_new_york_after_the_holiday(
    world: World, new_york: BusinessCalendar, django_capture_on_commit_callbacks: object
) -> None:
    # Given an 8 business-hour turnaround on the New York calendar
    do_set_sla_policy(world.lead, world.engagement_a, turnaround_minutes=8 * 60)
    # When the client submits on Friday 3 July 2026 at 19:00 in Manila (07:00 in New York),
    # the observed Independence Day holiday, and the item is queued
    at = dt.datetime(2026, 7, 3, 11, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, at)
    do_replay_clocks([item.pk], at=at + dt.timedelta(minutes=1))
    # Then Friday and the weekend do not count: 8 hours are Monday 09:00–17:00 in New York,
    # which is 21:00 UTC (EDT is UTC-4)
    turnaround = _clocks(item)[("turnaround", 1)]
    assert turnaround.due_at == dt.datetime(2026, 7, 6, 21, 0, tzinfo=UTC)
    assert turnaround.status == "running"
    item.refresh_from_db()
    assert item.due_at == dt.datetime(2026, 7, 6, 21, 0, tzinfo=UTC)


def test_clocks_follow_the_lifecycle_without_being_asked(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    do_set_sla_policy(
        world.lead,
        world.engagement_a,
        first_response_minutes=60,
        turnaround_minutes=240,
        first_response_business=False,
        turnaround_business=False,
    )
    start = timezone.now() - dt.timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start)
        do_assign(world.lead, item, world.agent.agent, at=start + dt.timedelta(minutes=5))
        do_transition(world.agent, item, Action.START, at=start + dt.timedelta(minutes=20))
    clocks = _clocks(item)
    # The first response came when work started, 20 minutes in: met.
    assert clocks[("first_response", 1)].status == "met"
    assert clocks[("first_response", 1)].stopped_at == start + dt.timedelta(minutes=20)
    # The turnaround runs, due four hours after submission in calendar time.
    assert clocks[("turnaround", 1)].status == "running"
    assert clocks[("turnaround", 1)].due_at == start + dt.timedelta(hours=4)


def test_waiting_on_the_client_pauses_the_turnaround_and_moves_its_due_time(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=240, turnaround_business=False
    )
    start = timezone.now() - dt.timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start)
        do_assign(world.lead, item, world.agent.agent, at=start + dt.timedelta(minutes=1))
        do_transition(world.agent, item, Action.START, at=start + dt.timedelta(minutes=2))
        do_transition(
            world.agent,
            item,
            Action.WAIT_ON_CLIENT,
            note="Which policy number is on page 2?",
            at=start + dt.timedelta(hours=1),
        )
    paused = _clocks(item)[("turnaround", 1)]
    assert paused.status == "paused"
    assert paused.paused_reason == "Which policy number is on page 2?"
    assert paused.due_at is None
    assert paused.elapsed_seconds == 3600
    # The client answers two hours after the question: the item resumes, due two hours later.
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        do_add_comment(world.member_a, item, "Policy 4471-A.", at=start + dt.timedelta(hours=3))
    resumed = _clocks(item)[("turnaround", 1)]
    assert resumed.status == "running"
    assert resumed.due_at == start + dt.timedelta(hours=4 + 2)


def _on_hold(world: World, committed: object, note: str, *, internal: bool = False) -> WorkItem:
    """An item under a 4-hour calendar-time turnaround, worked for an hour, then put on hold
    asking the client ``note`` an hour ago."""
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=240, turnaround_business=False
    )
    start = timezone.now() - dt.timedelta(hours=2)
    with committed(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start)
        do_assign(world.lead, item, world.agent.agent, at=start)
        do_transition(world.agent, item, Action.START, at=start)
        do_transition(
            world.agent,
            item,
            Action.WAIT_ON_CLIENT,
            note=note,
            internal=internal,
            at=start + dt.timedelta(hours=1),
        )
    return item


def _clocks_api(user: User, item: WorkItem) -> dict[str, Any]:
    _, secret = do_create_api_token(user, name="clocks")
    answer = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get(
        f"/api/v1/work-items/{item.pk}/sla"
    )
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def test_the_clocks_api_and_the_item_page_say_what_the_paused_item_waits_for(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    asked = "Which policy number is on page 2?"
    item = _on_hold(world, django_capture_on_commit_callbacks, asked)

    for viewer in (world.lead, world.member_a):
        [turnaround] = _clocks_api(viewer, item)["clocks"]
        assert turnaround["status"] == "paused"
        assert turnaround["paused_reason"] == asked
        assert turnaround["due_at"] is None
        page = login(viewer).get(f"/items/{item.pk}/").content.decode()
        assert "paused: “Which policy number is on page 2?”" in page


def test_a_hold_noted_internally_is_paused_by_its_state_and_keeps_the_note_from_the_client(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    item = _on_hold(
        world, django_capture_on_commit_callbacks, "Chasing the broker first", internal=True
    )

    [turnaround] = _clocks_api(world.member_a, item)["clocks"]
    assert turnaround["paused_reason"] == "waiting_on_client"
    assert _clocks(item)[("turnaround", 1)].paused_reason == "waiting_on_client"
    page = login(world.member_a).get(f"/items/{item.pk}/").content.decode()
    assert "paused: waiting on client" in page
    assert "Chasing the broker" not in page


def test_a_client_message_starts_a_next_response_clock_that_a_reply_stops(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    do_set_sla_policy(
        world.lead,
        world.engagement_a,
        next_response_minutes=30,
        turnaround_minutes=600,
        next_response_business=False,
        turnaround_business=False,
    )
    start = timezone.now() - dt.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start)
        do_add_comment(world.member_a, item, "Any news?", at=start + dt.timedelta(minutes=10))
    waiting = _clocks(item)[("next_response", 1)]
    assert waiting.started_at == start + dt.timedelta(minutes=10)
    assert waiting.stopped_at is None
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        # An internal note is no answer to the client …
        do_add_comment(
            world.lead,
            item,
            "Chasing the team.",
            visibility="internal",
            at=start + dt.timedelta(minutes=20),
        )
        assert _clocks(item)[("next_response", 1)].stopped_at is None
        # … a reply the client can read is, 50 minutes after the question: late.
        do_add_comment(world.lead, item, "Today by 5 pm.", at=start + dt.timedelta(minutes=60))
    answered = _clocks(item)[("next_response", 1)]
    assert answered.stopped_at == start + dt.timedelta(minutes=60)
    assert answered.status == "breached"
    assert answered.breached_at == start + dt.timedelta(minutes=40)


def test_a_hard_deadline_earlier_than_the_target_is_the_due_time(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=48 * 60, turnaround_business=False
    )
    start = timezone.now()
    filing = start + dt.timedelta(hours=6)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start, due_at=filing)
    item.refresh_from_db()
    assert item.deadline == filing
    assert item.due_at == filing
    assert _clocks(item)[("turnaround", 1)].due_at == filing


def test_changing_the_policy_moves_the_due_time_of_open_items(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=240, turnaround_business=False
    )
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start)
    item.refresh_from_db()
    assert item.due_at == start + dt.timedelta(hours=4)
    # A tighter promise for this service: the open item is due sooner at once.
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        do_set_sla_policy(
            world.admin,
            world.engagement_a,
            service=Service.objects.get(slug="data-entry"),
            turnaround_minutes=120,
            turnaround_business=False,
        )
    item.refresh_from_db()
    assert item.due_at == start + dt.timedelta(hours=2)


def test_only_provider_admins_and_leads_set_policies_and_bad_ones_are_refused(
    world: World,
) -> None:
    for outsider in (world.agent, world.client_admin_a, world.qa):
        with pytest.raises(NotAllowed):
            do_set_sla_policy(outsider, world.engagement_a, turnaround_minutes=60)
    with pytest.raises(Invalid, match="at least one target"):
        do_set_sla_policy(world.lead, world.engagement_a)
    with pytest.raises(Invalid, match="does not include this service"):
        do_set_sla_policy(
            world.lead,
            world.engagement_a,
            service=Service.objects.get(slug="customer-support"),
            turnaround_minutes=60,
        )
    for odd in ("75,150", "75,²", "75,x"):
        with pytest.raises(Invalid, match="between 1 and 99"):
            do_set_sla_policy(world.lead, world.engagement_a, turnaround_minutes=60, warn_at=odd)


@pytest.mark.parametrize(
    ("ladder", "refusal"),
    [
        pytest.param(
            {"lead_at": 0},
            "Alerting the operations lead needs a whole percentage of the target from 1 to "
            "1000 (got 0); leave it empty to skip the step.",
            id="zero",
        ),
        pytest.param(
            {"client_at": 1500},
            "Telling the client's admins needs a whole percentage of the target from 1 to "
            "1000 (got 1500)",
            id="too-high",
        ),
        pytest.param(
            {"raise_priority_at": "100"},
            "Raising the priority needs a whole percentage of the target from 1 to 1000 "
            "(got '100')",
            id="not-a-number",
        ),
        pytest.param(
            {"lead_at": 100, "raise_priority_at": 90},
            "Escalation steps go in order, each at a higher percentage: the lead first, then "
            "the priority, then the client; raising the priority at 90 % does not come after "
            "alerting the operations lead at 100 %.",
            id="descending",
        ),
        pytest.param(
            {"lead_at": 90, "raise_priority_at": None, "client_at": 90},
            "telling the client's admins at 90 % does not come after alerting the operations "
            "lead at 90 %.",
            id="equal-across-a-skipped-step",
        ),
    ],
)
def test_a_bad_escalation_ladder_is_refused_with_a_sentence_saying_why(
    world: World, ladder: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(Invalid) as refused:
        do_set_sla_policy(world.lead, world.engagement_a, turnaround_minutes=60, **ladder)
    assert refusal in str(refused.value)
    assert not SlaPolicy.objects.exists()


def test_the_escalation_ladder_is_set_with_the_policy_and_recorded(world: World) -> None:
    from relaydesk.audit.models import AuditRecord

    policy = do_set_sla_policy(world.lead, world.engagement_a, turnaround_minutes=60)
    assert policy.escalation_levels() == ((1, 90), (2, 100), (3, 125))  # the defaults
    policy = do_set_sla_policy(
        world.lead,
        world.engagement_a,
        turnaround_minutes=60,
        lead_at=1,
        raise_priority_at=None,
        client_at=1000,
    )
    policy.refresh_from_db()
    assert policy.escalation_levels() == ((1, 1), (3, 1000))
    assert SlaPolicy.objects.count() == 1  # the same scope: replaced
    last = AuditRecord.objects.filter(action="sla.policy_set").order_by("-id").first()
    assert last is not None
    assert (last.detail["lead_at"], last.detail["raise_priority_at"]) == (1, None)
    assert last.detail["client_at"] == 1000


def test_the_back_office_refuses_a_ladder_out_of_order_under_the_step(world: World) -> None:
    policy = do_set_sla_policy(world.lead, world.engagement_a, turnaround_minutes=60)
    page = login(back_office_user()).post(
        f"/admin/sla/slapolicy/{policy.pk}/change/",
        {
            "engagement": world.engagement_a.pk,
            "turnaround_minutes": "60",
            "warn_at": "75,90",
            "lead_at": "90",
            "raise_priority_at": "100",
            "client_at": "95",
        },
    )
    assert page.status_code == 200
    assert "telling the client&#x27;s admins at 95 % does not come after raising the " in (
        page.content.decode()
    )
    policy.refresh_from_db()
    assert policy.client_at == 125


def test_the_item_page_shows_the_clocks_to_provider_and_client(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    do_set_sla_policy(
        world.lead,
        world.engagement_a,
        first_response_minutes=60,
        turnaround_minutes=8 * 60,
        first_response_business=False,
        turnaround_business=False,
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, timezone.now() - dt.timedelta(minutes=30))
    for viewer in (world.lead, world.member_a):
        page = login(viewer).get(f"/items/{item.pk}/").content.decode()
        assert "Service levels" in page
        assert "Turnaround" in page and "First response" in page
        assert "30 min of 8 h calendar time used" in page


def test_an_item_no_policy_covers_says_so(world: World) -> None:
    item = _submit_at(world, timezone.now())
    page = login(world.lead).get(f"/items/{item.pk}/").content.decode()
    assert "No SLA policy covers this item" in page


def test_a_policy_changed_in_the_back_office_moves_open_items_due_times(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    policy = do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=240, turnaround_business=False
    )
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = _submit_at(world, start)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        saved = login(back_office_user()).post(
            f"/admin/sla/slapolicy/{policy.pk}/change/",
            {
                "engagement": world.engagement_a.pk,
                "service": "",
                "priority": "",
                "first_response_minutes": "",
                "next_response_minutes": "",
                "turnaround_minutes": "120",
                "warn_at": "75,90",
                "lead_at": "90",
                "raise_priority_at": "100",
                "client_at": "125",
            },
        )
    assert saved.status_code == 302, saved.content.decode()[:500]
    policy.refresh_from_db()
    assert policy.turnaround_minutes == 120
    item.refresh_from_db()
    assert item.due_at == start + dt.timedelta(hours=2)
