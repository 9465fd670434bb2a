"""The demo's agents work named shifts, and its sites have coming holidays and overtime."""

from __future__ import annotations

import datetime as dt

import pytest

from relaydesk.demo.builder import DemoSummary
from relaydesk.demo.plan import DEMO_AGENT_EMAIL, plan_holidays, plan_overtime
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


def test_the_coming_public_holidays_and_overtime_are_recorded(small_demo: DemoSummary) -> None:
    holidays = {
        (h.site.code, h.day, h.name)
        for h in ShiftException.objects.filter(kind="holiday").select_related("site")
    }
    # NOW is Thursday 19 November 2026 in Manila and still the 18th in Pune.
    assert holidays == {
        ("mnl", dt.date(2026, 11, 30), "Bonifacio Day"),
        ("mnl", dt.date(2026, 12, 8), "Feast of the Immaculate Conception"),
        ("pnq", dt.date(2026, 12, 25), "Christmas"),
        ("pnq", dt.date(2027, 1, 26), "Republic Day"),
    }
    assert {(h.site, h.day, h.name) for h in plan_holidays(NOW)} == holidays  # the plan, applied

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
