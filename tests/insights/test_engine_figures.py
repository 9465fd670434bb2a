"""Weeks, months and turnaround worked out inside the database engine agree with Python's
calendar to the day and the millisecond, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from relaydesk.figures import SecondsBetween, UtcMonth, UtcWeek
from relaydesk.work.models import WorkItem
from tests.conftest import World, submit

UTC = dt.UTC
# Times at the edges of weeks, months and years, each with the Monday and the first of
# the month a person would write down.
EDGES = [
    (dt.datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC), "2026-11-23", "2026-11-01"),
    (dt.datetime(2026, 11, 30, 0, 0, tzinfo=UTC), "2026-11-30", "2026-11-01"),
    (dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "2026-12-28", "2026-12-01"),
    (dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC), "2026-12-28", "2027-01-01"),
    (dt.datetime(2024, 2, 29, 12, 0, tzinfo=UTC), "2024-02-26", "2024-02-01"),
]


def test_weeks_and_months_start_where_a_calendar_says(world: World) -> None:
    for at, _, _ in EDGES:
        item = submit(world.member_a, world.engagement_a)
        WorkItem.objects.filter(pk=item.pk).update(created_at=at)
    for grouping, column in ((UtcWeek, 1), (UtcMonth, 2)):
        found = dict(
            WorkItem.objects.annotate(bucket=grouping("created_at"))
            .values("bucket")
            .annotate(n=Count("pk"))
            .values_list("bucket", "n")
        )
        expected: dict[dt.datetime, int] = {}
        for edge in EDGES:
            start = dt.datetime.fromisoformat(str(edge[column])).replace(tzinfo=UTC)
            expected[start] = expected.get(start, 0) + 1
        assert found == expected, grouping.__name__


def test_turnaround_is_exact_at_the_bucket_edges(world: World) -> None:
    received = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    took = {
        "four hours": dt.timedelta(hours=4),
        "a millisecond short": dt.timedelta(hours=4) - dt.timedelta(milliseconds=1),
        "two days and a second": dt.timedelta(days=2, seconds=1),
    }
    for title, duration in took.items():
        item = submit(world.member_a, world.engagement_a, title=title)
        WorkItem.objects.filter(pk=item.pk).update(
            created_at=received, delivered_at=received + duration
        )
    seconds = dict(
        WorkItem.objects.annotate(took=SecondsBetween("delivered_at", "created_at")).values_list(
            "title", "took"
        )
    )
    assert {title: float(value) for title, value in seconds.items()} == {
        "four hours": 14400.0,
        "a millisecond short": 14399.999,
        "two days and a second": 172801.0,
    }
