"""Weeks, months and turnaround worked out inside the database engine agree with Python's
calendar to the day and the microsecond, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from relaydesk.figures import MicrosecondsBetween, UtcMonth, UtcWeek
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
        "400 µs short": dt.timedelta(hours=4) - dt.timedelta(microseconds=400),
        "two days and a second": dt.timedelta(days=2, seconds=1),
        "a microsecond": dt.timedelta(microseconds=1),
    }
    for title, duration in took.items():
        item = submit(world.member_a, world.engagement_a, title=title)
        WorkItem.objects.filter(pk=item.pk).update(
            created_at=received + dt.timedelta(microseconds=999_999),
            delivered_at=received + dt.timedelta(microseconds=999_999) + duration,
        )
    measured = dict(
        WorkItem.objects.annotate(
            took=MicrosecondsBetween("delivered_at", "created_at")
        ).values_list("title", "took")
    )
    assert measured == {
        title: duration // dt.timedelta(microseconds=1) for title, duration in took.items()
    }
    # The dashboard's buckets put 400 µs short of four hours under four hours.
    from relaydesk.insights.daily import CountedWork, WorkScope
    from relaydesk.insights.queries import turnaround_buckets

    day = received.date()
    buckets = turnaround_buckets(
        CountedWork(WorkScope(client_id=world.client_a.pk), day, day + dt.timedelta(days=2))
    )
    assert buckets == [2, 1, 0, 0, 1, 0, 0]
