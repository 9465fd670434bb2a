"""The work items' roll-up: replayed from each item's timeline after every change, filled
for the items already there by its migrations, and rebuilt on demand; with each item's time
in progress cut into UTC hours for whoever worked it."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import logging
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection

from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action
from relaydesk.insights import measures
from relaydesk.insights.measure_models import HandledSlice, ItemMeasure
from relaydesk.insights.measures import (
    backfill_measures,
    connect_measures,
    do_rebuild_measures,
    handled_hours,
    handled_seconds_total,
    replay_timeline,
    slices_of,
)
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture(autouse=True)
def _measures_follow_changes() -> None:
    connect_measures()


def submit_at(
    world: World, at: dt.datetime, *, engagement: Engagement | None = None, title: str = "Key forms"
) -> WorkItem:
    engagement = engagement or world.engagement_a
    member = world.member_a if engagement.client_id == world.client_a.pk else world.member_b
    item, _ = do_submit_work_item(
        member,
        NewWorkItem(engagement_id=engagement.pk, service_slug="data-entry", title=title),
        at=at,
    )
    return item


def worked_with_a_wait(world: World, start: dt.datetime = T0) -> WorkItem:
    """Submitted at ``start``; worked 30 minutes, 45 minutes waiting on the client, worked
    another 45 minutes, completed: 75 minutes handled."""
    item = submit_at(world, start)
    do_assign(world.lead, item, world.agent.agent, at=start + minutes(5))
    do_transition(world.agent, item, Action.START, at=start + minutes(10))
    do_transition(
        world.agent,
        item,
        Action.WAIT_ON_CLIENT,
        note="Which form version?",
        at=start + minutes(40),
    )
    do_transition(world.member_a, item, Action.RESUME, at=start + minutes(85))
    do_transition(world.agent, item, Action.COMPLETE, at=start + minutes(130))
    return item


def test_handled_time_adds_up_both_spells_and_leaves_out_the_wait_on_the_client(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = worked_with_a_wait(world)
    item.refresh_from_db()
    measure = ItemMeasure.objects.get(item=item)
    assert measure.handled_seconds == 75 * 60
    assert measure.first_started_at == T0 + minutes(10)
    assert measure.completed_at == T0 + minutes(130)
    assert (measure.agent_id, measure.site_id) == (world.agent.pk, world.agent.agent.site_id)
    assert (measure.client_id, measure.engagement_id, measure.service_id) == (
        item.client_id,
        item.engagement_id,
        item.service_id,
    )
    assert measure.created_at == item.created_at == T0
    assert measure.delivered_at == item.delivered_at


def test_a_spell_ends_when_the_item_changes_hands_and_the_last_completer_gets_it(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = submit_at(world, T0)
        do_assign(world.lead, item, world.agent.agent, at=T0 + minutes(1))
        do_transition(world.agent, item, Action.START, at=T0 + minutes(2))
        # An hour in, the lead gives it to the other agent, who starts 30 minutes later.
        do_assign(world.lead, item, world.other_agent.agent, at=T0 + minutes(62))
    measure = ItemMeasure.objects.get(item=item)
    assert measure.handled_seconds == 60 * 60
    assert measure.completed_at is None and measure.agent_id is None
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        do_transition(world.other_agent, item, Action.START, at=T0 + minutes(92))
        do_transition(world.other_agent, item, Action.COMPLETE, at=T0 + minutes(112))
    measure.refresh_from_db()
    assert measure.handled_seconds == 80 * 60
    assert measure.agent_id == world.other_agent.pk
    assert measure.first_started_at == T0 + minutes(2)


Slice = tuple[int, int | None, dt.datetime, dt.datetime, dt.datetime, int]


def _slices(item: WorkItem | None = None) -> list[Slice]:
    rows = HandledSlice.objects.all() if item is None else HandledSlice.objects.filter(item=item)
    return [
        (s.item_id, s.agent_id, s.hour, s.started_at, s.ended_at, s.seconds)
        for s in rows.order_by("item_id", "started_at")
    ]


def test_time_in_progress_is_cut_into_utc_hours_for_the_agent_who_worked_it(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = worked_with_a_wait(world)
    # In progress 01:10–01:40, waiting on the client, resumed by the client at 02:25 (still
    # the agent's work), completed at 03:10: 30 + 35 + 10 minutes in three UTC hours.
    at = T0.replace
    assert _slices(item) == [
        (item.pk, world.agent.pk, at(hour=1), at(minute=10), at(minute=40), 30 * 60),
        (item.pk, world.agent.pk, at(hour=2), at(hour=2, minute=25), at(hour=3), 35 * 60),
        (item.pk, world.agent.pk, at(hour=3), at(hour=3), at(hour=3, minute=10), 10 * 60),
    ]
    slice_ = HandledSlice.objects.filter(item=item).first()
    assert slice_ is not None
    assert (slice_.client_id, slice_.engagement_id) == (item.client_id, item.engagement_id)
    assert sum(s[-1] for s in _slices(item)) == ItemMeasure.objects.get(item=item).handled_seconds


def test_each_agent_keeps_the_hours_they_worked_when_the_item_changes_hands(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = submit_at(world, T0)
        do_assign(world.lead, item, world.agent.agent, at=T0 + minutes(1))
        do_transition(world.agent, item, Action.START, at=T0 + minutes(2))
        do_assign(world.lead, item, world.other_agent.agent, at=T0 + minutes(62))
        do_transition(world.other_agent, item, Action.START, at=T0 + minutes(92))
        do_transition(world.other_agent, item, Action.COMPLETE, at=T0 + minutes(112))
    by_agent: dict[int | None, int] = {}
    for _, agent_id, *_, seconds in _slices(item):
        by_agent[agent_id] = by_agent.get(agent_id, 0) + seconds
    # The whole 80 minutes count for the completer's throughput, each hour for who worked it.
    assert by_agent == {world.agent.pk: 60 * 60, world.other_agent.pk: 20 * 60}
    assert ItemMeasure.objects.get(item=item).agent_id == world.other_agent.pk


def test_a_spell_is_cut_at_every_utc_hour_it_spans() -> None:
    from relaydesk.insights.measures import Spell

    start = dt.datetime(2026, 3, 2, 22, 40, 30, tzinfo=UTC)
    pieces = list(slices_of([Spell(start, start + dt.timedelta(hours=2), 7)]))
    assert [(hour.hour, a.time(), b.time()) for hour, a, b in pieces] == [
        (22, dt.time(22, 40, 30), dt.time(23)),
        (23, dt.time(23), dt.time(0)),
        (0, dt.time(0), dt.time(0, 40, 30)),
    ]
    assert pieces[-1][0].date() == dt.date(2026, 3, 3)


def test_a_spell_still_running_counts_once_it_ends() -> None:
    at = T0
    replayed = replay_timeline(
        [
            (at, "submitted", "new", 1, None),
            (at + minutes(5), "start", "in_progress", 2, 7),
            # Comments and SLA notices change no state.
            (at + minutes(9), "commented", "", 3, None),
        ]
    )
    assert replayed.handled_seconds == 0 and replayed.first_started_at == at + minutes(5)
    assert replayed.completed_at is None and replayed.spells == ()


def test_a_failed_replay_is_logged_and_never_fails_the_change(
    world: World,
    django_capture_on_commit_callbacks: object,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(item_id: int) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(measures, "refresh_measure", broken)
    capture = django_capture_on_commit_callbacks(execute=True)  # type: ignore[operator]
    with caplog.at_level(logging.ERROR, logger="relaydesk.insights.measures"), capture:
        item = submit_at(world, T0)
        do_assign(world.lead, item, world.agent.agent, at=T0 + minutes(1))
    item.refresh_from_db()
    assert item.state == "assigned"
    assert f"The measures of item {item.pk} could not be replayed" in caplog.text


def _as_stored() -> dict[int, tuple[object, ...]]:
    return {
        m.item_id: (
            m.client_id,
            m.engagement_id,
            m.service_id,
            m.site_id,
            m.agent_id,
            m.created_at,
            m.delivered_at,
            m.handled_seconds,
            m.first_started_at,
            m.completed_at,
        )
        for m in ItemMeasure.objects.all()
    }


def test_the_slices_migration_cuts_the_time_of_items_already_there(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        worked_with_a_wait(world)
        worked_with_a_wait(world, T0 + dt.timedelta(days=1))
    kept, measures = _slices(), _as_stored()
    assert len(kept) == 6
    HandledSlice.objects.all().delete()
    migration = importlib.import_module("relaydesk.insights.migrations.0004_handledslice")
    migration.fill_slices(django_apps, SimpleNamespace(connection=connection))
    assert _slices() == kept
    assert _as_stored() == measures  # the items' rows untouched


def test_the_migration_fills_the_rows_of_items_already_there(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    # Given items whose rows were kept as they changed
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        worked_with_a_wait(world)
        worked_with_a_wait(world, T0 + dt.timedelta(days=1))
        submit_at(world, T0 + minutes(3), engagement=world.engagement_b)
    kept = _as_stored()
    assert len(kept) == 3
    # When the table starts empty, as when the migration creates it
    ItemMeasure.objects.all().delete()
    migration = importlib.import_module("relaydesk.insights.migrations.0002_itemmeasure")
    migration.fill_measures(django_apps, SimpleNamespace(connection=connection))
    # Then the migration writes the same rows as the changes did
    assert _as_stored() == kept


def test_the_backfill_goes_a_batch_at_a_time_and_says_how_far_it_is(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        for day in range(5):
            worked_with_a_wait(world, T0 + dt.timedelta(days=day))
    kept, slices = _as_stored(), _slices()
    ItemMeasure.objects.all().delete()
    HandledSlice.objects.all().delete()
    seen: list[tuple[int, int]] = []
    assert backfill_measures(batch=2, progress=lambda done, total: seen.append((done, total))) == 5
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert _as_stored() == kept
    assert _slices() == slices and len(slices) == 15


def test_rebuilding_repairs_rows_prints_its_progress_and_is_audited(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = worked_with_a_wait(world)
    slices = _slices(item)
    ItemMeasure.objects.filter(item=item).update(handled_seconds=1, agent=None)
    HandledSlice.objects.filter(item=item).update(agent=None, seconds=1)
    HandledSlice.objects.filter(item=item).first().delete()  # type: ignore[union-attr]
    out = io.StringIO()
    call_command("rebuild_measures", stdout=out)
    measure = ItemMeasure.objects.get(item=item)
    assert (measure.handled_seconds, measure.agent_id) == (75 * 60, world.agent.pk)
    assert [s[1:] for s in _slices(item)] == [s[1:] for s in slices]
    assert "1 of 1 items" in out.getvalue()
    assert "Rebuilt the measures of 1 item" in out.getvalue()
    assert AuditRecord.objects.filter(action="insights.rebuild_measures").count() == 1
    # The action itself, as the command calls it
    assert do_rebuild_measures() == 1


def test_handled_time_of_items_completed_in_a_period(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        worked_with_a_wait(world)  # completed at 03:10 on 2 March: 75 minutes
        worked_with_a_wait(world, T0 + dt.timedelta(days=1))  # 3 March: 75 minutes
        other = submit_at(world, T0, engagement=world.engagement_b)
        do_assign(world.lead, other, world.other_agent.agent, at=T0 + minutes(1))
        do_transition(world.other_agent, other, Action.START, at=T0 + minutes(2))
        do_transition(world.other_agent, other, Action.COMPLETE, at=T0 + minutes(32))
    march_2 = (T0.replace(hour=0), T0.replace(hour=0) + dt.timedelta(days=1))
    both_days = (march_2[0], march_2[1] + dt.timedelta(days=1))
    assert handled_seconds_total(begin=march_2[0], finish=march_2[1]) == (75 + 30) * 60
    assert handled_seconds_total(begin=both_days[0], finish=both_days[1]) == (150 + 30) * 60
    assert (
        handled_seconds_total(client_id=world.client_a.pk, begin=both_days[0], finish=both_days[1])
        == 150 * 60
    )
    assert (
        handled_seconds_total(
            engagement_id=world.engagement_b.pk, begin=march_2[0], finish=march_2[1]
        )
        == 30 * 60
    )
    # The end is left out: an item completed exactly at ``finish`` counts in the next period.
    completed = T0 + minutes(130)
    assert handled_seconds_total(begin=march_2[0], finish=completed) == 30 * 60
    assert handled_hours(client_id=world.client_a.pk, begin=both_days[0], finish=both_days[1]) == (
        Decimal("2.5")
    )


def test_utc_hours_and_days_read_off_the_stored_time_are_djangos_own(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    from django.db.models.functions import ExtractHour, TruncDate

    from relaydesk.figures import UtcDate, UtcHour

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        for when in (
            T0.replace(hour=0, minute=0),
            T0.replace(hour=9, minute=59, second=59, microsecond=123456),
            T0.replace(hour=23, minute=30),
        ):
            submit_at(world, when)
    rows = ItemMeasure.objects.annotate(
        fast_hour=UtcHour("created_at"),
        hour=ExtractHour("created_at", tzinfo=UTC),
        fast_day=UtcDate("created_at"),
        day=TruncDate("created_at", tzinfo=UTC),
    ).values_list("fast_hour", "hour", "fast_day", "day")
    assert sorted(rows) == [
        (0, 0, T0.date(), T0.date()),
        (9, 9, T0.date(), T0.date()),
        (23, 23, T0.date(), T0.date()),
    ]


def test_a_history_written_with_measures_paused_is_measured_by_the_backfill(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    from relaydesk.insights.measures import measures_paused

    with measures_paused(), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = worked_with_a_wait(world)
    assert not ItemMeasure.objects.filter(item=item).exists()
    assert not HandledSlice.objects.filter(item=item).exists()
    backfill_measures()
    assert ItemMeasure.objects.get(item=item).handled_seconds == 75 * 60
    assert sum(s[-1] for s in _slices(item)) == 75 * 60
