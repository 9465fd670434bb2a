"""The client dashboard's daily roll-up: settled days are counted once and kept, the last
two days are counted live, and a change that moves an item on a kept day forgets it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.insights.daily import WorkScope, last_settled_day
from relaydesk.insights.daily_models import CountedDay, DailyWork
from relaydesk.insights.queries import client_dashboard
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _noon(days_ago: int) -> dt.datetime:
    today = timezone.now().astimezone(UTC).date()
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12), tzinfo=UTC)


def _delivered(world: World, received: dt.datetime, delivered: dt.datetime) -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Key"),
        at=received,
    )
    do_assign(world.lead, item, world.agent.agent, at=received + dt.timedelta(minutes=1))
    do_transition(world.agent, item, Action.START, at=received + dt.timedelta(minutes=2))
    do_transition(world.agent, item, Action.COMPLETE, at=delivered)
    return item


def _delivered_again_today(world: World, item: WorkItem) -> None:
    """The client sends ``item`` back this morning and it is delivered again at noon."""
    do_transition(
        world.member_a,
        item,
        Action.REQUEST_REWORK,
        note="Totals are off",
        at=_noon(0) - dt.timedelta(hours=2),
    )
    do_transition(world.agent, item, Action.START, at=_noon(0) - dt.timedelta(hours=1))
    do_transition(world.agent, item, Action.COMPLETE, at=_noon(0))


def _delivered_per_day(world: World, days: int = 7) -> dict[str, int]:
    today = timezone.now().astimezone(UTC).date()
    board = client_dashboard(world.member_a, start=today - dt.timedelta(days=days - 1), end=today)
    chart = board.chart("volume")
    assert chart is not None
    return dict(zip(chart.labels, chart.series[1].values, strict=True))  # type: ignore[arg-type]


def _day(days_ago: int) -> str:
    return (timezone.now().astimezone(UTC).date() - dt.timedelta(days=days_ago)).isoformat()


@pytest.fixture(autouse=True)
def _no_review(db: None) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")


def test_settled_days_are_counted_once_and_the_last_two_live(world: World) -> None:
    _delivered(world, _noon(5) - dt.timedelta(hours=3), _noon(5))
    _delivered(world, _noon(1) - dt.timedelta(hours=3), _noon(1))
    assert not CountedDay.objects.exists()
    shown = _delivered_per_day(world)
    assert shown[_day(5)] == 1 and shown[_day(1)] == 1
    settled = last_settled_day()
    # Every settled day of the client's engagement is marked, none of the last two.
    marked = set(CountedDay.objects.values_list("engagement_id", "day"))
    assert (world.engagement_a.pk, settled) in marked
    assert all(day <= settled for _, day in marked)
    kept = DailyWork.objects.get(day=_noon(5).date())
    assert (kept.received, kept.delivered, kept.turnaround_microseconds, kept.within_4h) == (
        1,
        1,
        3 * 3600 * 1_000_000,
        1,
    )
    # Shown again: nothing counted twice.
    assert _delivered_per_day(world) == shown
    assert DailyWork.objects.filter(day=_noon(5).date()).count() == 1


def test_a_late_redelivery_moves_the_item_off_its_kept_day(world: World) -> None:
    item = _delivered(world, _noon(6), _noon(5))
    assert _delivered_per_day(world)[_day(5)] == 1
    assert CountedDay.objects.filter(engagement=item.engagement, day=_noon(5).date()).exists()
    # The client sends it back today and it is delivered again.
    _delivered_again_today(world, item)
    shown = _delivered_per_day(world)
    assert shown[_day(5)] == 0 and shown[_day(0)] == 1
    # The backlog follows: open from receipt until the latest delivery.
    today = timezone.now().astimezone(UTC).date()
    board = client_dashboard(world.member_a, start=today - dt.timedelta(days=6), end=today)
    backlog = board.chart("backlog")
    assert backlog is not None
    assert backlog.series[0].values == [1, 1, 1, 1, 1, 1, 0]


def test_a_change_that_rolls_back_forgets_nothing(world: World) -> None:
    item = _delivered(world, _noon(6), _noon(5))
    _delivered_per_day(world)
    counted = CountedDay.objects.count()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        _delivered_again_today(world, item)
        assert WorkItem.objects.get(pk=item.pk).delivered_at == _noon(0)
        assert not CountedDay.objects.filter(
            engagement=item.engagement, day=_noon(5).date()
        ).exists()
        raise Undo
    assert CountedDay.objects.count() == counted
    assert _delivered_per_day(world)[_day(5)] == 1


def test_history_written_with_a_past_date_is_counted_when_shown(world: World) -> None:
    _delivered_per_day(world, days=30)  # the month is counted: nothing in it yet
    _delivered(world, _noon(20), _noon(19))  # an import of old work, through the actions
    shown = _delivered_per_day(world, days=30)
    assert shown[_day(19)] == 1
    scope = WorkScope(client_id=world.client_a.pk)
    assert scope.rows().filter(day=_noon(19).date()).get().delivered == 1


def test_the_worker_counts_the_history_once_then_each_day_as_it_settles(world: World) -> None:
    from relaydesk.insights.daily import do_count_settled_days

    _delivered(world, _noon(9), _noon(8))
    engagements = {world.engagement_a.pk, world.engagement_b.pk}
    counted = do_count_settled_days(days=10)
    assert counted >= 10 * len(engagements)
    assert do_count_settled_days(days=10) == 0
    kept = DailyWork.objects.get(engagement=world.engagement_a, day=_noon(8).date())
    assert kept.delivered == 1
    # A person's view afterwards counts nothing more and shows the same figure.
    before = CountedDay.objects.count()
    assert _delivered_per_day(world, days=10)[_day(8)] == 1
    assert CountedDay.objects.count() == before


def test_rebuilding_the_measures_drops_the_daily_roll_up_which_is_counted_again(
    world: World,
) -> None:
    from relaydesk.audit.models import AuditRecord
    from relaydesk.insights.measures import do_rebuild_measures

    _delivered(world, _noon(5), _noon(4))
    shown = _delivered_per_day(world)
    counted = CountedDay.objects.count()
    assert counted and shown[_day(4)] == 1
    do_rebuild_measures()
    assert not CountedDay.objects.exists() and not DailyWork.objects.exists()
    record = AuditRecord.objects.get(action="insights.rebuild_measures")
    assert record.detail["daily_roll_up_days_dropped"] == counted
    assert _delivered_per_day(world) == shown


def test_a_day_forgotten_while_a_view_reads_is_counted_again_not_shown_empty(
    world: World,
) -> None:
    from relaydesk.insights.daily import CountedWork
    from relaydesk.insights.queries import daily_counts

    item = _delivered(world, _noon(5) - dt.timedelta(hours=3), _noon(5))
    today = timezone.now().astimezone(UTC).date()
    work = CountedWork(WorkScope(client_id=world.client_a.pk), today - dt.timedelta(days=6), today)
    # Between the view's count and its reads, the item is sent back and delivered again.
    _delivered_again_today(world, item)
    assert daily_counts(work, "received") == {_noon(5).date(): 1}
    assert _noon(5).date() not in daily_counts(work, "delivered")


def test_a_cancellation_written_on_a_settled_day_moves_the_backlog(world: World) -> None:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Key"),
        at=_noon(6),
    )
    today = timezone.now().astimezone(UTC).date()
    board = client_dashboard(world.member_a, start=today - dt.timedelta(days=6), end=today)
    assert board.chart("backlog").series[0].values == [1] * 7  # type: ignore[union-attr]
    do_transition(world.member_a, item, Action.CANCEL, at=_noon(4))
    board = client_dashboard(world.member_a, start=today - dt.timedelta(days=6), end=today)
    assert board.chart("backlog").series[0].values == [1, 1, 0, 0, 0, 0, 0]  # type: ignore[union-attr]
