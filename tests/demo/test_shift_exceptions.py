"""The demo's agents work named shifts, and its sites have holidays (past and coming) and
overtime; a closed site leaves gaps on the coverage heat map."""

from __future__ import annotations

import datetime as dt

import pytest

from relaydesk.accounts.models import User
from relaydesk.demo.builder import DemoSummary
from relaydesk.demo.plan import (
    CLOSURE_NAME,
    DEMO_AGENT_EMAIL,
    plan_holidays,
    plan_overtime,
    site_zone,
)
from relaydesk.insights.provider_queries import coverage_heat_map
from relaydesk.routing.queries import agent_calendar
from relaydesk.workforce.models import Agent, ShiftException
from tests.demo.conftest import NOW

pytestmark = pytest.mark.django_db


def test_agents_at_sites_with_several_shifts_work_one_of_them(small_demo: DemoSummary) -> None:
    agents = list(Agent.objects.select_related("site"))
    for agent in agents:
        agent.full_clean()  # every shift named is one of the site's shifts
        several = agent.site.code in ("mnl", "pnq")
        assert bool(agent.shift_name) == several, agent
    assert {a.shift_name for a in agents if a.site.code == "mnl"} == {"Day", "Night"}
    assert {a.shift_name for a in agents if a.site.code == "pnq"} == {"Day", "Evening"}


def test_the_sites_public_holidays_and_overtime_are_recorded(small_demo: DemoSummary) -> None:
    holidays = {
        (h.site.code, h.day, h.name)
        for h in ShiftException.objects.filter(kind="holiday").select_related("site")
    }
    # NOW is Thursday 19 November 2026 in Manila and still the 18th elsewhere. No public
    # holiday falls in the three days of history, so a typhoon closed Manila on the 17th;
    # then each site's next two public holidays, by its country.
    assert holidays == {
        ("mnl", dt.date(2026, 11, 17), "Typhoon: office closed"),
        ("mnl", dt.date(2026, 11, 30), "Bonifacio Day"),
        ("mnl", dt.date(2026, 12, 8), "Feast of the Immaculate Conception of Mary"),
        ("khi", dt.date(2026, 12, 25), "Quaid-e-Azam Day"),
        ("khi", dt.date(2027, 2, 5), "Kashmir Solidarity Day"),
        ("pnq", dt.date(2026, 11, 24), "Guru Nanak's Jayanti"),
        ("pnq", dt.date(2026, 12, 25), "Christmas"),
        ("tpa", dt.date(2026, 11, 26), "Thanksgiving Day"),
        ("tpa", dt.date(2026, 11, 27), "Friday After Thanksgiving"),
    }
    planned = {(h.site, h.day, h.name) for h in plan_holidays(NOW, small_demo.days)}
    assert planned == holidays  # the plan, applied

    cover, sunday = ShiftException.objects.filter(kind="overtime").order_by("site__code")
    assert (sunday.site.code, sunday.shift_name, sunday.agent) == ("pnq", "Day", None)
    assert sunday.starts_at == dt.datetime(2026, 11, 22, 4, 30, tzinfo=dt.UTC)  # Sun 10:00 IST
    assert cover.agent is not None and cover.agent.user.email == DEMO_AGENT_EMAIL
    # Sat 21 Nov 06:00-08:00 in Manila: two hours past the end of the agent's night.
    assert cover.starts_at == dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)
    assert cover.ends_at is not None
    calendar = agent_calendar(cover.agent, at=cover.starts_at)
    assert calendar.is_on_shift(cover.starts_at + dt.timedelta(hours=1))
    assert not calendar.is_on_shift(cover.ends_at + dt.timedelta(minutes=1))
    assert len(plan_overtime(NOW)) == 2


def test_nobody_at_a_closed_site_worked_that_day(small_demo: DemoSummary) -> None:
    from relaydesk.work.models import WorkItemEvent

    # Manila's shifts that would have started on the 17th (local): 22:00 UTC on the 16th
    # to 07:00 on the 17th, and 13:00 to 22:00 on the 17th.
    closed = [
        (dt.datetime(2026, 11, 16, 22, tzinfo=dt.UTC), dt.datetime(2026, 11, 17, 7, tzinfo=dt.UTC)),
        (
            dt.datetime(2026, 11, 17, 13, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 17, 22, tzinfo=dt.UTC),
        ),
    ]
    for start, end in closed:
        worked = WorkItemEvent.objects.filter(
            actor__agent__site__code="mnl", at__gte=start, at__lt=end
        )
        assert not worked.exists(), list(worked.values_list("kind", "at")[:5])


def test_the_closed_site_leaves_gaps_on_the_coverage_heat_map(small_demo: DemoSummary) -> None:
    lead = User.objects.get(email="lead@relaydesk.test")
    end = NOW.date()
    heat = coverage_heat_map(lead, start=end - dt.timedelta(days=29), end=end)
    # Work kept arriving from the US evening (22:00–03:00 UTC), the hours Manila alone covers.
    assert heat.gap_hours >= 1
    assert set(heat.gaps) <= {22, 23, 0, 1, 2}
    manila = next(row for row in heat.rows if row.site == "Manila")
    assert any("heat-gap" in manila.cells[hour].css for hour in heat.gaps)


@pytest.mark.parametrize("hour", [3, 17])
def test_whatever_day_the_demo_is_built_manila_was_closed_on_a_past_day_of_its_month(
    hour: int,
) -> None:
    start = dt.datetime(2026, 1, 1, hour, 0, tzinfo=dt.UTC)
    for n in range(366):
        now = start + dt.timedelta(days=n)
        today = now.astimezone(site_zone("mnl")).date()
        closed = [h for h in plan_holidays(now, 30) if h.site == "mnl" and h.day < today]
        assert closed, now
        # Within the dashboard's last 30 UTC days, and never the shift under way now.
        assert all(h.day >= today - dt.timedelta(days=29) for h in closed), now
        assert all(h.day <= today - dt.timedelta(days=2) for h in closed if h.name == CLOSURE_NAME)
