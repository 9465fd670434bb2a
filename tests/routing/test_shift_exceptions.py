"""Holidays and overtime, and the shift an agent works, decide who routing sees on shift.

Pune works a Day shift (09:00–18:00) and a Night shift (21:00–06:00), Monday to
Saturday, Asia/Kolkata (UTC+05:30). Holi falls on Wednesday 4 March 2026.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.core.roles import Role
from relaydesk.core.routing import agent_exclusion
from relaydesk.routing.actions import do_claim_next, do_push_assign, do_set_presence
from relaydesk.routing.queries import explain_item, my_presence, routing_agents, why_assigned
from relaydesk.workforce.models import Agent, ShiftException, Site
from tests.audit.test_recording import back_office_user
from tests.conftest import PASSWORD, World, login, make_agent
from tests.routing.conftest import queue, shifts

UTC = dt.UTC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
SKILLS = {"legal-document-review": 4, "legal-drafting": 4, "data-entry": 4}
HOLI = dt.date(2026, 3, 4)


def ist(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """March 2026, Pune wall clock, as an aware UTC instant."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=IST).astimezone(UTC)


def _move(user: User, site: Site, shift_name: str) -> Agent:
    agent = user.agent
    agent.site, agent.shift_name = site, shift_name
    agent.save()
    return agent


@pytest.fixture
def pune(world: World) -> dict[str, User]:
    """Pune with its two shifts; the world's agents on Day and Night, a third on every shift."""
    site = Site.objects.create(code="pnq", name="Pune", country="IN", time_zone="Asia/Kolkata")
    shifts(site, [(day, dt.time(9), dt.time(18)) for day in range(6)], name="Day")
    shifts(site, [(day, dt.time(21), dt.time(6)) for day in range(6)], name="Night")
    floater = do_create_user(
        None,
        email="floater@provider.test",
        full_name="Farah Floater",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="Asia/Kolkata",
    )
    make_agent(floater, site, code="P-003", skills=SKILLS, languages=["en"])
    world.engagement_a.allowed_countries = ["IN", "PH", "US"]  # Claims support may go to Pune
    world.engagement_a.save()
    _move(world.agent, site, "Day")
    _move(world.other_agent, site, "Night")
    people = {"day": world.agent, "night": world.other_agent, "every": floater}
    for user in people.values():
        do_set_presence(user, "available", at=ist(1, 8))
    return people


def on_shift(at: dt.datetime) -> dict[str, bool]:
    """Who routing sees on shift at ``at``, by e-mail."""
    return {
        agent.user.email.split("@")[0]: agent_exclusion(moment, at) is None
        for agent, moment in routing_agents(at)
    }


def holiday(site: Site, day: dt.date, name: str, shift_name: str = "") -> ShiftException:
    return ShiftException.objects.create(
        site=site, kind="holiday", name=name, day=day, shift_name=shift_name
    )


def overtime(
    site: Site,
    starts: dt.datetime,
    ends: dt.datetime,
    *,
    shift_name: str = "",
    agent: Agent | None = None,
) -> ShiftException:
    return ShiftException.objects.create(
        site=site,
        kind="overtime",
        name="Backlog overtime",
        starts_at=starts,
        ends_at=ends,
        shift_name=shift_name,
        agent=agent,
    )


def test_an_agent_works_only_their_own_shift(pune: dict[str, User]) -> None:
    assert on_shift(ist(3, 10)) == {"agent": True, "other": False, "floater": True}
    assert on_shift(ist(3, 22)) == {"agent": False, "other": True, "floater": True}
    assert on_shift(ist(3, 19)) == {"agent": False, "other": False, "floater": False}


def test_a_holiday_stops_the_shifts_that_start_on_its_day(pune: dict[str, User]) -> None:
    holiday(Site.objects.get(code="pnq"), HOLI, "Holi")

    # Tuesday's night shift started before Holi and runs to its end at 06:00.
    assert on_shift(ist(4, 2)) == {"agent": False, "other": True, "floater": True}
    # Nothing starts on Holi itself: no Day shift, no Night shift.
    assert on_shift(ist(4, 10)) == {"agent": False, "other": False, "floater": False}
    assert on_shift(ist(4, 22)) == {"agent": False, "other": False, "floater": False}
    # Thursday is an ordinary day again.
    assert on_shift(ist(5, 10)) == {"agent": True, "other": False, "floater": True}


def test_the_agent_is_told_which_holiday_keeps_them_off(pune: dict[str, User]) -> None:
    holiday(Site.objects.get(code="pnq"), HOLI, "Holi")

    claim = do_claim_next(pune["day"], at=ist(4, 10))

    assert claim.item is None and claim.rule == "shift"
    assert claim.reason == (
        "Today is a holiday at Pune: Holi. You are off shift; "
        "your next shift there starts Thu 05 Mar 09:00 local time."
    )
    assert my_presence(pune["day"], at=ist(4, 10)).reason == claim.reason
    assert why_assigned(pune["day"], pune["day"].agent, at=ist(4, 10)).refusal == claim.reason
    # Off shift on an ordinary evening, the sentence stays as it was.
    evening = my_presence(pune["day"], at=ist(5, 19)).reason
    assert evening.startswith("You are off shift: it is Thu 19:00 at Pune;")


def test_a_holiday_for_one_shift_stops_only_that_shift(pune: dict[str, User]) -> None:
    pune_site = Site.objects.get(code="pnq")
    holiday(pune_site, dt.date(2026, 3, 3), "Holika Dahan", shift_name="Night")

    # Tuesday: the Day shift works; the Night shift, and the floater's night, do not.
    assert on_shift(ist(3, 10)) == {"agent": True, "other": False, "floater": True}
    assert on_shift(ist(3, 22)) == {"agent": False, "other": False, "floater": False}
    # Monday night and Wednesday night are untouched.
    assert on_shift(ist(2, 22)) == {"agent": False, "other": True, "floater": True}
    assert on_shift(ist(4, 22)) == {"agent": False, "other": True, "floater": True}

    night = my_presence(pune["night"], at=ist(3, 22)).reason
    assert night.startswith("Today is a holiday at Pune: Holika Dahan. You are off shift;")
    # The Day agent is off in the evening as usual: the Night holiday is not theirs.
    assert "holiday" not in my_presence(pune["day"], at=ist(3, 19)).reason


def test_overtime_for_the_site_a_shift_or_one_agent(pune: dict[str, User]) -> None:
    pune_site = Site.objects.get(code="pnq")
    sunday = (ist(8, 10), ist(8, 14))  # no shift on Sundays
    assert on_shift(ist(8, 11)) == {"agent": False, "other": False, "floater": False}

    overtime(pune_site, *sunday)
    assert on_shift(ist(8, 11)) == {"agent": True, "other": True, "floater": True}
    ShiftException.objects.all().delete()

    overtime(pune_site, *sunday, shift_name="Night")
    # The Night shift's overtime: its agents and the floater, who works every shift.
    assert on_shift(ist(8, 11)) == {"agent": False, "other": True, "floater": True}
    ShiftException.objects.all().delete()

    overtime(pune_site, *sunday, agent=pune["day"].agent)
    assert on_shift(ist(8, 11)) == {"agent": True, "other": False, "floater": False}
    assert on_shift(ist(8, 15)) == {"agent": False, "other": False, "floater": False}


def test_overtime_lets_the_agent_claim_and_be_pushed_work(
    world: World, pune: dict[str, User]
) -> None:
    overtime(Site.objects.get(code="pnq"), ist(8, 10), ist(8, 14), agent=pune["day"].agent)
    first = queue(world.member_a, world.engagement_a, at=ist(8, 9), title="Sunday 1")
    second = queue(world.member_a, world.engagement_a, at=ist(8, 9, 5), title="Sunday 2")

    claim = do_claim_next(pune["day"], at=ist(8, 11))
    assert claim.item is not None and claim.item.pk == first.pk
    assert do_claim_next(pune["night"], at=ist(8, 11)).rule == "shift"
    run = do_push_assign(at=ist(8, 11))
    assert run.assigned == ((second.pk, pune["day"].agent.pk),)


def test_the_item_page_explanation_counts_a_holiday_as_off_shift(
    world: World, pune: dict[str, User]
) -> None:
    holiday(Site.objects.get(code="pnq"), HOLI, "Holi")
    item = queue(world.member_a, world.engagement_a, at=ist(4, 9))

    explained = explain_item(world.lead, item, at=ist(4, 10))

    assert not explained.eligible
    assert explained.excluded_by == {"shift": 3}


def test_routing_agents_reads_calendars_in_a_few_queries(
    world: World, pune: dict[str, User]
) -> None:
    pune_site = Site.objects.get(code="pnq")
    holiday(pune_site, HOLI, "Holi")
    holiday(pune_site, dt.date(2026, 3, 3), "Holika Dahan", shift_name="Night")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            routing_agents(ist(4, 10))
        return len(captured.captured_queries)

    few = count()
    for n in range(8):
        user = do_create_user(
            None,
            email=f"pune{n}@provider.test",
            full_name=f"Pune {n}",
            role=Role.AGENT,
            password=PASSWORD,
            time_zone="Asia/Kolkata",
        )
        agent = make_agent(user, pune_site, code=f"P-1{n}", skills=SKILLS, languages=["en"])
        agent.shift_name = "Night" if n % 2 else "Day"
        agent.save()
        overtime(pune_site, ist(8, 10), ist(8, 12), agent=agent)
    assert count() == few
    assert few <= 10


def test_an_agent_shift_must_be_one_of_their_sites_shifts(pune: dict[str, User]) -> None:
    agent = pune["day"].agent
    agent.shift_name = "Evening"
    with pytest.raises(ValidationError) as refused:
        agent.full_clean()
    assert refused.value.message_dict["shift_name"] == [
        "Pune has no shift named “Evening”; its shifts are “Day”, “Night”."
    ]
    agent.shift_name = "Night"
    agent.full_clean()


def test_overtime_for_an_agent_of_another_site_is_refused(
    world: World, pune: dict[str, User]
) -> None:
    manila = Site.objects.get(code="mnl")
    row = ShiftException(
        site=manila,
        kind="overtime",
        name="Cover",
        starts_at=ist(8, 10),
        ends_at=ist(8, 12),
        agent=pune["day"].agent,
        shift_name="Night",
    )
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert refused.value.message_dict["agent"] == ["This agent works at another site."]
    assert "Manila has no shifts yet" in refused.value.message_dict["shift_name"][0]


def test_the_back_office_lists_holidays_overtime_and_agents_shifts(
    world: World, pune: dict[str, User]
) -> None:
    pune_site = Site.objects.get(code="pnq")
    holiday(pune_site, HOLI, "Holi")
    overtime(pune_site, ist(8, 10), ist(8, 14), shift_name="Night")
    browser = login(back_office_user())

    listing = browser.get("/admin/workforce/shiftexception/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Holi" in page and "Wed 04 Mar 2026" in page
    assert "Sun 08 Mar 2026 10:00–14:00 (Pune time)" in page and "Night shift" in page

    agents = browser.get("/admin/workforce/agent/").content.decode()
    assert "every shift" in agents and "Night" in agents

    refused = browser.post(
        f"/admin/workforce/agent/{pune['day'].agent.pk}/change/",
        {
            "user": pune["day"].pk,
            "site": pune_site.pk,
            "shift_name": "Evening",
            "employee_code": "M-001",
            "languages": '["en"]',
            "capacity": 3,
            **{
                f"{prefix}-{field}": value
                for prefix in ("skills", "certifications", "clearances")
                for field, value in (
                    ("TOTAL_FORMS", "0"),
                    ("INITIAL_FORMS", "0"),
                    ("MIN_NUM_FORMS", "0"),
                    ("MAX_NUM_FORMS", "1000"),
                )
            },
        },
    )
    assert refused.status_code == 200
    assert "Pune has no shift named “Evening”" in refused.content.decode()
    assert Agent.objects.get(pk=pune["day"].agent.pk).shift_name == "Day"
