"""The SLA watch: warnings and escalation steps on the timeline, each said once."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.sla.actions import do_set_sla_policy, do_watch_clocks
from relaydesk.work import queries
from relaydesk.work.actions import NewWorkItem, do_submit_work_item
from relaydesk.work.models import Priority, WorkItem, WorkItemEvent
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _item_submitted(world: World, hours_ago: float, **ladder: int | None) -> WorkItem:
    """An item under a 4-hour calendar-time turnaround, submitted ``hours_ago`` (the
    escalation ``ladder`` as given, else the default one)."""
    _policy(world, **ladder)
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Key forms"
        ),
        at=timezone.now() - dt.timedelta(hours=hours_ago),
    )
    return item


def _policy(world: World, **ladder: int | None) -> None:
    do_set_sla_policy(
        world.lead,
        world.engagement_a,
        turnaround_minutes=240,
        turnaround_business=False,
        warn_at="75,90",
        **ladder,  # type: ignore[arg-type]
    )


def _said(item: WorkItem) -> list[tuple[str, str, bool]]:
    return [
        (e.kind, e.note, e.internal)
        for e in WorkItemEvent.objects.filter(item=item, kind__startswith="sla_").order_by("id")
    ]


def test_a_clock_three_quarters_used_warns_once(world: World) -> None:
    item = _item_submitted(world, hours_ago=3.2)  # 80 % of 4 h
    run = do_watch_clocks()
    assert run.warnings == 1 and run.escalations == 0
    [(kind, note, internal)] = _said(item)
    assert kind == "sla_warning" and internal
    assert note.startswith("Turnaround: 75 % of 4 h used; due ")
    # The next run has nothing new to say.
    assert do_watch_clocks().warnings == 0
    assert len(_said(item)) == 1


def test_at_ninety_five_percent_the_lead_is_alerted(world: World) -> None:
    item = _item_submitted(world, hours_ago=3.8)
    run = do_watch_clocks()
    assert (run.warnings, run.escalations) == (2, 1)
    kinds = [kind for kind, _, _ in _said(item)]
    assert kinds == ["sla_warning", "sla_warning", "sla_escalated"]
    assert "Operations lead alerted" in _said(item)[-1][1]
    assert AuditRecord.objects.filter(action="sla.lead_alert", object_id=str(item.pk)).count() == 1


def test_a_late_item_climbs_every_step_and_the_client_hears_only_the_last(world: World) -> None:
    item = _item_submitted(world, hours_ago=5.2)  # 130 % of 4 h
    run = do_watch_clocks()
    assert run.escalations == 3
    notes = _said(item)
    assert [kind for kind, _, _ in notes] == [
        "sla_warning",
        "sla_warning",
        "sla_breached",
        "sla_escalated",
        "sla_escalated",
        "sla_escalated",
    ]
    item.refresh_from_db()
    assert item.priority == Priority.HIGH  # raised one step from Normal
    assert "Priority raised to High" in notes[4][1]
    # The client's timeline shows the message to their admins, and none of the internal ones.
    seen = [e.kind for e in queries.visible_events(world.member_a, item)]
    assert seen.count("sla_escalated") == 1
    assert "sla_warning" not in seen and "sla_breached" not in seen
    assert do_watch_clocks().escalations == 0


def test_the_route_command_runs_the_watch(world: World) -> None:
    _item_submitted(world, hours_ago=3.2)
    out = StringIO()
    call_command("route", stdout=out)
    assert "SLA: 1 open item(s) replayed, 1 warning(s), 0 escalation step(s)" in out.getvalue()


def test_two_watches_at_once_say_nothing_twice(world: World) -> None:
    from relaydesk.sla.actions import _announce
    from relaydesk.sla.models import SlaClock, SlaPolicy

    item = _item_submitted(world, hours_ago=5.2)
    from relaydesk.sla.actions import do_replay_clocks

    do_replay_clocks([item.pk])
    # Both runs read the clock before either has spoken …
    first = SlaClock.objects.select_related("item__engagement").get(item=item, kind="turnaround")
    second = SlaClock.objects.select_related("item__engagement").get(pk=first.pk)
    policy = SlaPolicy.objects.get(engagement=world.engagement_a)
    _announce(first, policy, timezone.now())
    _announce(second, policy, timezone.now())
    # … and still each warning and step is said once, and the priority goes up one step.
    kinds = [kind for kind, _, _ in _said(item)]
    assert kinds.count("sla_warning") == 2 and kinds.count("sla_escalated") == 3
    item.refresh_from_db()
    assert item.priority == Priority.HIGH


def test_raising_the_priority_keeps_the_policy_the_item_was_submitted_under(
    world: World,
) -> None:
    item = _item_submitted(world, hours_ago=5.2)
    # A stricter promise for high-priority work does not apply to a raised normal item.
    do_set_sla_policy(
        world.lead,
        world.engagement_a,
        priority=Priority.HIGH,
        turnaround_minutes=30,
        turnaround_business=False,
    )
    do_watch_clocks()
    item.refresh_from_db()
    assert item.priority == Priority.HIGH
    from relaydesk.sla.models import SlaClock

    clock = SlaClock.objects.get(item=item, kind="turnaround")
    assert clock.target_seconds == 4 * 3600


def test_the_watch_climbs_the_ladder_the_policy_was_last_given(world: World) -> None:
    # At 60 % of 4 h the default ladder (90, 100, 125) has nothing to do …
    item = _item_submitted(world, hours_ago=2.4)
    assert do_watch_clocks().escalations == 0
    # … a ladder that alerts the lead at 50 % and tells the client at 80 %, never raising
    # the priority, alerts the lead at once …
    _policy(world, lead_at=50, raise_priority_at=None, client_at=80)
    assert do_watch_clocks().escalations == 1
    [(kind, note, internal)] = _said(item)
    assert kind == "sla_escalated" and internal
    assert note.startswith("Operations lead alerted: Turnaround at 50 % of 4 h (due ")
    # … tells the client an hour later (85 %), before the due time …
    later = timezone.now() + dt.timedelta(hours=1)
    assert do_watch_clocks(at=later).escalations == 1
    told_client = _said(item)[-1]
    assert told_client[0] == "sla_escalated" and not told_client[2]
    assert told_client[1].startswith(
        "Your admins have been told this item is at risk of being late: Turnaround at 80 % "
    )
    # … and past the due time leaves the priority alone: that step is skipped.
    assert do_watch_clocks(at=later + dt.timedelta(hours=2)).escalations == 0
    item.refresh_from_db()
    assert item.priority == Priority.NORMAL
    assert not AuditRecord.objects.filter(action="sla.priority_raised").exists()
