"""The operations dashboard: figures worked out by hand, SLA and quality as their own pages
count them, the coverage heat map, the CSV files equal to the page, and only operations
leads and provider admins let in."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.core.lifecycle import Action
from relaydesk.core.roles import Role
from relaydesk.core.sla import ClockKind
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.insights.measures import connect_measures
from relaydesk.insights.provider_queries import (
    PerformanceRow,
    coverage_heat_map,
    operations_dashboard,
)
from relaydesk.quality.actions import do_submit_review
from relaydesk.quality.queries import quality_figures
from relaydesk.sla.actions import do_set_sla_policy
from relaydesk.sla.queries import attainment_figures
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import (
    Agent,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Site,
)
from tests.conftest import PASSWORD, World, login, make_agent
from tests.quality.support import LOW, PASSING, publish_scorecard, review_everything

pytestmark = pytest.mark.django_db

UTC = dt.UTC
URL = "/ops/dashboard/"
MONDAY = dt.date(2026, 3, 2)
TUESDAY = dt.date(2026, 3, 3)
SKILLS = {"legal-document-review": 4, "legal-drafting": 4, "data-entry": 4}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture(autouse=True)
def _measures_follow_changes() -> None:
    connect_measures()


def day_shift(site: Site, weekdays: range | tuple[int, ...] = range(7)) -> None:
    """09:00–17:00 local on ``weekdays``."""
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=site, name="Day", weekday=d, starts_at=dt.time(9), ends_at=dt.time(17))
        for d in weekdays
    )


def fort_lauderdale_agent(world: World) -> Agent:
    """A third agent, onshore in Fort Lauderdale (New York time)."""
    site = Site.objects.create(
        code="fll", name="Fort Lauderdale", country="US", time_zone="America/New_York"
    )
    user = do_create_user(
        None,
        email="fll@provider.test",
        full_name="Onshore Agent",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="America/New_York",
    )
    return make_agent(user, site, code="F-001", skills=SKILLS, languages=["en"])


def submit_at(world: World, when: dt.datetime, title: str = "Key forms") -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(engagement_id=world.engagement_a.pk, service_slug="data-entry", title=title),
        at=when,
    )
    return item


def work(agent: User, lead: User, item: WorkItem, start: dt.datetime, handled: float) -> None:
    """Assign at ``start``, start five minutes later, complete ``handled`` minutes after."""
    do_assign(lead, item, agent.agent, at=start)
    do_transition(agent, item, Action.START, at=start + minutes(5))
    do_transition(agent, item, Action.COMPLETE, at=start + minutes(5 + handled))


@pytest.fixture
def two_days(world: World, django_capture_on_commit_callbacks: object) -> World:
    """Manila works 09:00–17:00 local (01:00–09:00 UTC) every day; on Monday 2 and Tuesday
    3 March 2026 the agent completes two items (75 minutes with a wait on the client, and
    60 minutes) and the other agent one (120 minutes); a fourth is completed on Wednesday."""
    day_shift(Site.objects.get(code="mnl"))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        first = submit_at(world, at(MONDAY, 1))
        do_assign(world.lead, first, world.agent.agent, at=at(MONDAY, 1, 5))
        do_transition(world.agent, first, Action.START, at=at(MONDAY, 1, 10))
        do_transition(
            world.agent, first, Action.WAIT_ON_CLIENT, note="Which form?", at=at(MONDAY, 1, 40)
        )
        do_transition(world.member_a, first, Action.RESUME, at=at(MONDAY, 2, 25))
        do_transition(world.agent, first, Action.COMPLETE, at=at(MONDAY, 3, 10))
        work(world.agent, world.lead, submit_at(world, at(TUESDAY, 3)), at(TUESDAY, 3, 55), 60)
        work(
            world.other_agent, world.lead, submit_at(world, at(TUESDAY, 1)), at(TUESDAY, 1, 5), 120
        )
        wednesday = TUESDAY + dt.timedelta(days=1)
        work(world.agent, world.lead, submit_at(world, at(wednesday, 1)), at(wednesday, 1, 5), 30)
    return world


def test_throughput_handle_time_and_utilisation_are_the_ones_worked_out_by_hand(
    two_days: World,
) -> None:
    world = two_days
    figures = operations_dashboard(world.lead, start=MONDAY, end=TUESDAY)
    agents = {row.label: row for row in figures.agents}
    agent, other = agents[world.agent.full_name], agents[world.other_agent.full_name]
    # Two items, 75 + 60 minutes handled; 8 hours on shift each day.
    assert (agent.completed, agent.mean_handle_minutes) == (2, 67.5)
    assert (agent.shift_hours, agent.utilisation) == (16.0, 14.1)  # 135 min of 960 = 14.06 %
    assert (other.completed, other.mean_handle_minutes, other.utilisation) == (1, 120.0, 12.5)
    (manila,) = figures.sites
    assert (manila.label, manila.completed, manila.mean_handle_minutes) == ("Manila", 3, 85.0)
    assert (manila.shift_hours, manila.utilisation) == (32.0, 13.3)  # 255 of 1,920 minutes
    (team,) = figures.teams
    assert (team.label, team.completed, team.utilisation) == ("Manila · Every shift", 3, 13.3)
    assert (figures.total.completed, figures.total.utilisation) == (3, 13.3)
    per_day = figures.chart("completed-per-day")
    assert per_day is not None
    assert [(s.label, list(s.values)) for s in per_day.series] == [("Manila", [1, 2])]


def test_choosing_an_engagement_counts_only_its_items(two_days: World) -> None:
    world = two_days
    figures = operations_dashboard(
        world.lead, start=MONDAY, end=TUESDAY, engagement_id=world.engagement_b.pk
    )
    assert figures.total.completed == 0
    assert figures.total.utilisation == 0.0  # the shifts were worked, on other engagements


def test_sla_and_quality_per_site_and_agent_are_the_service_levels_and_quality_figures(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    # Given three agents at two sites, a one-hour turnaround, and every item reviewed
    onshore = fort_lauderdale_agent(world)
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=60, turnaround_business=False
    )
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    now = timezone.now()
    start = now - dt.timedelta(hours=5)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        for n, (agent, handled, answers) in enumerate(
            [
                (world.agent, 10, PASSING),  # delivered in 25 minutes: met
                (world.agent, 150, PASSING),  # delivered after 3 hours: missed
                (world.other_agent, 20, LOW),  # failed review, back in rework: missed by now
                (onshore.user, 15, PASSING),  # met
            ]
        ):
            item = submit_at(world, start + minutes(n), title=f"Batch {n}")
            work(agent, world.lead, item, start + minutes(n + 1), handled)
            do_submit_review(
                world.qa, item, answers, "Re-key it.", at=start + minutes(n + 1 + 5 + handled + 4)
            )
    first, last = (start.date(), now.date())
    figures = operations_dashboard(world.lead, start=first, end=last)
    for group_by, rows in (("site", figures.sites), ("agent", figures.agents)):
        sla = attainment_figures(
            world.lead, kind=ClockKind.TURNAROUND, start=first, end=last, group_by=group_by
        )
        quality = quality_figures(world.lead, start=first, end=last, group_by=group_by)
        expected_sla = {r.key: (r.met, r.breached, r.percent) for r in sla.rows}
        expected_qa = {r.key: (r.reviews, r.mean_score) for r in quality.rows}
        shown_sla = {r.key: (r.sla.met, r.sla.breached, r.sla_percent) for r in rows}
        shown_qa = {r.key: (r.reviews, r.quality_score) for r in rows if r.reviews}
        assert {k: shown_sla[k] for k in expected_sla} == expected_sla
        assert all(v == (0, 0, None) for k, v in shown_sla.items() if k not in expected_sla)
        assert shown_qa == expected_qa
    by_label = {row.label: row for row in figures.sites}
    assert (by_label["Manila"].sla.met, by_label["Manila"].sla.breached) == (1, 2)
    assert by_label["Fort Lauderdale"].sla_percent == 100.0
    assert by_label["Manila"].quality_score == 81.3  # (100 + 100 + 43.75) / 3
    assert figures.total.sla == sla.total
    assert figures.total.quality_score == 85.9  # (100 + 100 + 43.75 + 100) / 4


# --- utilisation: time in progress on shift ----------------------------------------------------


def test_an_item_left_in_progress_overnight_counts_only_its_hours_on_shift(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    # Manila works 09:00–17:00 local, 01:00–09:00 UTC, every day.
    day_shift(Site.objects.get(code="mnl"))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        item = submit_at(world, at(MONDAY, 7))
        do_assign(world.lead, item, world.agent.agent, at=at(MONDAY, 7, 30))
        # Started an hour before the shift ends, completed two hours into the next one.
        do_transition(world.agent, item, Action.START, at=at(MONDAY, 8))
        do_transition(world.agent, item, Action.COMPLETE, at=at(TUESDAY, 3))
    figures = operations_dashboard(world.lead, start=MONDAY, end=TUESDAY)
    agents = {row.label: row for row in figures.agents}
    agent, other = agents[world.agent.full_name], agents[world.other_agent.full_name]
    # 19 hours in progress (its handle time), of which 08:00–09:00 on Monday and 01:00–03:00
    # on Tuesday on shift: 3 of the agent's 16 hours on shift, 18.75 %.
    assert (agent.completed, agent.mean_handle_minutes) == (1, 19 * 60.0)
    assert (agent.handled_on_shift_seconds, agent.shift_hours) == (3 * 3600, 16.0)
    assert agent.utilisation == 18.8
    assert other.utilisation == 0.0
    # The site: its agents' 3 hours on shift with work over their 32 hours on shift.
    (manila,) = figures.sites
    assert (manila.handled_on_shift_seconds, manila.shift_hours) == (3 * 3600, 32.0)
    assert manila.utilisation == figures.total.utilisation == 9.4


def test_work_in_progress_at_once_fills_the_shift_and_no_agent_goes_above_it(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    day_shift(Site.objects.get(code="mnl"))  # 01:00–09:00 UTC
    onshore = fort_lauderdale_agent(world)
    day_shift(onshore.site, range(5))  # 14:00–22:00 UTC in March, before the clocks change
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        # The agent works three items side by side through Monday's whole shift, and one
        # for half an hour on Tuesday.
        for n in range(3):
            item = submit_at(world, at(MONDAY, 0, n), title=f"Side by side {n}")
            do_assign(world.lead, item, world.agent.agent, at=at(MONDAY, 0, 30))
            do_transition(world.agent, item, Action.START, at=at(MONDAY, 1))
            do_transition(world.agent, item, Action.COMPLETE, at=at(MONDAY, 9))
        work(world.agent, world.lead, submit_at(world, at(TUESDAY, 2)), at(TUESDAY, 2), 30)
        work(world.other_agent, world.lead, submit_at(world, at(MONDAY, 3)), at(MONDAY, 3), 120)
        work(onshore.user, world.lead, submit_at(world, at(MONDAY, 14)), at(MONDAY, 14), 60)
    figures = operations_dashboard(world.lead, start=MONDAY, end=TUESDAY)
    agents = {row.label: row for row in figures.agents}
    agent = agents[world.agent.full_name]
    # 24.5 hours handled (three items over eight hours, and half an hour), but 8.5 of the
    # agent's 16 hours on shift had work in progress.
    assert (agent.handled_seconds, agent.handled_on_shift_seconds) == (24.5 * 3600, 8.5 * 3600)
    assert agent.utilisation == 53.1  # 53.125 %
    assert agents[world.other_agent.full_name].utilisation == 12.5  # 2 of 16 hours
    assert agents[onshore.user.full_name].utilisation == 6.3  # 1 of 16 hours
    assert all(row.utilisation is not None and row.utilisation <= 100 for row in figures.agents)
    # A site's (and a team's) figure is its agents' time with work on shift over their time
    # on shift, not an average of their percentages.
    sites = {row.label: row for row in figures.sites}
    assert sites["Manila"].utilisation == 32.8  # 10.5 of 32 hours
    assert sites["Fort Lauderdale"].utilisation == 6.3
    assert figures.total.utilisation == 24.0  # 11.5 of 48 hours
    for groups in (figures.sites, figures.teams):
        for row in groups:
            members = [a for a in figures.agents if a.site == row.site]
            assert row.handled_on_shift_seconds == sum(a.handled_on_shift_seconds for a in members)
            assert row.shift_seconds == sum(a.shift_seconds for a in members)
    assert figures.total.handled_on_shift_seconds == sum(
        a.handled_on_shift_seconds for a in figures.agents
    )


def test_a_shift_starting_on_the_half_hour_counts_to_the_minute(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    # Manila works 09:30–18:30 local: 01:30–10:30 UTC, every day.
    ShiftPattern.objects.bulk_create(
        ShiftPattern(
            site=Site.objects.get(code="mnl"),
            name="Day",
            weekday=d,
            starts_at=dt.time(9, 30),
            ends_at=dt.time(18, 30),
        )
        for d in range(7)
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        late = submit_at(world, at(MONDAY, 9))
        do_assign(world.lead, late, world.agent.agent, at=at(MONDAY, 9, 50))
        do_transition(world.agent, late, Action.START, at=at(MONDAY, 10))
        do_transition(world.agent, late, Action.COMPLETE, at=at(TUESDAY, 1, 45))
        # Another client's item, in progress alongside from 10:00 to 10:40.
        side, _ = do_submit_work_item(
            world.member_b,
            NewWorkItem(
                engagement_id=world.engagement_b.pk, service_slug="data-entry", title="Re-key"
            ),
            at=at(MONDAY, 9),
        )
        do_assign(world.lead, side, world.agent.agent, at=at(MONDAY, 9, 55))
        do_transition(world.agent, side, Action.START, at=at(MONDAY, 10))
        do_transition(world.agent, side, Action.COMPLETE, at=at(MONDAY, 10, 40))

    def agent_row(engagement_id: int | None = None) -> PerformanceRow:
        figures = operations_dashboard(
            world.lead, start=MONDAY, end=TUESDAY, engagement_id=engagement_id
        )
        return next(r for r in figures.agents if r.label == world.agent.full_name)

    # On shift with work: 10:00–10:30 on Monday (both items, up to the half hour on shift)
    # and 01:30–01:45 on Tuesday: 45 minutes of 18 hours on shift.
    mine = agent_row()
    assert (mine.handled_on_shift_seconds, mine.shift_hours, mine.utilisation) == (
        45 * 60,
        18.0,
        4.2,
    )
    # Each engagement's share: the first item's 45 minutes, the other's 30.
    assert agent_row(world.engagement_a.pk).handled_on_shift_seconds == 45 * 60
    assert agent_row(world.engagement_b.pk).handled_on_shift_seconds == 30 * 60


# --- the heat map ------------------------------------------------------------------------------

JAN_12 = dt.date(2026, 1, 12)  # a Monday; New York keeps standard time (UTC-5)
JAN_13 = dt.date(2026, 1, 13)


@pytest.fixture
def two_sites(world: World, django_capture_on_commit_callbacks: object) -> World:
    """Manila (two agents, 09:00–17:00 local = 01:00–09:00 UTC, every day) and Fort
    Lauderdale (one agent, 09:00–17:00 local = 14:00–22:00 UTC on weekdays, off on Tuesday
    13 January for a holiday). Items arrive at 02:xx UTC (three on Monday, one on Tuesday),
    05:xx (one on Monday), 15:xx (two on Monday, one on Tuesday), and 11:xx and 12:xx on
    Tuesday (one each)."""
    day_shift(Site.objects.get(code="mnl"))
    onshore = fort_lauderdale_agent(world)
    day_shift(onshore.site, range(5))
    ShiftException.objects.create(
        site=onshore.site, kind=ShiftExceptionKind.HOLIDAY, name="Office closed", day=JAN_13
    )
    arrivals = [
        at(JAN_12, 2, 10),
        at(JAN_12, 2, 20),
        at(JAN_12, 2, 59),
        at(JAN_13, 2, 0),
        at(JAN_12, 5, 30),
        at(JAN_12, 15, 0),
        at(JAN_12, 15, 45),
        at(JAN_13, 15, 10),
        at(JAN_13, 11, 15),
        at(JAN_13, 12, 40),
    ]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        for n, when in enumerate(arrivals):
            submit_at(world, when, title=f"Arrival {n}")
    return world


def test_the_heat_map_counts_arrivals_against_people_on_shift_and_flags_the_gaps(
    two_sites: World,
) -> None:
    heat = coverage_heat_map(two_sites.lead, start=JAN_12, end=JAN_13)
    assert heat.days == 2
    # Items per day in each UTC hour: 4 / 2 at 02:00, 3 / 2 at 15:00, 1 / 2 at 05:00, 11:00
    # and 12:00.
    assert heat.load[2] == 2.0 and heat.load[5] == 0.5 and heat.load[15] == 1.5
    assert heat.load[11] == heat.load[12] == 0.5 and sum(heat.load) == 5.0
    fll, manila = heat.rows  # by name
    assert (manila.site, fll.site) == ("Manila", "Fort Lauderdale")
    # Manila: two people from 01:00 to 09:00 UTC, 09:00 to 17:00 in Manila.
    assert [c.staff for c in manila.cells] == [0.0] + [2.0] * 8 + [0.0] * 15
    assert (manila.cells[1].local, manila.cells[0].local) == ("09:00", "08:00")
    # Fort Lauderdale: one person on Monday only (Tuesday is a holiday), 14:00–22:00 UTC.
    assert [c.staff for c in fll.cells] == [0.0] * 14 + [0.5] * 8 + [0.0] * 2
    assert fll.cells[14].local == "09:00"
    assert heat.on_shift[2] == 2.0 and heat.on_shift[15] == 0.5 and heat.on_shift[11] == 0.0
    # Load per person: 2 / 2 = 1.00 at 02:00, 0.5 / 2 = 0.25 at 05:00, 1.5 / 0.5 = 3.00 at
    # 15:00; colours step by fifths of the busiest hour (3.00 items per person).
    assert (heat.per_person[2], heat.per_person[5], heat.per_person[15]) == (1.0, 0.25, 3.0)
    assert [manila.cells[h].css for h in (0, 1, 2, 5)] == ["heat-off", "heat-0", "heat-2", "heat-1"]
    assert [fll.cells[h].css for h in (2, 14)] == ["heat-off", "heat-0"]
    # Work arrives at 11:00 and 12:00 UTC on Tuesday and nobody ever works then: a gap, in
    # every row. At 15:00 on Tuesday Fort Lauderdale is closed and nobody else works: a gap on
    # one day of an hour Fort Lauderdale covers on Monday.
    assert heat.gap_days == [0] * 11 + [1, 1, 0, 0, 1] + [0] * 8
    assert heat.gap_text == ["11:00–13:00 UTC (1 day)", "15:00–16:00 UTC (1 day)"]
    assert manila.cells[11].css == fll.cells[12].css == "heat-gap"
    assert fll.cells[15].css == "heat-5 heat-gap-days" and manila.cells[15].css == "heat-off"
    assert heat.gap_hours == 3
    # An hour nobody works and nothing arrives in is no gap.
    assert manila.cells[23].css == "heat-off" and 23 not in heat.gaps


def test_a_site_holiday_takes_its_staff_off_that_day_and_the_hours_it_alone_covers_are_gaps(
    world: World, django_capture_on_commit_callbacks: object
) -> None:
    # Manila alone works 06:00–15:00 local, 22:00–07:00 UTC (the night in the US), every
    # day; Wednesday 14 January is a holiday in Manila, so the shift that would start at
    # 22:00 UTC on Tuesday 13th does not.
    manila = Site.objects.get(code="mnl")
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=manila, name="Day", weekday=d, starts_at=dt.time(6), ends_at=dt.time(15))
        for d in range(7)
    )
    jan_14 = JAN_13 + dt.timedelta(days=1)
    holiday = ShiftException.objects.create(
        site=manila, kind=ShiftExceptionKind.HOLIDAY, name="Typhoon: office closed", day=jan_14
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        for when in (at(JAN_13, 1), at(JAN_13, 23, 10), at(jan_14, 1, 20), at(jan_14, 23, 30)):
            submit_at(world, when)
    heat = coverage_heat_map(world.lead, start=JAN_13, end=jan_14)
    (row,) = heat.rows
    # Two agents at 00:00–07:00 on the 13th (the shift of the 13th, local) and 22:00–24:00
    # on the 14th (the shift of the 15th), none in between: one a day on average.
    assert [c.staff for c in row.cells] == [1.0] * 7 + [0.0] * 15 + [1.0] * 2
    # Work arrived at 23:10 on the 13th and 01:20 on the 14th with nobody on shift: a gap on
    # one day of hours Manila covers on the other.
    assert heat.gap_days == [0, 1] + [0] * 21 + [1]
    assert heat.gap_text == ["01:00–02:00 UTC (1 day)", "23:00–00:00 UTC (1 day)"]
    assert row.cells[1].css.endswith("heat-gap-days") and row.cells[23].css.endswith(
        "heat-gap-days"
    )
    assert "heat-gap" not in row.cells[0].css
    # Without the holiday, both days are covered and nothing is a gap.
    holiday.delete()
    heat = coverage_heat_map(world.lead, start=JAN_13, end=jan_14)
    assert [c.staff for c in heat.rows[0].cells] == [2.0] * 7 + [0.0] * 15 + [2.0] * 2
    assert heat.gap_hours == 0


def test_the_heat_map_page_and_its_csv_show_the_same_figures(two_sites: World) -> None:
    browser = login(two_sites.lead)
    query = f"?start={JAN_12}&end={JAN_13}"
    page = browser.get(URL + query)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Coverage gaps:" in html and "11:00–13:00 UTC (1 day)" in html
    rows = list(csv.reader(io.StringIO(_csv(browser, query, "heat-map"))))
    assert rows[0][:4] == ["row", "time_zone", "00:00 UTC", "01:00 UTC"]
    by_name = {row[0]: row[2:] for row in rows[1:]}
    assert by_name["On shift: Manila"][1:3] == ["2.0", "2.0"]
    assert by_name["Arriving per hour"][2] == "2.0"
    assert by_name["Items per person on shift"][15] == "3.00"
    assert by_name["Days with a gap"][11] == "1"
    # Each site's cells carry their figure in their title; the footer rows are plain cells.
    for site in ("Manila", "Fort Lauderdale"):
        shown = re.findall(rf'title="{site}, \d\d:\d\d local: ([\d.]+) on shift', html)
        assert shown == by_name[f"On shift: {site}"]
    tables = tables_of(html)
    footer = {row[0]: row[1:] for row in tables["heat-map"] if row[0] in FOOTER}
    assert footer["Arriving per hour"] == by_name["Arriving per hour"]
    assert footer["On shift, all sites"] == by_name["On shift: all sites"]
    ratios = [_as_shown(cell) for cell in footer["Items per person"]]
    assert ratios == by_name["Items per person on shift"]
    assert footer["Days with a gap"] == by_name["Days with a gap"]


FOOTER = ("Arriving per hour", "On shift, all sites", "Items per person", "Days with a gap")


# --- the page and its CSV ---------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every table's rows of cell texts, by the id of the section holding it."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.tables: dict[str, list[list[str]]] = {}
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("id"):
            self.section = found["id"] or ""
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables.setdefault(self.section, []).append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables_of(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _csv(browser: object, query: str, key: str) -> str:
    response = browser.get(f"{URL}{query}&chart={key}&format=csv")  # type: ignore[attr-defined]
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return response.content.decode()


def _as_shown(cell: str) -> str:
    """A page's cell as the CSV writes it: no unit, nothing for "–"."""
    return "" if cell == "–" else cell.removesuffix(" %")


def test_every_csv_has_the_numbers_of_the_page(two_days: World) -> None:
    browser = login(two_days.lead)
    query = f"?start={MONDAY}&end={TUESDAY}"
    html = browser.get(URL + query).content.decode()
    tables = tables_of(html)
    keys = re.findall(r"chart=([\w-]+)&amp;format=csv", html)
    assert set(keys) >= {
        "completed-per-day",
        "utilisation-by-site",
        "handle-time-by-site",
        "quality-by-site",
        "heat-map",
        "sites",
        "teams",
        "agents",
    }
    for key in keys:
        if key == "heat-map":
            continue  # its own test
        rows = list(csv.reader(io.StringIO(_csv(browser, query, key))))
        page_rows = [[_as_shown(c) for c in row] for row in tables[key][1:]]
        assert page_rows == rows[1:], key
    sites = list(csv.reader(io.StringIO(_csv(browser, query, "sites"))))
    assert sites[1][:5] == ["Manila", "3", "85.0", "32.0", "13.3"]
    assert sites[-1][0] == "All"


def test_the_dashboard_opens_for_leads_and_admins_without_data(world: World) -> None:
    for who in (world.lead, world.admin):
        page = login(who).get(URL)
        assert page.status_code == 200
        html = page.content.decode()
        assert "Operations dashboard" in html and "Nothing in this period." in html


@pytest.mark.parametrize(
    "who", ["client_admin_a", "member_a", "client_admin_b", "agent", "qa", "attorney"]
)
def test_clients_agents_and_reviewers_are_turned_away(world: World, who: str) -> None:
    browser = login(getattr(world, who))
    for path in (URL, URL + "?chart=agents&format=csv"):
        response = browser.get(path)
        assert response.status_code == 403, (who, path)
        assert "Items completed per day" not in response.content.decode()


def test_the_figures_are_refused_to_anyone_but_leads_and_admins(world: World) -> None:
    with pytest.raises(NotAllowed):
        operations_dashboard(world.client_admin_a, start=MONDAY, end=TUESDAY)
    with pytest.raises(NotAllowed):
        coverage_heat_map(world.agent, start=MONDAY, end=TUESDAY)
    with pytest.raises(Invalid):
        operations_dashboard(world.lead, start=TUESDAY, end=MONDAY)


def test_bad_requests_get_a_clear_answer(world: World) -> None:
    browser = login(world.lead)
    response = browser.get(URL + "?chart=nope&format=csv")
    assert response.status_code == 400
    assert "utilisation-by-site" in response.content.decode()
    response = browser.get(URL + f"?start={TUESDAY}&end={MONDAY}")
    assert response.status_code == 400
    assert "The period ends before it starts." in response.content.decode()
    response = browser.get(URL + "?end=1999-01-01")
    assert response.status_code == 400
    response = browser.get(URL + "?engagement=999999")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_gap_through_midnight_reads_as_one() -> None:
    from relaydesk.insights.provider_queries import HeatMap

    gap_days = [2, 1] + [0] * 19 + [0, 1, 3]
    heat = HeatMap(
        days=7,
        rows=[],
        load=[0.0] * 24,
        on_shift=[0.0] * 24,
        per_person=[None] * 24,
        levels=[None] * 24,
        gap_days=gap_days,
        legend=[],
    )
    assert heat.gap_text == ["22:00–02:00 UTC (3 days)"]
    assert heat.gap_hours == 7
