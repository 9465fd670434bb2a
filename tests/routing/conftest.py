"""A desk to route on: the shared world, with shifts, presence and a fixed clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.routing.actions import do_set_presence
from relaydesk.work.actions import NewWorkItem, do_submit_work_item
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import ShiftPattern, Site
from tests.conftest import World

UTC = dt.UTC
# A Tuesday: 09:00 in Manila.
T0 = dt.datetime(2026, 3, 3, 1, 0, tzinfo=UTC)


def shifts(site: Site, spans: Iterable[tuple[int, dt.time, dt.time]], name: str = "day") -> None:
    """Weekly shifts at ``site``: (weekday, start, end) in its local time."""
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=site, name=name, weekday=day, starts_at=start, ends_at=end)
        for day, start, end in spans
    )


def around_the_clock(site: Site) -> None:
    """Every day, midnight to midnight."""
    shifts(site, [(day, dt.time(0), dt.time(0)) for day in range(7)], name="all day")


def queue(
    actor: User,
    engagement: Engagement,
    service: str = "data-entry",
    *,
    at: dt.datetime,
    title: str = "Key claim forms",
    **fields: object,
) -> WorkItem:
    """Submit one item at ``at`` through the real intake (it is queued at once)."""
    item, _ = do_submit_work_item(
        actor,
        NewWorkItem(engagement_id=engagement.pk, service_slug=service, title=title, **fields),  # type: ignore[arg-type]
        at=at,
    )
    return item


@pytest.fixture
def manila(world: World) -> Site:
    """The world's Manila site, working around the clock."""
    site = Site.objects.get(code="mnl")
    around_the_clock(site)
    return site


@pytest.fixture
def desk(world: World, manila: Site) -> World:
    """Both agents available since an hour before T0, at a site that never closes."""
    for user in (world.agent, world.other_agent):
        do_set_presence(user, "available", at=T0 - dt.timedelta(hours=1))
    return world
