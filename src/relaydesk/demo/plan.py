"""The demo as plain data: who works where, which clients buy what, and what they ask for.

Planning is pure: :func:`plan_people` and :func:`plan_items` turn a seed, a
number of days and a fixed "now" into dataclasses, without touching the
database. :mod:`relaydesk.demo.builder` then applies the plan through the
real actions, so the same seed gives the same demo.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass, field, replace

from relaydesk.core.calendars import public_holidays
from relaydesk.core.lifecycle import State
from relaydesk.core.roles import Role
from relaydesk.demo import content
from relaydesk.demo.content import DASH

ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
WEEKDAYS = (0, 1, 2, 3, 4)
RECENT = dt.timedelta(hours=36)


def stream(seed: int, purpose: str) -> random.Random:
    """An independent, repeatable random stream for one part of the demo."""
    return random.Random(f"relaydesk-demo:{seed}:{purpose}")


# --------------------------------------------------------------------------- sites and shifts


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A delivery site; it keeps the public holidays of its country (and ``subdivision``)."""

    code: str
    name: str
    country: str
    time_zone: str
    prefix: str
    is_onshore: bool = False
    subdivision: str = ""


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    """A weekly shift at a site, in local time; one ShiftPattern row per weekday."""

    site: str
    name: str
    start: dt.time
    end: dt.time
    weekdays: tuple[int, ...]


SITES = [
    SiteSpec("mnl", "Manila", "PH", "Asia/Manila", "MNL"),
    SiteSpec("khi", "Karachi", "PK", "Asia/Karachi", "KHI"),
    SiteSpec("pnq", "Pune", "IN", "Asia/Kolkata", "PNQ", subdivision="MH"),
    SiteSpec("tpa", "Tampa", "US", "America/New_York", "TPA", is_onshore=True, subdivision="FL"),
]
SITE_BY_CODE = {site.code: site for site in SITES}

# Follow the sun (UTC): Manila day 22-07, Pune day 03:30-12:30, Karachi 09-18,
# Pune evening 12:30-21:30, Manila night 13-22 (US daytime), Tampa 12/13-21/22.
SHIFTS = [
    ShiftSpec("mnl", "Day", dt.time(6), dt.time(15), ALL_DAYS),
    ShiftSpec("mnl", "Night", dt.time(21), dt.time(6), ALL_DAYS),
    ShiftSpec("khi", "Afternoon", dt.time(14), dt.time(23), ALL_DAYS),
    ShiftSpec("pnq", "Day", dt.time(9), dt.time(18), (0, 1, 2, 3, 4, 5)),
    ShiftSpec("pnq", "Evening", dt.time(18), dt.time(3), WEEKDAYS),
    ShiftSpec("tpa", "Day", dt.time(8), dt.time(17), WEEKDAYS),
]
SHIFT_BY_KEY = {(shift.site, shift.name): shift for shift in SHIFTS}
#: Sites with more than one shift: their agents work one named shift each.
MULTI_SHIFT_SITES = frozenset(
    site.code for site in SITES if sum(shift.site == site.code for shift in SHIFTS) > 1
)


# How many coming holidays per site the demo records.
HOLIDAYS_AHEAD = 2
#: Manila alone is on shift from 22:00 to 03:30 UTC (the US evening, when Northwind's
#: customers still write): a day it closes leaves those hours uncovered. When no public
#: holiday closes it during the history, a typhoon does, so the coverage heat map shows
#: what a closed site costs whatever day the demo is built.
CLOSURE_SITE = "mnl"
CLOSURE_NAME = "Typhoon: office closed"


@dataclass(frozen=True, slots=True)
class PlannedHoliday:
    """A holiday to record: the site's local date on which none of its shifts start."""

    site: str
    day: dt.date
    name: str


@dataclass(frozen=True, slots=True)
class PlannedOvertime:
    """An overtime window to record, for a site's shift or for one agent (by e-mail)."""

    site: str
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    shift_name: str = ""
    agent_email: str = ""


def plan_holidays(now: dt.datetime, days: int = 30) -> list[PlannedHoliday]:
    """Each site's public holidays (its country's, from the ``holidays`` package) during the
    ``days`` days of history up to ``now`` and the next :data:`HOLIDAYS_AHEAD` after its
    local today, in date order per site.

    The history is worked around them (nobody of the site works a shift that starts on
    one). When no public holiday closes Manila from the history's first local day to
    yesterday, :data:`CLOSURE_NAME` closes it a third of the way back (two days back at
    the latest, so the shift under way now is not the one closed), so the past always
    holds a day on which the hours only Manila covers are a gap.
    """
    planned: list[PlannedHoliday] = []
    for site in SITES:
        today = now.astimezone(site_zone(site.code)).date()
        first = today - dt.timedelta(days=days - 1)
        years = range(first.year, today.year + 2)
        found = public_holidays(site.country, site.subdivision or None, years)
        past = [(day, name) for day, name in found.items() if first <= day <= today]
        coming = [(day, name) for day, name in found.items() if day > today][:HOLIDAYS_AHEAD]
        if site.code == CLOSURE_SITE and not any(day < today for day, _ in past):
            closed = today - dt.timedelta(days=max(2, days // 3))
            past = sorted([*past, (closed, CLOSURE_NAME)])
        planned += [PlannedHoliday(site.code, day, name[:100]) for day, name in past + coming]
    return planned


def site_zone(site: str) -> zoneinfo.ZoneInfo:
    """The time zone of the site with code ``site``."""
    return zoneinfo.ZoneInfo(SITE_BY_CODE[site].time_zone)


def _local(site: str, day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=site_zone(site)).astimezone(dt.UTC)


def plan_overtime(now: dt.datetime) -> list[PlannedOvertime]:
    """Two coming overtime windows: Pune's Day shift on the next Sunday (it works Monday
    to Saturday), and the demo agent two hours past the end of tomorrow's night shift."""
    pune_today = now.astimezone(zoneinfo.ZoneInfo(SITE_BY_CODE["pnq"].time_zone)).date()
    sunday = pune_today + dt.timedelta(days=(6 - pune_today.weekday()) or 7)
    manila_today = now.astimezone(zoneinfo.ZoneInfo(SITE_BY_CODE["mnl"].time_zone)).date()
    morning = manila_today + dt.timedelta(days=2)  # the night that starts tomorrow ends then
    return [
        PlannedOvertime(
            "pnq",
            "Month-end backlog",
            _local("pnq", sunday, dt.time(10)),
            _local("pnq", sunday, dt.time(14)),
            shift_name="Day",
        ),
        PlannedOvertime(
            "mnl",
            "Cover for the Florida filing deadline",
            _local("mnl", morning, dt.time(6)),
            _local("mnl", morning, dt.time(8)),
            agent_email=DEMO_AGENT_EMAIL,
        ),
    ]


# --------------------------------------------------------------------------- people


@dataclass(frozen=True, slots=True)
class Login:
    """One of the fixed demo logins."""

    role: Role
    label: str
    name: str
    email: str
    client: str = ""


DEMO_PASSWORD = "relaydesk-demo-2026"


@dataclass(frozen=True, slots=True)
class StaffSpec:
    """One of the provider's non-agent staff, and the shift they keep."""

    email: str
    name: str
    role: Role
    site: str
    shift: str
    is_staff: bool = False


STAFF = [
    StaffSpec(
        "admin@relaydesk.test", "Catherine Lowe", Role.PROVIDER_ADMIN, "tpa", "Day", is_staff=True
    ),
    StaffSpec("lead@relaydesk.test", "Rafael Santos", Role.OPS_LEAD, "mnl", "Night"),
    StaffSpec("priya.nair@relaydesk.test", "Priya Nair", Role.OPS_LEAD, "pnq", "Day"),
    StaffSpec("qa@relaydesk.test", "Ana Villanueva", Role.QA_REVIEWER, "mnl", "Night"),
    StaffSpec("sneha.kulkarni@relaydesk.test", "Sneha Kulkarni", Role.QA_REVIEWER, "pnq", "Day"),
    StaffSpec("marcus.bell@relaydesk.test", "Marcus Bell", Role.QA_REVIEWER, "tpa", "Day"),
    StaffSpec(
        "attorney@relaydesk.test", "Jonathan Pierce", Role.SUPERVISING_ATTORNEY, "tpa", "Day"
    ),
    StaffSpec(
        "elena.marquez@relaydesk.test", "Elena Marquez", Role.SUPERVISING_ATTORNEY, "tpa", "Day"
    ),
    # KPO work is reviewed where its expert teams sit, in Pune and Tampa.
    StaffSpec("analyst@relaydesk.test", "Arjun Mehta", Role.SENIOR_ANALYST, "pnq", "Day"),
    StaffSpec("hannah.brooks@relaydesk.test", "Hannah Brooks", Role.SENIOR_ANALYST, "tpa", "Day"),
]

DEMO_AGENT_EMAIL = "agent@relaydesk.test"
DEMO_AGENT_NAME = "Maricel Dizon"


@dataclass(frozen=True, slots=True)
class PlannedCertification:
    """A certification an agent will hold."""

    code: str
    jurisdictions: tuple[str, ...]
    valid_until: dt.date


@dataclass(frozen=True, slots=True)
class PlannedAgent:
    """An agent to create: who, where, on which shift and rest days, and what they can do."""

    email: str
    full_name: str
    site: str
    shift: str
    workdays: tuple[int, ...]
    employee_code: str
    languages: tuple[str, ...]
    capacity: int
    skills: tuple[tuple[str, int], ...]
    clearances: tuple[str, ...]
    certifications: tuple[PlannedCertification, ...] = ()
    dedicated_to: str = ""
    team: str = ""


@dataclass(frozen=True, slots=True)
class TeamSpec:
    """A team of agents doing the same kind of work on one shift."""

    code: str
    site: str
    shift: str
    count: int
    skills: dict[str, tuple[int, int]]
    clearances: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    maybe_language: tuple[str, float] | None = None
    capacity: tuple[int, int] = (3, 5)
    pip: bool = False
    e_filing: float = 0.0
    cfa: float = 0.0
    dedicated_to: str = ""


CS = {"customer-communication": (3, 5), "data-entry": (2, 5)}
TEAMS = [
    TeamSpec("mnl-support-day", "mnl", "Day", 9, CS, maybe_language=("es", 0.35)),
    TeamSpec(
        "mnl-lpo-night",
        "mnl",
        "Night",
        5,
        {
            "legal-document-review": (3, 5),
            "legal-correspondence": (2, 4),
            "case-management": (2, 4),
        },
        clearances=("phi", "privileged"),
        capacity=(2, 4),
        pip=True,
        e_filing=0.2,
    ),
    TeamSpec("mnl-support-night", "mnl", "Night", 4, CS, maybe_language=("es", 0.5)),
    TeamSpec(
        "mnl-payroll-night",
        "mnl",
        "Night",
        2,
        {"payroll-processing": (3, 5), "hr-operations": (3, 5), "data-entry": (2, 4)},
        clearances=("financial-data",),
        capacity=(3, 4),
        dedicated_to="brightpath",
    ),
    TeamSpec("khi-support", "khi", "Afternoon", 12, CS, languages=("en", "ur")),
    TeamSpec(
        "pnq-kpo",
        "pnq",
        "Day",
        6,
        {"market-research": (4, 5), "financial-analysis": (4, 5), "data-analysis": (3, 5)},
        clearances=("financial-data",),
        capacity=(2, 3),
        cfa=0.6,
    ),
    TeamSpec("pnq-support-day", "pnq", "Day", 4, CS, languages=("en", "hi")),
    TeamSpec(
        "pnq-lpo-evening",
        "pnq",
        "Evening",
        5,
        {"legal-document-review": (3, 5), "legal-drafting": (3, 5), "legal-research": (3, 5)},
        clearances=("phi", "privileged"),
        languages=("en", "hi"),
        capacity=(2, 4),
        pip=True,
    ),
    TeamSpec(
        "pnq-payroll-evening",
        "pnq",
        "Evening",
        1,
        {"payroll-processing": (4, 5), "hr-operations": (3, 5)},
        clearances=("financial-data",),
        languages=("en", "hi"),
        capacity=(4, 4),
        dedicated_to="brightpath",
    ),
    TeamSpec("pnq-support-evening", "pnq", "Evening", 3, CS, languages=("en", "hi")),
    TeamSpec(
        "tpa-lpo",
        "tpa",
        "Day",
        5,
        {
            "legal-drafting": (4, 5),
            "court-e-filing": (3, 5),
            "legal-document-review": (3, 5),
            "legal-research": (3, 5),
        },
        clearances=("phi", "privileged"),
        maybe_language=("es", 0.4),
        capacity=(3, 5),
        pip=True,
        e_filing=1.0,
    ),
    TeamSpec(
        "tpa-kpo",
        "tpa",
        "Day",
        3,
        {"market-research": (4, 5), "financial-analysis": (4, 5), "data-analysis": (3, 5)},
        clearances=("financial-data",),
        capacity=(2, 3),
        cfa=0.7,
    ),
]
SIDE_SKILLS = ["marketing-content", "bookkeeping", "it-support", "data-entry", "legal-research"]
PIP_SCOPES = [
    (("US-FL",), 50),
    (("US-FL", "US-NY"), 25),
    (("US-FL", "US-MI"), 10),
    (("US-FL", "US-NY", "US-MI"), 10),
    (("US-MI",), 5),
]


def _rest_days(rng: random.Random, shift: ShiftSpec) -> tuple[int, ...]:
    """Two consecutive days off for someone on a seven-day shift."""
    if len(shift.weekdays) < 7:
        return shift.weekdays
    off = rng.randrange(7)
    return tuple(day for day in shift.weekdays if day not in (off, (off + 1) % 7))


def _email(first: str, last: str, taken: set[str]) -> str:
    base = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    email, n = f"{base}@relaydesk.test", 2
    while email in taken:
        email, n = f"{base}{n}@relaydesk.test", n + 1
    taken.add(email)
    return email


def plan_people(seed: int, today: dt.date) -> list[PlannedAgent]:
    """The agents of the demo provider, with the fixed demo agent first."""
    rng = stream(seed, "people")
    taken_emails = {spec.email for spec in STAFF} | {DEMO_AGENT_EMAIL}
    taken_names = {spec.name for spec in STAFF} | {DEMO_AGENT_NAME}
    codes = {site.code: 1000 + rng.randrange(40) for site in SITES}

    def next_code(site: str) -> str:
        codes[site] += rng.randint(1, 9)
        return f"{SITE_BY_CODE[site].prefix}-{codes[site]:04d}"

    agents = [
        PlannedAgent(
            email=DEMO_AGENT_EMAIL,
            full_name=DEMO_AGENT_NAME,
            site="mnl",
            shift="Night",
            workdays=WEEKDAYS,
            employee_code=next_code("mnl"),
            languages=("en", "es"),
            capacity=5,
            skills=(("customer-communication", 4), ("data-entry", 3), ("legal-document-review", 4)),
            clearances=("phi", "privileged"),
            certifications=(
                PlannedCertification("pip-no-fault", ("US-FL",), today + dt.timedelta(days=730)),
            ),
            team="mnl-lpo-night",
        )
    ]
    expired_left = 4
    for team in TEAMS:
        country = SITE_BY_CODE[team.site].country
        shift = SHIFT_BY_KEY[(team.site, team.shift)]
        for index in range(team.count):
            while True:
                first = rng.choice(content.FIRST_NAMES[country])
                last = rng.choice(content.LAST_NAMES[country])
                if f"{first} {last}" not in taken_names:
                    break
            taken_names.add(f"{first} {last}")
            skills = {slug: rng.randint(low, high) for slug, (low, high) in team.skills.items()}
            if rng.random() < 0.4:
                side = rng.choice(SIDE_SKILLS)
                skills.setdefault(side, rng.randint(1, 3))
            languages = list(team.languages)
            if team.maybe_language and rng.random() < team.maybe_language[1]:
                languages.append(team.maybe_language[0])
            certifications: list[PlannedCertification] = []
            if team.pip:
                if index == 0:
                    scope: tuple[str, ...] = ("US-FL", "US-NY", "US-MI")
                elif index == 1:
                    scope = ("US-FL", "US-NY")
                else:
                    scopes, weights = zip(*PIP_SCOPES, strict=True)
                    scope = rng.choices(scopes, weights=weights)[0]
                if index >= 2 and expired_left and rng.random() < 0.3:
                    expired_left -= 1
                    valid_until = today - dt.timedelta(days=rng.randint(5, 120))
                else:
                    valid_until = today + dt.timedelta(days=rng.randint(60, 900))
                certifications.append(PlannedCertification("pip-no-fault", scope, valid_until))
            if team.e_filing and rng.random() < team.e_filing:
                skills.setdefault("court-e-filing", rng.randint(3, 5))
                certifications.append(
                    PlannedCertification(
                        "e-filing-registration",
                        ("US-FL",),
                        today + dt.timedelta(days=rng.randint(90, 700)),
                    )
                )
            if team.cfa and rng.random() < team.cfa:
                certifications.append(
                    PlannedCertification("cfa-level-2", (), today + dt.timedelta(days=3650))
                )
            agents.append(
                PlannedAgent(
                    email=_email(first, last, taken_emails),
                    full_name=f"{first} {last}",
                    site=team.site,
                    shift=team.shift,
                    workdays=_rest_days(rng, shift),
                    employee_code=next_code(team.site),
                    languages=tuple(languages),
                    capacity=rng.randint(*team.capacity),
                    skills=tuple(sorted(skills.items())),
                    clearances=team.clearances,
                    certifications=tuple(certifications),
                    dedicated_to=team.dedicated_to,
                    team=team.code,
                )
            )
    return agents


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """A demo client, its engagement, its two users and its working week."""

    slug: str
    name: str
    industry: str
    domain: str
    engagement: str
    time_zone: str
    coverage: str
    services: tuple[tuple[str, int], ...]
    allowed_countries: tuple[str, ...]
    pricing_basis: str
    rate: str
    admin: tuple[str, str]
    member: tuple[str, str]
    hours: tuple[dt.time, dt.time, tuple[int, ...]]
    volume: tuple[int, int]
    required_certification: str = ""


CLIENTS = [
    ClientSpec(
        slug="hartwell-cole",
        name="Hartwell & Cole Injury Law",
        industry="Personal-injury law firm (Tampa, Florida)",
        domain="hartwell-cole.test",
        engagement="PIP claims support",
        time_zone="America/New_York",
        coverage="business_hours",
        services=(("document-processing", 60), ("legal-drafting", 25), ("e-filing", 15)),
        allowed_countries=("US", "PH", "IN"),
        pricing_basis="per_item",
        rate="38.00",
        admin=("dana@hartwell-cole.test", "Dana Whitfield"),
        member=("paul@hartwell-cole.test", "Paul Okafor"),
        hours=(dt.time(8, 30), dt.time(18), WEEKDAYS),
        volume=(21, 0),
        required_certification="pip-no-fault",
    ),
    ClientSpec(
        slug="northwind",
        name="Northwind Outfitters",
        industry="Online outdoor-gear retailer",
        domain="northwind.test",
        engagement="Customer care and back office",
        time_zone="America/Los_Angeles",
        coverage="24x7",
        services=(("customer-support", 75), ("data-entry", 25)),
        allowed_countries=("PH", "PK", "IN"),
        pricing_basis="per_hour",
        rate="14.50",
        admin=("admin@northwind.test", "Erin Caldwell"),
        member=("member@northwind.test", "Luis Ortega"),
        hours=(dt.time(6), dt.time(22), ALL_DAYS),
        volume=(29, 20),
    ),
    ClientSpec(
        slug="brightpath",
        name="Brightpath Manufacturing",
        industry="Mid-size manufacturer, three plants in Illinois",
        domain="brightpath.test",
        engagement="Payroll and HR administration",
        time_zone="America/Chicago",
        coverage="business_hours",
        services=(("payroll", 55), ("hr-administration", 45)),
        allowed_countries=("IN", "PH"),
        pricing_basis="per_fte",
        rate="3200.00",
        admin=("admin@brightpath.test", "Karen Novak"),
        member=("member@brightpath.test", "Derek Ambrose"),
        hours=(dt.time(7, 30), dt.time(17), WEEKDAYS),
        volume=(9, 0),
    ),
    ClientSpec(
        slug="meridian",
        name="Meridian Capital Partners",
        industry="Private-equity and credit investment firm",
        domain="meridian.test",
        engagement="Research and analysis desk",
        time_zone="America/New_York",
        coverage="business_hours",
        services=(("market-research", 50), ("financial-analysis", 50)),
        allowed_countries=("IN", "US"),
        pricing_basis="per_item",
        rate="450.00",
        admin=("admin@meridian.test", "Victoria Hale"),
        member=("member@meridian.test", "Samuel Greer"),
        hours=(dt.time(8), dt.time(19), WEEKDAYS),
        volume=(6, 0),
    ),
]
CLIENT_BY_SLUG = {spec.slug: spec for spec in CLIENTS}
SHORT_NAMES = {
    "hartwell-cole": "Hartwell & Cole",
    "northwind": "Northwind",
    "brightpath": "Brightpath",
    "meridian": "Meridian",
}
LINE_OF_SERVICE = {
    "document-processing": "LPO",
    "legal-drafting": "LPO",
    "e-filing": "LPO",
    "customer-support": "BPO",
    "data-entry": "BPO",
    "payroll": "BPO",
    "hr-administration": "BPO",
    "market-research": "KPO",
    "financial-analysis": "KPO",
}


def _staff_logins() -> list[Login]:
    wanted = {
        "admin@relaydesk.test",
        "lead@relaydesk.test",
        "qa@relaydesk.test",
        "attorney@relaydesk.test",
        "analyst@relaydesk.test",
    }
    logins = [Login(s.role, s.role.label, s.name, s.email) for s in STAFF if s.email in wanted]
    logins.insert(2, Login(Role.AGENT, Role.AGENT.label, DEMO_AGENT_NAME, DEMO_AGENT_EMAIL))
    return logins


def _client_logins() -> list[Login]:
    logins = []
    for spec in CLIENTS:
        short = SHORT_NAMES[spec.slug]
        for role, (email, name) in (
            (Role.CLIENT_ADMIN, spec.admin),
            (Role.CLIENT_MEMBER, spec.member),
        ):
            logins.append(Login(role, f"{role.label}, {short}", name, email, spec.slug))
    return logins


LOGINS: list[Login] = _staff_logins() + _client_logins()


# --------------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A file the client attaches when submitting."""

    name: str
    content_type: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One request a client will submit, and how its life is meant to go.

    ``stop`` (a state value, or empty) freezes the item in that state, so the
    most recent days show work in every open state.
    """

    key: int
    client: str
    service: str
    submitted_at: dt.datetime
    by_admin: bool
    title: str
    description: str
    priority: int
    jurisdiction: str
    language: str
    external_ref: str
    due_at: dt.datetime | None
    work_minutes: int
    rework_minutes: int
    wait: tuple[str, str] | None = None
    qa_return_note: str = ""
    client_rework_note: str = ""
    cancel: str = ""
    cancel_note: str = ""
    submit_note: str = ""
    pickup_note: str = ""
    internal_note: str = ""
    approval_note: str = ""
    thanks_note: str = ""
    files: tuple[PlannedFile, ...] = field(default_factory=tuple)
    prefer_take: bool = False
    stop: str = ""


WORK_MINUTES = {
    "customer-support": (8, 45),
    "data-entry": (20, 90),
    "document-processing": (40, 160),
    "legal-drafting": (120, 360),
    "e-filing": (25, 90),
    "payroll": (40, 150),
    "hr-administration": (20, 90),
    "market-research": (300, 960),
    "financial-analysis": (240, 840),
}
FILE_CHANCE = {
    "document-processing": 0.1,
    "payroll": 0.08,
    "financial-analysis": 0.05,
    "data-entry": 0.03,
}
# Who reviews each service under mandatory review (the catalog's review roles).
MANDATORY_REVIEW_ROLE = {
    "legal-drafting": Role.SUPERVISING_ATTORNEY.value,
    "e-filing": Role.SUPERVISING_ATTORNEY.value,
    "market-research": Role.SENIOR_ANALYST.value,
    "financial-analysis": Role.SENIOR_ANALYST.value,
}
MANDATORY_REVIEW = frozenset(MANDATORY_REVIEW_ROLE)
MIN_STOPPED = 3
STOP_WEIGHTS = [
    (State.QUEUED, 10),
    (State.ASSIGNED, 12),
    (State.IN_PROGRESS, 24),
    (State.WAITING_ON_CLIENT, 10),
    (State.IN_REVIEW, 16),
    (State.REWORK, 8),
    (State.DELIVERED, 20),
]


def _due(rng: random.Random, at: dt.datetime, service: str, priority: int) -> dt.datetime | None:
    if rng.random() < 0.15:
        return None
    hours = {4: rng.randint(4, 8), 3: 24, 2: rng.choice([48, 72]), 1: 120}[priority]
    if LINE_OF_SERVICE[service] == "KPO":
        hours += 24 * rng.randint(3, 6)
    elif service == "legal-drafting":
        hours += 48
    due = at + dt.timedelta(hours=hours)
    return due.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def _files(
    rng: random.Random, spec: ClientSpec, service: str, title: str, ref: str
) -> tuple[PlannedFile, ...]:
    if rng.random() >= FILE_CHANCE.get(service, 0.0):
        return ()
    header = (spec.name, title, f"Reference: {ref}")
    if service == "document-processing":
        pages = tuple(
            f"Page {n}: itemised charges, CPT {rng.randint(97010, 99215)}, "
            f"${rng.randint(80, 2400)}.00"
            for n in range(1, rng.randint(3, 7))
        )
        return (PlannedFile(f"records_{ref}.pdf", "application/pdf", header + pages),)
    if service == "payroll":
        rows = tuple(
            f"{rng.randint(10400, 18999)},{rng.randint(60, 96)}.0,{rng.randint(0, 14)}.5"
            for _ in range(rng.randint(4, 12))
        )
        return (
            PlannedFile(
                f"timesheet_export_{ref}.csv",
                "text/csv",
                ("employee_id,regular_hours,overtime_hours", *rows),
            ),
        )
    if service == "financial-analysis":
        return (
            PlannedFile(
                f"lender_case_{ref}.pdf",
                "application/pdf",
                (
                    *header,
                    "Lender case summary",
                    "Revenue CAGR 6.5%",
                    "EBITDA margin 18-21%",
                    "Leverage 4.25x at close",
                ),
            ),
        )
    return (
        PlannedFile(
            f"source_{ref}.txt", "text/plain", (*header, "Rows to key follow in the shared drive.")
        ),
    )


def _fill(template: str, rng: random.Random, jurisdiction: str, day: dt.date) -> str:
    """Fill a conversation template's blanks (adjuster, date of service, carrier, ...)."""
    return template.format(**_blanks(rng, jurisdiction, day))


def _blanks(rng: random.Random, jurisdiction: str, day: dt.date) -> dict[str, object]:
    return {
        "adjuster": rng.choice(content.ADJUSTERS),
        "dos": (day - dt.timedelta(days=rng.randint(10, 60))).isoformat(),
        "insurer": rng.choice(content.INSURERS.get(jurisdiction or "US-FL", ["the carrier"])),
        "provider": rng.choice(content.PROVIDERS.get(jurisdiction or "US-FL", ["the clinic"])),
        "plant": rng.randint(1, 3),
    }


def _wait(rng: random.Random, client: str, jurisdiction: str, day: dt.date) -> tuple[str, str]:
    """A question for the client and their answer, with the same blanks filled in."""
    question, answer = rng.choice(content.WAIT_NOTES[client])
    blanks = _blanks(rng, jurisdiction, day)
    return question.format(**blanks), answer.format(**blanks)


def plan_items(seed: int, days: int, now: dt.datetime) -> list[PlannedItem]:
    """Every request the four clients submit over the last ``days`` days, in time order."""
    rng = stream(seed, "items")
    drafts: list[PlannedItem] = []
    for spec in CLIENTS:
        zone = zoneinfo.ZoneInfo(spec.time_zone)
        today = now.astimezone(zone).date()
        start_hour, end_hour, workdays = spec.hours
        services, weights = zip(*spec.services, strict=True)
        for offset in range(days - 1, -1, -1):
            day = today - dt.timedelta(days=offset)
            if day.weekday() not in workdays:
                continue
            weekday = day.weekday() < 5
            base = spec.volume[0] if weekday else spec.volume[1]
            if spec.slug == "brightpath" and day.day in (1, 2, 14, 15, 16, 28, 29, 30, 31):
                base += 3  # pay-period close
            count = max(0, round(base * rng.uniform(0.75, 1.25)))
            opens = dt.datetime.combine(day, start_hour, tzinfo=zone)
            closes = dt.datetime.combine(day, end_hour, tzinfo=zone)
            span = int((closes - opens).total_seconds() // 60)
            for _ in range(count):
                # Busier in the morning: the earlier of two draws, half the time.
                minute = rng.randrange(span)
                if rng.random() < 0.5:
                    minute = min(minute, rng.randrange(span))
                at = (opens + dt.timedelta(minutes=minute)).astimezone(dt.UTC)
                at = at.replace(second=rng.randrange(60))
                service = rng.choices(services, weights=weights)[0]
                text = content.TEXT_WRITERS[spec.slug](rng, service, day)
                priority = rng.choices([1, 2, 3, 4], weights=[15, 60, 20, 5])[0]
                low, high = WORK_MINUTES[service]
                line = LINE_OF_SERVICE[service]
                wait = None
                if rng.random() < 0.07:
                    wait = _wait(rng, spec.slug, text.jurisdiction, day)
                cancel = rng.choices(["", "client", "lead"], weights=[975, 15, 10])[0]
                review_role = MANDATORY_REVIEW_ROLE.get(service, Role.QA_REVIEWER.value)
                draft = PlannedItem(
                    key=0,
                    client=spec.slug,
                    service=service,
                    submitted_at=at,
                    by_admin=rng.random() < 0.3,
                    title=text.title[:200],
                    description=text.description,
                    priority=priority,
                    jurisdiction=text.jurisdiction,
                    language=text.language,
                    external_ref=text.external_ref,
                    due_at=_due(rng, at, service, priority),
                    work_minutes=rng.randint(low, high),
                    rework_minutes=rng.randint(max(5, low // 3), max(10, high // 3)),
                    wait=wait,
                    qa_return_note=(
                        rng.choice(content.QA_RETURN_NOTES[line]) if rng.random() < 0.08 else ""
                    ),
                    client_rework_note=(
                        _fill(
                            rng.choice(content.CLIENT_REWORK_NOTES[spec.slug]),
                            rng,
                            text.jurisdiction,
                            day,
                        )
                        if rng.random() < 0.04
                        else ""
                    ),
                    cancel=cancel,
                    cancel_note=rng.choice(
                        content.CLIENT_CANCEL_NOTES
                        if cancel == "client"
                        else content.LEAD_CANCEL_NOTES
                    )
                    if cancel
                    else "",
                    submit_note=(
                        _fill(
                            rng.choice(content.CLIENT_NOTES_ON_SUBMIT[spec.slug]),
                            rng,
                            text.jurisdiction,
                            day,
                        )
                        if rng.random() < 0.07
                        else ""
                    ),
                    pickup_note=(
                        rng.choice(content.AGENT_PICKUP_NOTES) if rng.random() < 0.07 else ""
                    ),
                    internal_note=(
                        rng.choice(content.INTERNAL_NOTES[service]) if rng.random() < 0.07 else ""
                    ),
                    approval_note=rng.choice(content.APPROVAL_NOTES[review_role]),
                    thanks_note=rng.choice(content.CLIENT_THANKS) if rng.random() < 0.08 else "",
                    files=_files(rng, spec, service, text.title, text.external_ref),
                    prefer_take=rng.random() < 0.35,
                )
                if at < now:
                    drafts.append(draft)
    drafts.sort(key=lambda item: (item.submitted_at, item.client, item.title))
    rng = stream(seed, "stops")
    planned: list[PlannedItem] = []
    for key, item in enumerate(drafts, start=1):
        item = replace(item, key=key)
        if item.submitted_at >= now - RECENT and rng.random() < 0.6:
            reviewed = item.service in MANDATORY_REVIEW
            options = [
                (state, 35 if reviewed else 0) if state is State.IN_REVIEW else (state, weight)
                for state, weight in STOP_WEIGHTS
            ]
            states, weights = zip(*options, strict=True)
            item = _stopping_at(item, rng.choices(states, weights=weights)[0], rng)
        planned.append(item)
    # Leave something in the demo agent's queue: the latest US-FL document reviews and
    # English support tickets wait to be taken.
    for client, service, wanted in (
        ("hartwell-cole", "document-processing", lambda i: i.jurisdiction == "US-FL"),
        ("northwind", "customer-support", lambda i: i.language == "en"),
    ):
        chosen = [i for i in planned if i.client == client and i.service == service and wanted(i)]
        for item in chosen[-3:]:
            planned[item.key - 1] = _stopping_at(item, State.QUEUED, rng)
    # Whatever the hour, leave a few recent items in every open state.
    for state, _ in STOP_WEIGHTS:
        short = MIN_STOPPED - sum(1 for item in planned if item.stop == state.value)
        candidates = [
            item
            for item in reversed(planned)
            if not item.stop
            and item.cancel == ""
            and (state is not State.IN_REVIEW or item.service in MANDATORY_REVIEW)
        ]
        for item in candidates[: max(short, 0)]:
            planned[item.key - 1] = _stopping_at(item, state, rng)
    return planned


def _stopping_at(item: PlannedItem, state: State, rng: random.Random) -> PlannedItem:
    """The item frozen in ``state``, with whatever it needs to get there."""
    changes: dict[str, object] = {"stop": state.value, "cancel": "", "cancel_note": ""}
    if state is State.WAITING_ON_CLIENT and item.wait is None:
        changes["wait"] = _wait(rng, item.client, item.jurisdiction, item.submitted_at.date())
    if state is State.REWORK:
        line = LINE_OF_SERVICE[item.service]
        changes["qa_return_note"] = item.qa_return_note or rng.choice(content.QA_RETURN_NOTES[line])
        changes["client_rework_note"] = item.client_rework_note or (
            f"Please take another look {DASH} a few details don't match our file."
        )
    return replace(item, **changes)  # type: ignore[arg-type]
