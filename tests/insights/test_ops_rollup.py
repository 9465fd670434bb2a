"""The operations dashboard's daily roll-up: settled days are counted once and kept, the last
two days are counted live, and the figures are always those counted live from the items'
roll-up, to the second, whatever moved since a day was counted: work done again, an item in
progress across days, a holiday added in the back office, an agent moved to another shift."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.figures import utc_bounds
from relaydesk.insights.daily import do_count_settled_days, last_settled_day
from relaydesk.insights.measures import connect_measures, do_rebuild_measures, refresh_measure
from relaydesk.insights.ops_daily_models import (
    CountedOperationsDay,
    DailyAgentOnShift,
    DailyAgentWork,
    HourlyArrivals,
)
from relaydesk.insights.provider_queries import (
    OperationsDashboard,
    WorkCount,
    completed_work,
    coverage_heat_map,
    handled_on_shift,
    operations_dashboard,
)
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import (
    Agent,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Site,
)
from tests.audit.test_recording import back_office_user
from tests.conftest import World, login

pytestmark = pytest.mark.django_db
UTC = dt.UTC
PERIOD = 14


def today() -> dt.date:
    return timezone.now().astimezone(UTC).date()


def at(days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
    day = today() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture(autouse=True)
def _measures_follow_changes(db: None) -> None:
    connect_measures()
    # Delivered at completion, so the client can send it back.
    Service.objects.filter(slug="data-entry").update(review_policy="none")


def submit(world: World, when: dt.datetime, *, of_b: bool = False, title: str = "Key") -> WorkItem:
    member, engagement = (
        (world.member_b, world.engagement_b) if of_b else (world.member_a, world.engagement_a)
    )
    item, _ = do_submit_work_item(
        member,
        NewWorkItem(engagement_id=engagement.pk, service_slug="data-entry", title=title),
        at=when,
    )
    return item


def work(agent: User, lead: User, item: WorkItem, start: dt.datetime, handled: float) -> None:
    """Assign at ``start``, start then, complete ``handled`` minutes later."""
    do_assign(lead, item, agent.agent, at=start)
    do_transition(agent, item, Action.START, at=start)
    do_transition(agent, item, Action.COMPLETE, at=start + minutes(handled))


@pytest.fixture
def history(world: World, django_capture_on_commit_callbacks: Any) -> World:
    """Manila works 09:00–17:00 local (01:00–09:00 UTC) every day, and the agent half an hour
    of overtime after it four days ago; over the last ten days both agents work items of
    both clients, some side by side, some across the end of the shift or overnight."""
    manila = Site.objects.get(code="mnl")
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=manila, name="Day", weekday=d, starts_at=dt.time(9), ends_at=dt.time(17))
        for d in range(7)
    )
    ShiftException.objects.create(
        site=manila,
        kind=ShiftExceptionKind.OVERTIME,
        name="Month end",
        agent=world.agent.agent,
        starts_at=at(4, 9),
        ends_at=at(4, 9, 30),
    )
    with django_capture_on_commit_callbacks(execute=True):
        for days_ago in range(10, 1, -1):
            # Two items side by side across the end of the shift, one of each client.
            for of_b in (False, True):
                item = submit(world, at(days_ago, 7), of_b=of_b, title=f"Side {days_ago}")
                work(world.agent, world.lead, item, at(days_ago, 8, 10), 70 + days_ago)
            work(
                world.other_agent,
                world.lead,
                submit(world, at(days_ago, 2, 5), of_b=days_ago % 2 == 0),
                at(days_ago, 3, 7),
                45,
            )
        # Left in progress overnight, completed the next morning.
        late = submit(world, at(7, 6))
        work(world.other_agent, world.lead, late, at(7, 6, 30), 20 * 60)
        # Arrived, never worked.
        submit(world, at(3, 11, 40), of_b=True)
    return world


def send_back_and_do_again(world: World, item: WorkItem) -> None:
    """The client sends ``item`` back half an hour ago and the agent does it again."""
    now = timezone.now()
    do_transition(
        world.member_a, item, Action.REQUEST_REWORK, note="Totals are off", at=now - minutes(30)
    )
    do_transition(world.agent, item, Action.START, at=now - minutes(20))
    do_transition(world.agent, item, Action.COMPLETE, at=now - minutes(5))


def shown(board: OperationsDashboard) -> dict[str, Any]:
    """What the dashboard shows, figure by figure."""

    def rows(found: list[Any]) -> dict[str, tuple[int, ...]]:
        return {
            row.key: (
                row.completed,
                row.handled_seconds,
                row.shift_seconds,
                row.handled_on_shift_seconds,
            )
            for row in found
        }

    heat = board.heat_map
    return {
        "agents": rows(board.agents),
        "teams": rows(board.teams),
        "sites": rows(board.sites),
        "total": rows([board.total]),
        "per_day": board.completed_per_day,
        "heat": (heat.load, heat.on_shift, heat.per_person, heat.gap_days),
    }


def live(world: World, start: dt.date, end: dt.date, engagement_id: int | None) -> dict[str, Any]:
    """The figures the dashboard must show, counted live from the items' roll-up over the
    whole period by the functions the dashboard counts its last two days with."""
    begin, finish = utc_bounds(start, end)
    worked_until = max(begin, min(finish, timezone.now()))
    work = completed_work(begin, finish, engagement_id)
    agents = list(Agent.objects.select_related("user", "site"))
    on_shift = handled_on_shift(agents, begin, worked_until, engagement_id)
    by_agent = work.by_agent()
    heat = coverage_heat_map(world.lead, start=start, end=end, engagement_id=engagement_id)
    return {
        "agents": {
            str(agent.user_id): (
                by_agent.get(agent.user_id, WorkCount()).completed,
                by_agent.get(agent.user_id, WorkCount()).handled_seconds,
                on_shift.get(agent.user_id, 0),
            )
            for agent in agents
        },
        "sites": {
            str(site or ""): (count.completed, count.handled_seconds)
            for site, count in work.by_site().items()
            if count.completed
        },
        "per_day": {key: n for key, n in work.per_day().items() if n},
        "heat": (heat.load, heat.on_shift, heat.per_person, heat.gap_days),
    }


def assert_as_live(world: World, engagement_id: int | None = None, days: int = PERIOD) -> None:
    """The dashboard over the last ``days`` days shows what is counted live, to the digit."""
    start, end = today() - dt.timedelta(days=days - 1), today()
    board = operations_dashboard(world.lead, start=start, end=end, engagement_id=engagement_id)
    figures, expected = shown(board), live(world, start, end, engagement_id)
    assert {k: (v[0], v[1], v[3]) for k, v in figures["agents"].items()} == expected["agents"]
    assert {k: v[:2] for k, v in figures["sites"].items() if v[0]} == expected["sites"]
    site_ids = {row.label: int(row.key) if row.key else None for row in board.sites}
    per_day = {
        (site_ids[label], day): n
        for label, counts in board.completed_per_day.items()
        for day, n in zip(board.days, counts, strict=True)
        if n
    }
    assert per_day == expected["per_day"]
    assert figures["heat"] == expected["heat"]
    # And shown again from the roll-up alone, the same.
    again = operations_dashboard(world.lead, start=start, end=end, engagement_id=engagement_id)
    assert shown(again) == figures


def counted_days() -> set[dt.date]:
    return set(CountedOperationsDay.objects.values_list("day", flat=True))


def test_settled_days_are_counted_once_and_the_last_two_live(history: World) -> None:
    assert not CountedOperationsDay.objects.exists()
    assert_as_live(history)
    settled = last_settled_day()
    assert counted_days() == {settled - dt.timedelta(days=n) for n in range(PERIOD - 2)}
    # Each engagement's rows and the rows of all of them together.
    engaged = set(DailyAgentWork.objects.values_list("engagement_id", flat=True))
    assert engaged == {history.engagement_a.pk, history.engagement_b.pk, None}
    kept = DailyAgentOnShift.objects.get(
        day=at(5, 0).date(), agent=history.agent, engagement__isnull=True
    )
    # 08:10–09:00 with two items side by side: 100 minutes in progress fill the hour, once.
    assert kept.handled_on_shift_microseconds == 60 * 60 * 1_000_000
    one = DailyAgentOnShift.objects.get(
        day=at(5, 0).date(), agent=history.agent, engagement=history.engagement_a
    )
    assert one.handled_on_shift_microseconds == 50 * 60 * 1_000_000
    rows = (DailyAgentWork.objects.count(), HourlyArrivals.objects.count())
    assert_as_live(history)
    assert (DailyAgentWork.objects.count(), HourlyArrivals.objects.count()) == rows


@pytest.mark.parametrize("which", ["engagement_a", "engagement_b"])
def test_one_engagement_counts_its_own_items_and_its_own_share_of_the_shift(
    history: World, which: str
) -> None:
    assert_as_live(history)
    assert_as_live(history, getattr(history, which).pk)
    # Half an hour of overtime four days ago, to 09:30: each item of the day is in progress
    # from 08:10 to 09:24, 74 minutes on shift; the two together fill the hour to 09:00 and
    # the half hour after it.
    day = today() - dt.timedelta(days=4)

    def on_shift(engagement_id: int | None) -> int:
        board = operations_dashboard(history.lead, start=day, end=day, engagement_id=engagement_id)
        mine = next(row for row in board.agents if row.key == str(history.agent.pk))
        return mine.handled_on_shift_seconds

    assert on_shift(getattr(history, which).pk) == 74 * 60
    assert on_shift(None) == 90 * 60


def test_an_item_in_progress_across_settled_days_counts_them_when_its_spell_ends(
    history: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        item = submit(history, at(5, 7, 50))
        do_assign(history.lead, item, history.agent.agent, at=at(5, 7, 55))
        do_transition(history.agent, item, Action.START, at=at(5, 8))
    assert_as_live(history)
    kept = counted_days()
    assert at(5, 0).date() in kept and at(3, 0).date() in kept
    # Completed this morning: its time in progress lands on the settled days it spans.
    with django_capture_on_commit_callbacks(execute=True):
        do_transition(history.agent, item, Action.COMPLETE, at=timezone.now())
    assert at(5, 0).date() not in counted_days() and at(3, 0).date() not in counted_days()
    assert at(8, 0).date() in counted_days()
    assert_as_live(history)
    assert_as_live(history, history.engagement_a.pk)


def test_work_done_again_moves_off_its_settled_day(
    history: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = WorkItem.objects.filter(title="Side 6").order_by("pk").first()
    assert item is not None
    assert_as_live(history)
    with django_capture_on_commit_callbacks(execute=True):
        send_back_and_do_again(history, item)
    assert at(6, 0).date() not in counted_days()
    assert_as_live(history)
    assert_as_live(history, history.engagement_a.pk)


def test_a_holiday_added_in_the_back_office_for_a_past_day_is_counted_in(
    history: World,
) -> None:
    assert_as_live(history)
    before = counted_days()
    manila = Site.objects.get(code="mnl")
    holiday = (today() - dt.timedelta(days=6)).isoformat()
    browser = login(back_office_user())
    response = browser.post(
        "/admin/workforce/shiftexception/add/",
        {
            "kind": "holiday",
            "site": manila.pk,
            "name": "Typhoon: office closed",
            "shift_name": "",
            "day": holiday,
            "starts_at_0": "",
            "starts_at_1": "",
            "ends_at_0": "",
            "ends_at_1": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # The days around it are forgotten, the others kept.
    forgotten = before - counted_days()
    assert dt.date.fromisoformat(holiday) in forgotten
    assert forgotten == {
        dt.date.fromisoformat(holiday) + dt.timedelta(days=n) for n in (-2, -1, 0, 1, 2)
    }
    assert_as_live(history)
    # A holiday next month forgets nothing.
    ShiftException.objects.create(
        site=manila,
        kind=ShiftExceptionKind.HOLIDAY,
        name="Later",
        day=today() + dt.timedelta(days=30),
    )
    assert counted_days() == before
    assert_as_live(history)


def test_a_change_of_weekly_shifts_or_of_an_agents_shift_counts_every_day_again(
    history: World,
) -> None:
    assert_as_live(history)
    agent = Agent.objects.get(user=history.agent)
    agent.capacity = 5
    agent.save()  # nothing that moves a figure
    assert counted_days()
    ShiftPattern.objects.create(
        site=agent.site, name="Late", weekday=0, starts_at=dt.time(17), ends_at=dt.time(20)
    )
    assert not counted_days()
    assert_as_live(history)
    agent.shift_name = "Late"
    agent.save()
    assert not counted_days()
    assert_as_live(history)


def test_a_change_that_rolls_back_forgets_nothing(
    history: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = WorkItem.objects.filter(title="Side 6").order_by("pk").first()
    assert item is not None
    assert_as_live(history)
    counted = counted_days()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        send_back_and_do_again(history, item)
        refresh_measure(item.pk)  # what follows the commit, here inside the transaction
        assert at(6, 0).date() not in counted_days()
        raise Undo
    assert counted_days() == counted
    assert_as_live(history)


def test_the_worker_counts_the_days_up_front_and_a_rebuild_forgets_them(
    history: World,
) -> None:
    counted = do_count_settled_days(days=PERIOD)
    assert counted >= PERIOD  # the client dashboard's engagement-days, and these days
    assert len(counted_days()) == PERIOD
    assert do_count_settled_days(days=PERIOD) == 0
    marks = set(CountedOperationsDay.objects.values_list("day", "counted_at"))
    assert_as_live(history)
    assert set(CountedOperationsDay.objects.values_list("day", "counted_at")) == marks
    do_rebuild_measures()
    assert not CountedOperationsDay.objects.exists() and not DailyAgentWork.objects.exists()
    assert_as_live(history)
