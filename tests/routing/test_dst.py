"""A night shift across a daylight-saving change routes by the wall clock on both sides."""

from __future__ import annotations

import datetime as dt

import pytest

from relaydesk.routing.actions import do_claim_next, do_push_assign, do_set_presence
from relaydesk.workforce.models import Site
from tests.conftest import World
from tests.routing.conftest import queue, shifts

UTC = dt.UTC


@pytest.fixture
def florida(world: World) -> Site:
    """An onshore site in Florida with a Saturday night shift, 22:00 to 06:00 local time."""
    site = Site.objects.create(
        code="fll", name="Fort Lauderdale", country="US", time_zone="America/New_York"
    )
    shifts(site, [(5, dt.time(22), dt.time(6))], name="night")
    agent = world.agent.agent
    agent.site = site
    agent.capacity = 20
    agent.save()
    do_set_presence(world.agent, "available", at=dt.datetime(2026, 3, 1, tzinfo=UTC))
    return site


@pytest.mark.parametrize(
    ("label", "at", "on_shift"),
    [
        # Clocks go forward at 02:00 on Sunday 8 March 2026: the night lasts seven hours.
        ("Sat 23:00 EST, before the change", dt.datetime(2026, 3, 8, 4, 0, tzinfo=UTC), True),
        ("Sun 01:30 EST, just before it", dt.datetime(2026, 3, 8, 6, 30, tzinfo=UTC), True),
        ("Sun 03:30 EDT, just after it", dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC), True),
        ("Sun 05:59 EDT, the last minute", dt.datetime(2026, 3, 8, 9, 59, tzinfo=UTC), True),
        # Eight hours after 22:00 EST would be 07:00 EDT; the wall clock says 06:00.
        ("Sun 06:30 EDT, after the shift", dt.datetime(2026, 3, 8, 10, 30, tzinfo=UTC), False),
        # Clocks go back at 02:00 on Sunday 1 November 2026: the night lasts nine hours.
        ("Sun 01:30 EDT, before the change", dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC), True),
        ("Sun 05:30 EST, after it", dt.datetime(2026, 11, 1, 10, 30, tzinfo=UTC), True),
        ("Sun 06:00 EST, the end", dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC), False),
    ],
)
def test_a_night_shift_across_a_clock_change_takes_work_exactly_while_on_shift(
    world: World, florida: Site, label: str, at: dt.datetime, on_shift: bool
) -> None:
    item = queue(world.member_a, world.engagement_a, at=at - dt.timedelta(minutes=5))

    claim = do_claim_next(world.agent, at=at)

    if on_shift:
        assert claim.item == item, f"{label}: {claim.reason}"
    else:
        assert claim.item is None and claim.rule == "shift", label
        assert "at Fort Lauderdale; your next shift there starts Sat" in claim.reason


def test_push_assigns_on_both_sides_of_the_change_and_not_after_the_shift(
    world: World, florida: Site
) -> None:
    before = dt.datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST
    after = dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    ended = dt.datetime(2026, 3, 8, 10, 30, tzinfo=UTC)  # 06:30 EDT
    first = queue(world.member_a, world.engagement_a, at=before - dt.timedelta(hours=1))
    assert do_push_assign(at=before).assigned == ((first.pk, world.agent.agent.pk),)
    second = queue(world.member_a, world.engagement_a, at=after - dt.timedelta(minutes=1))
    assert do_push_assign(at=after).assigned == ((second.pk, world.agent.agent.pk),)
    queue(world.member_a, world.engagement_a, at=ended - dt.timedelta(minutes=1))
    run = do_push_assign(at=ended)
    assert (run.ready_agents, run.assigned) == (0, ())
