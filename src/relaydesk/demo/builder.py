"""Load the demo provider: four sites, sixty agents, four clients and their recent history.

The people and requests come from :mod:`relaydesk.demo.plan` (pure, seeded);
this module creates them and then replays every request through the real
actions (``do_submit_work_item``, ``do_assign``, ``do_transition``,
``do_add_comment``, and ``do_submit_review`` for the reviews, see
:mod:`relaydesk.demo.quality`) with backdated times, on the clocks of the people involved.
A refused action here is a bug in the demo, so refusals are not caught.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service, Skill
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.eligibility import AgentProfile, CertificationGrant, ItemNeeds, first_exclusion
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.demo import plan as demo_plan
from relaydesk.demo.content import pdf_bytes
from relaydesk.demo.mail import load_demo_mail
from relaydesk.demo.objectives import set_objectives
from relaydesk.demo.plan import (
    CLIENTS,
    DEMO_AGENT_EMAIL,
    LOGINS,
    MULTI_SHIFT_SITES,
    SHIFT_BY_KEY,
    SHIFTS,
    SITES,
    STAFF,
    WEEKDAYS,
    ClientSpec,
    PlannedAgent,
    PlannedItem,
)
from relaydesk.demo.quality import DemoQuality
from relaydesk.demo.roster import Roster
from relaydesk.demo.service_levels import create_calendar, replay_every_clock, set_policies
from relaydesk.insights.daily import do_count_settled_days
from relaydesk.insights.measures import backfill_measures, measures_paused
from relaydesk.routing.actions import do_hand_off, do_set_presence, push_on_arrival_paused
from relaydesk.routing.models import PresenceStatus
from relaydesk.routing.queries import agent_calendar
from relaydesk.sla.actions import replay_paused
from relaydesk.work.actions import (
    NewWorkItem,
    do_add_comment,
    do_assign,
    do_submit_work_item,
    do_transition,
)
from relaydesk.work.models import Attachment, Comment, Visibility, WorkItem, WorkItemEvent
from relaydesk.work.queries import service_needs
from relaydesk.workforce.models import (
    Agent,
    AgentCertification,
    AgentClearance,
    AgentSkill,
    Certification,
    Clearance,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Site,
)

__all__ = [
    "DEMO_CLIENT_SLUGS",
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "DEMO_TOTP_SECRET",
    "DemoAlreadyLoaded",
    "DemoSummary",
    "build_demo",
    "current_demo_code",
    "is_demo_loaded",
]

DEMO_PASSWORD = demo_plan.DEMO_PASSWORD
# Provider staff sign in with a one-time code; the demo's logins share this
# authenticator key (base32) so a newcomer can add it to any authenticator app.
DEMO_TOTP_SECRET = "RELAYDESKDEMO234"
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (login.label, login.name, login.email) for login in LOGINS
]
DEMO_CLIENT_SLUGS = [spec.slug for spec in CLIENTS]

HELD = frozenset({State.ASSIGNED, State.IN_PROGRESS, State.WAITING_ON_CLIENT, State.REWORK})


class DemoAlreadyLoaded(Exception):
    """The database already holds demo clients or demo logins."""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a demo load created, for the command to print and tests to check."""

    seed: int
    days: int
    now: dt.datetime
    clients: int
    staff: int
    agents: int
    client_users: int
    items: int
    by_state: dict[str, int]
    comments: int
    attachments: int
    events: int
    seconds: float


def is_demo_loaded() -> bool:
    """True when the demo's clients already exist in the database."""
    return Client.objects.filter(slug__in=DEMO_CLIENT_SLUGS).exists()


def build_demo(
    *,
    seed: int,
    days: int = 30,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Create the demo provider, its clients and ``days`` days of history ending at ``now``.

    The same ``seed``, ``days`` and ``now`` on a fresh database give the same
    demo. Raises :class:`DemoAlreadyLoaded` if the demo clients or any of the
    fixed logins exist already.
    """
    started = time.monotonic()
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(dt.UTC).replace(microsecond=0)
    if days < 1:
        raise ValueError("days must be at least 1")
    say = progress or (lambda line: None)
    if is_demo_loaded():
        raise DemoAlreadyLoaded("The demo clients already exist in this database.")
    emails = [login.email for login in LOGINS]
    existing = sorted(User.objects.filter(email__in=emails).values_list("email", flat=True))
    if existing:
        raise DemoAlreadyLoaded(f"These demo logins already exist: {', '.join(existing)}.")

    items = demo_plan.plan_items(seed, days, now)
    agents = demo_plan.plan_people(seed, now.date())
    first_day = min([i.submitted_at.date() for i in items] + [now.date()]) - dt.timedelta(days=2)
    holidays = demo_plan.plan_holidays(now, days)
    world = _World(seed=seed, now=now, first_day=first_day, holidays=holidays)
    with transaction.atomic():
        world.create_sites()
        say(f"sites: {len(SITES)} sites, {ShiftPattern.objects.count()} weekly shift patterns")
        world.create_staff()
        world.create_agents(agents)
        say(f"people: {len(STAFF)} staff, {len(agents)} agents")
        past, coming, overtime = world.create_shift_exceptions()
        say(
            f"shift exceptions: {past} holidays in the history, {coming} coming, "
            f"{overtime} overtime windows"
        )
        world.create_clients()
        say(f"clients: {len(CLIENTS)} clients, {2 * len(CLIENTS)} client users")
        world.set_passwords()
        _enroll_demo_authenticators()
        quality = world.set_up_quality(say)
    say(f"history: {len(items)} requests planned over {days} days")
    # With DEBUG on, Django logs every query (and on SQLite quotes its parameters with a
    # second query); the load needs no log.
    # The history is written as it happened, never pushed by routing on arrival.
    # Clocks are replayed once at the end, not after every change of the history.
    with (
        override_settings(DEBUG=False),
        push_on_arrival_paused(),
        replay_paused(),
        measures_paused(),
    ):
        _History(world, items, say, quality).run()
        say(quality.summary())
        with transaction.atomic():
            say(quality.disputes(*world.rosters_for_disputes()))
            say(quality.calibration())
        # The agents have just signed in: available, so "Get next" and push routing work at
        # once (only those on shift by their own calendar actually get items).
        for agent in Agent.objects.select_related("user").order_by("pk"):
            do_set_presence(agent.user, PresenceStatus.AVAILABLE.value, at=now)
        handed = _hand_over_at_shift_change(now)
    say(f"presence: {len(agents)} agents available; {handed} handoff(s) at shift change")
    with override_settings(DEBUG=False):
        policies = set_policies(world.staff[Role.OPS_LEAD][0].user, now)
        say(f"service levels: {policies} SLA policies from last month's pace")
        say(replay_every_clock(now, say))
        say(f"dashboards: {backfill_measures()} items rolled up")
        say(set_objectives(world.clients, world.staff[Role.OPS_LEAD][0].user, now))
        say(load_demo_mail(world.clients, now))
        # Last, once every item is in: the client dashboard's days are counted up front.
        say(f"dashboards: {do_count_settled_days()} settled days counted")

    by_state = Counter(WorkItem.objects.values_list("state", flat=True))
    summary = DemoSummary(
        seed=seed,
        days=days,
        now=now,
        clients=len(CLIENTS),
        staff=len(STAFF),
        agents=len(agents),
        client_users=2 * len(CLIENTS),
        items=sum(by_state.values()),
        by_state=dict(sorted(by_state.items())),
        comments=Comment.objects.count(),
        attachments=Attachment.objects.count(),
        events=WorkItemEvent.objects.count(),
        seconds=round(time.monotonic() - started, 1),
    )
    open_states = {s: n for s, n in summary.by_state.items() if State(s).is_open}
    say(
        f"done: {summary.items} items ({', '.join(f'{n} {s}' for s, n in open_states.items())} "
        f"open), {summary.comments} comments, {summary.attachments} attachments"
    )
    return summary


# --------------------------------------------------------------------------- the world


@dataclass(slots=True)
class _Worker:
    """An agent as the simulation sees them: profile, shift and current load."""

    agent: Agent
    plan: PlannedAgent
    roster: Roster
    profile: AgentProfile
    load: int = 0

    @property
    def user(self) -> User:
        return self.agent.user

    def room(self, limit: int | None = None) -> bool:
        return self.load < (limit if limit is not None else self.agent.capacity)


@dataclass(slots=True)
class _Staffer:
    user: User
    roster: Roster


@dataclass(slots=True)
class _ClientSide:
    spec: ClientSpec
    client: Client
    engagement: Engagement
    admin: User
    member: User
    roster: Roster


class _World:
    """The rows the history needs, created once and then kept in memory."""

    def __init__(
        self,
        *,
        seed: int,
        now: dt.datetime,
        first_day: dt.date,
        holidays: list[demo_plan.PlannedHoliday],
    ) -> None:
        self.seed = seed
        self.now = now
        self.first_day = first_day
        self.last_day = now.date() + dt.timedelta(days=30)
        self.holidays = holidays
        # Nobody of a site works a shift that starts on one of its holidays.
        self.days_off: dict[str, frozenset[dt.date]] = {
            site.code: frozenset(h.day for h in holidays if h.site == site.code) for site in SITES
        }
        self.rng = demo_plan.stream(seed, "world")
        self.sites: dict[str, Site] = {}
        self.staff: dict[Role, list[_Staffer]] = {}
        self.workers: list[_Worker] = []
        self.clients: dict[str, _ClientSide] = {}
        self.user_ids: list[int] = []
        self.services = {
            s.slug: s
            for s in Service.objects.prefetch_related("skill_needs__skill").select_related(
                "required_clearance"
            )
        }
        missing = sorted(
            {slug for spec in CLIENTS for slug, _ in spec.services} - set(self.services)
        )
        if missing:
            raise RuntimeError(
                f"The service catalog lacks {', '.join(missing)}; run `relaydesk migrate` first."
            )

    def roster(
        self,
        time_zone: str,
        start: dt.time,
        end: dt.time,
        days: tuple[int, ...],
        *,
        site: str = "",
    ) -> Roster:
        """Working windows over the history and the month ahead; a site's people keep its
        holidays."""
        return Roster(
            time_zone,
            start,
            end,
            days,
            first_day=self.first_day,
            last_day=self.last_day,
            days_off=self.days_off.get(site, frozenset()),
        )

    def create_sites(self) -> None:
        for spec in SITES:
            self.sites[spec.code] = Site.objects.create(
                code=spec.code,
                name=spec.name,
                country=spec.country,
                time_zone=spec.time_zone,
                is_onshore=spec.is_onshore,
            )
        ShiftPattern.objects.bulk_create(
            ShiftPattern(
                site=self.sites[shift.site],
                name=shift.name,
                weekday=weekday,
                starts_at=shift.start,
                ends_at=shift.end,
            )
            for shift in SHIFTS
            for weekday in shift.weekdays
        )

    def _user(
        self,
        email: str,
        name: str,
        role: Role,
        time_zone: str,
        *,
        client: Client | None = None,
        is_staff: bool = False,
    ) -> User:
        user = do_create_user(
            None,
            email=email,
            full_name=name,
            role=role,
            password=None,
            client=client,
            time_zone=time_zone,
            is_staff=is_staff,
        )
        self.user_ids.append(user.pk)
        return user

    def create_staff(self) -> None:
        for spec in STAFF:
            site = demo_plan.SITE_BY_CODE[spec.site]
            shift = SHIFT_BY_KEY[(spec.site, spec.shift)]
            user = self._user(
                spec.email, spec.name, spec.role, site.time_zone, is_staff=spec.is_staff
            )
            roster = self.roster(site.time_zone, shift.start, shift.end, WEEKDAYS, site=spec.site)
            self.staff.setdefault(spec.role, []).append(_Staffer(user, roster))

    def create_agents(self, planned: list[PlannedAgent]) -> None:
        skills = {s.slug: s for s in Skill.objects.all()}
        certifications = {c.code: c for c in Certification.objects.all()}
        clearances = {c.code: c for c in Clearance.objects.all()}
        rows_skill: list[AgentSkill] = []
        rows_cert: list[AgentCertification] = []
        rows_clear: list[AgentClearance] = []
        for plan in planned:
            site_spec = demo_plan.SITE_BY_CODE[plan.site]
            user = self._user(plan.email, plan.full_name, Role.AGENT, site_spec.time_zone)
            agent = Agent.objects.create(
                user=user,
                site=self.sites[plan.site],
                employee_code=plan.employee_code,
                languages=list(plan.languages),
                capacity=plan.capacity,
                # At a site with several shifts each agent works one of them.
                shift_name=plan.shift if plan.site in MULTI_SHIFT_SITES else "",
            )
            for slug, level in plan.skills:
                rows_skill.append(AgentSkill(agent=agent, skill=skills[slug], proficiency=level))
            for cert in plan.certifications:
                rows_cert.append(
                    AgentCertification(
                        agent=agent,
                        certification=certifications[cert.code],
                        jurisdictions=list(cert.jurisdictions),
                        valid_until=cert.valid_until,
                    )
                )
            for code in plan.clearances:
                granted = self.now.date() - dt.timedelta(days=self.rng.randint(60, 900))
                rows_clear.append(
                    AgentClearance(agent=agent, clearance=clearances[code], granted_on=granted)
                )
            shift = SHIFT_BY_KEY[(plan.site, plan.shift)]
            profile = AgentProfile(
                agent_id=agent.pk,
                country=site_spec.country,
                skills=dict(plan.skills),
                languages=frozenset(plan.languages),
                capacity=plan.capacity,
                load=0,
                certifications=tuple(
                    CertificationGrant(c.code, frozenset(c.jurisdictions), c.valid_until)
                    for c in plan.certifications
                ),
                clearances=frozenset(plan.clearances),
            )
            roster = self.roster(
                site_spec.time_zone, shift.start, shift.end, plan.workdays, site=plan.site
            )
            self.workers.append(_Worker(agent, plan, roster, profile))
        AgentSkill.objects.bulk_create(rows_skill)
        AgentCertification.objects.bulk_create(rows_cert)
        AgentClearance.objects.bulk_create(rows_clear)

    def create_shift_exceptions(self) -> tuple[int, int, int]:
        """Each site's holidays during the history and coming ones, and two overtime
        windows; returns how many holidays are past, how many coming, and the overtime."""
        holidays = [
            ShiftException(
                site=self.sites[h.site], kind=ShiftExceptionKind.HOLIDAY, name=h.name, day=h.day
            )
            for h in self.holidays
        ]
        agents = {w.plan.email: w.agent for w in self.workers}
        overtime = [
            ShiftException(
                site=self.sites[o.site],
                kind=ShiftExceptionKind.OVERTIME,
                name=o.name,
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                shift_name=o.shift_name,
                agent=agents[o.agent_email] if o.agent_email else None,
            )
            for o in demo_plan.plan_overtime(self.now)
        ]
        ShiftException.objects.bulk_create(holidays + overtime)
        past = sum(
            h.day <= self.now.astimezone(demo_plan.site_zone(h.site)).date() for h in self.holidays
        )
        return past, len(holidays) - past, len(overtime)

    def create_clients(self) -> None:
        certifications = {c.code: c for c in Certification.objects.all()}
        for spec in CLIENTS:
            starts_on = self.first_day - dt.timedelta(days=self.rng.randint(200, 700))
            client = Client.objects.create(
                slug=spec.slug,
                name=spec.name,
                industry=spec.industry,
                created_at=dt.datetime.combine(starts_on, dt.time(15), tzinfo=dt.UTC),
            )
            engagement = Engagement.objects.create(
                client=client,
                name=spec.engagement,
                time_zone=spec.time_zone,
                coverage=spec.coverage,
                calendar=create_calendar(spec.slug, spec.name, spec.time_zone, spec.hours),
                allowed_countries=list(spec.allowed_countries),
                required_certification=certifications.get(spec.required_certification),
                pricing_basis=spec.pricing_basis,
                rate=spec.rate,
                starts_on=starts_on,
            )
            engagement.services.set([self.services[slug] for slug, _ in spec.services])
            dedicated = [w.agent for w in self.workers if w.plan.dedicated_to == spec.slug]
            if dedicated:
                engagement.dedicated_agents.set(dedicated)
            admin = self._user(
                spec.admin[0], spec.admin[1], Role.CLIENT_ADMIN, spec.time_zone, client=client
            )
            member = self._user(
                spec.member[0], spec.member[1], Role.CLIENT_MEMBER, spec.time_zone, client=client
            )
            start, end, weekdays = spec.hours
            roster = self.roster(spec.time_zone, start, end, weekdays)
            self.clients[spec.slug] = _ClientSide(spec, client, engagement, admin, member, roster)
            User.objects.filter(pk__in=[admin.pk, member.pk]).update(
                date_joined=client.created_at + dt.timedelta(days=1)
            )

    def set_up_quality(self, say: Callable[[str], None]) -> DemoQuality:
        """Scorecards, sampling rules and agents on probation, in place before the history.

        The scorecards were published two months before it; the customer support card
        gets its second version halfway through it.
        """
        start = dt.datetime.combine(self.first_day, dt.time(12), tzinfo=dt.UTC)
        desk = DemoQuality(
            seed=self.seed,
            now=self.now,
            lead=self.staff[Role.OPS_LEAD][0].user,
            services=self.services,
            engagements={slug: side.engagement for slug, side in self.clients.items()},
            revise_at=(start + (self.now - start) / 2).replace(minute=0, second=0),
        )
        teams: dict[str, list[Agent]] = {}
        for worker in self.workers:
            teams.setdefault(worker.plan.team, []).append(worker.agent)
        say(desk.set_up(start - dt.timedelta(days=60), teams))
        return desk

    def rosters_for_disputes(self) -> tuple[dict[int, Roster], list[tuple[User, Roster]]]:
        """Each agent's working hours by user id, and the operations leads' with their own."""
        agents = {w.agent.user_id: w.roster for w in self.workers}
        return agents, [(lead.user, lead.roster) for lead in self.staff[Role.OPS_LEAD]]

    def set_passwords(self) -> None:
        """One (slow, Argon2) hash for everyone: the demo password is public anyway."""
        User.objects.filter(pk__in=self.user_ids).update(password=make_password(DEMO_PASSWORD))
        joined = dt.datetime.combine(self.first_day, dt.time(13), tzinfo=dt.UTC)
        User.objects.filter(pk__in=self.user_ids, client__isnull=True).update(
            date_joined=joined - dt.timedelta(days=120)
        )


# --------------------------------------------------------------------------- the history


@dataclass(slots=True)
class _Run:
    """One request on its way through the lifecycle."""

    plan: PlannedItem
    side: _ClientSide
    needs: ItemNeeds
    review_role: Role
    item: WorkItem | None = None
    state: State = State.NEW
    owner: _Worker | None = None
    remaining: float = 0.0
    waited: bool = False
    qa_returned: bool = False
    client_reworked: bool = False
    reviewer: User | None = None
    done: bool = False

    @property
    def submitter(self) -> User:
        return self.side.admin if self.plan.by_admin else self.side.member


@dataclass(order=True, slots=True)
class _Event:
    at: dt.datetime
    seq: int
    run: int = field(compare=False)
    step: str = field(compare=False)


class _History:
    """Replays the planned requests through the real actions, in time order."""

    def __init__(
        self,
        world: _World,
        items: list[PlannedItem],
        say: Callable[[str], None],
        quality: DemoQuality,
    ) -> None:
        self.world = world
        self.now = world.now
        self.say = say
        self.quality = quality
        self.rng = demo_plan.stream(world.seed, "history")
        self.real_today = timezone.localdate()
        self.queue: list[_Event] = []
        self.seq = 0
        self.runs: list[_Run] = []
        self.submitted = 0
        needs_cache: dict[tuple[str, str, str, str], ItemNeeds] = {}
        for planned in items:
            side = world.clients[planned.client]
            key = (planned.client, planned.service, planned.jurisdiction, planned.language)
            if key not in needs_cache:
                needs_cache[key] = self._needs(side, planned)
            service = world.services[planned.service]
            review_role = Role(service.review_role) if service.review_role else Role.QA_REVIEWER
            self.runs.append(_Run(planned, side, needs_cache[key], review_role))
            self.push(planned.submitted_at, len(self.runs) - 1, "submit")
        self.leads = world.staff[Role.OPS_LEAD]

    def _needs(self, side: _ClientSide, planned: PlannedItem) -> ItemNeeds:
        """What ``relaydesk.work.queries.item_needs`` will say, without a query per item."""
        base = service_needs(self.world.services[planned.service])
        engagement = side.engagement
        certification = engagement.required_certification
        return ItemNeeds(
            skills=base.skills,
            language=planned.language,
            jurisdiction=planned.jurisdiction,
            certification=certification.code if certification and planned.jurisdiction else "",
            clearance=base.clearance,
            allowed_countries=frozenset(engagement.allowed_countries),
            dedicated_agent_ids=frozenset(
                w.agent.pk for w in self.world.workers if w.plan.dedicated_to == side.spec.slug
            ),
        )

    def push(self, at: dt.datetime, run: int, step: str) -> None:
        self.seq += 1
        heapq.heappush(self.queue, _Event(at, self.seq, run, step))

    def minutes(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.rng.uniform(low, high))

    def run(self) -> None:
        if not self.queue:
            return
        first = self.queue[0].at.date()
        total = (self.now.date() - first).days + 1
        for index in range(total):
            day_end = dt.datetime.combine(
                first + dt.timedelta(days=index + 1), dt.time(), tzinfo=dt.UTC
            )
            limit = min(day_end, self.now)
            with transaction.atomic():
                while self.queue and self.queue[0].at < limit:
                    event = heapq.heappop(self.queue)
                    run = self.runs[event.run]
                    if not run.done:
                        getattr(self, f"_{event.step}")(run, event.run, event.at)
            self.say(f"history: day {index + 1}/{total}, {self.submitted} items")

    # ----------------------------------------------------------------- helpers

    def halt(self, run: _Run) -> bool:
        """Stop here if the plan freezes the item in its current state."""
        if run.plan.stop and run.state.value == run.plan.stop:
            run.done = True
        return run.done

    def moved(self, run: _Run, item: WorkItem) -> None:
        """Record the item's new state and keep the owner's load in step with it."""
        before, after = run.state, State(item.state)
        if run.owner is not None:
            run.owner.load += (after in HELD) - (before in HELD)
        run.item, run.state = item, after
        if not after.is_open:
            run.done = True

    def act(self, run: _Run, actor: User, action: Action, at: dt.datetime, note: str = "") -> None:
        assert run.item is not None
        self.moved(run, do_transition(actor, run.item, action, note=note, at=at))

    def comment(
        self, run: _Run, author: User, body: str, at: dt.datetime, *, internal: bool = False
    ) -> None:
        assert run.item is not None
        if body and at < self.now:
            do_add_comment(
                author,
                run.item,
                body,
                visibility=Visibility.INTERNAL if internal else Visibility.CLIENT,
                at=at,
            )

    def takeable(self, worker: _Worker, run: _Run, at: dt.datetime) -> bool:
        """An agent can take an item only if they see it in their queue (checked on today)."""
        needs = run.needs
        if not needs.certification:
            return True
        return any(
            grant.code == needs.certification
            and grant.covers(needs.jurisdiction, timezone.localdate(at))
            and grant.covers(needs.jurisdiction, self.real_today)
            for grant in worker.profile.certifications
        )

    # ----------------------------------------------------------------- steps

    def _submit(self, run: _Run, index: int, at: dt.datetime) -> None:
        planned = run.plan
        files: list[UploadedFile] = []
        for spec in planned.files:
            if spec.content_type == "application/pdf":
                data = pdf_bytes(list(spec.lines))
            else:
                data = ("\n".join(spec.lines) + "\n").encode()
            files.append(SimpleUploadedFile(spec.name, data, content_type=spec.content_type))
        request = NewWorkItem(
            engagement_id=run.side.engagement.pk,
            service_slug=planned.service,
            title=planned.title,
            description=planned.description,
            priority=planned.priority,
            jurisdiction=planned.jurisdiction,
            language=planned.language,
            external_ref=planned.external_ref,
            due_at=planned.due_at,
        )
        item, _ = do_submit_work_item(run.submitter, request, files=files, at=at)
        # The QA sample follows the demo's seed, not this installation's secret key, so
        # the same seed gives the same reviews everywhere.
        key = f"relaydesk-demo:{self.world.seed}:{index}"
        item.qa_seed = hashlib.sha256(key.encode()).hexdigest()
        WorkItem.objects.filter(pk=item.pk).update(qa_seed=item.qa_seed)
        self.submitted += 1
        run.item, run.state = item, State(item.state)
        if self.halt(run):
            return
        cursor = at
        if planned.submit_note:
            cursor = at + self.minutes(2, 15)
            self.comment(run, run.submitter, planned.submit_note, cursor)
        self.push(cursor + self.minutes(3, 35), index, "route")

    def _route(self, run: _Run, index: int, at: dt.datetime) -> None:
        if run.plan.cancel == "client":
            self.act(run, run.submitter, Action.CANCEL, at, run.plan.cancel_note)
            return
        today = timezone.localdate(at)
        eligible = [
            w
            for w in self.world.workers
            if first_exclusion(w.profile, run.needs, today, check_capacity=False) is None
        ]
        if not eligible:
            raise RuntimeError(f"No demo agent can ever work {run.plan.title!r}.")
        on_shift = [w for w in eligible if w.roster.is_on(at)]
        recent = run.plan.submitted_at >= self.now - demo_plan.RECENT
        free = [w for w in on_shift if w.room(3 if w.plan.email == DEMO_AGENT_EMAIL else None)]
        if not free:
            if on_shift:
                self.push(at + self.minutes(12, 35), index, "route")
            else:
                soonest = min(w.roster.next_on(at) for w in eligible)
                self.push(soonest + self.minutes(3, 20), index, "route")
            return
        demo = [w for w in free if w.plan.email == DEMO_AGENT_EMAIL]
        if demo and recent and self.rng.random() < 0.5:
            worker = demo[0]
        else:
            weights = [
                (w.agent.capacity - w.load)
                * (1 + sum(w.profile.skills.get(s, 0) for s in run.needs.skills))
                for w in free
            ]
            worker = self.rng.choices(free, weights=weights)[0]
        leads_on = [lead for lead in self.leads if lead.roster.is_on(at)]
        can_take = self.takeable(worker, run, at)
        if can_take and (run.plan.prefer_take or not leads_on):
            actor = worker.user
        elif leads_on:
            actor = self.rng.choice(leads_on).user
        else:
            actor = self.leads[0].user  # the lead on call
        assert run.item is not None
        run.owner = worker
        self.moved(run, do_assign(actor, run.item, worker.agent, at=at))
        if self.halt(run):
            return
        self.push(worker.roster.advance(at, self.rng.uniform(2, 25)), index, "start")

    def _start(self, run: _Run, index: int, at: dt.datetime) -> None:
        owner = run.owner
        assert owner is not None
        first_time = run.state is State.ASSIGNED
        self.act(run, owner.user, Action.START, at)
        cursor = at
        if first_time:
            run.remaining = run.plan.work_minutes
            if run.plan.pickup_note:
                cursor += self.minutes(1, 6)
                self.comment(run, owner.user, run.plan.pickup_note, cursor)
            if run.plan.internal_note:
                cursor += self.minutes(8, 30)
                self.comment(run, owner.user, run.plan.internal_note, cursor, internal=True)
        else:
            run.remaining = run.plan.rework_minutes
        if self.halt(run):
            return
        later = cursor + dt.timedelta(minutes=1)
        if first_time and run.plan.cancel == "lead":
            self.push(max(later, at + self.minutes(20, 90)), index, "lead_cancel")
        elif first_time and run.plan.wait and not run.waited:
            share = self.rng.uniform(0.2, 0.6)
            self.push(max(later, owner.roster.advance(at, run.remaining * share)), index, "wait")
            run.remaining *= 1 - share
        else:
            self.push(max(later, owner.roster.advance(at, run.remaining)), index, "complete")

    def _lead_cancel(self, run: _Run, index: int, at: dt.datetime) -> None:
        lead = self.rng.choice(self.leads).user
        self.act(run, lead, Action.CANCEL, at, run.plan.cancel_note)

    def _wait(self, run: _Run, index: int, at: dt.datetime) -> None:
        assert run.owner is not None and run.plan.wait is not None
        self.act(run, run.owner.user, Action.WAIT_ON_CLIENT, at, run.plan.wait[0])
        run.waited = True
        if self.halt(run):
            return
        self.push(run.side.roster.advance(at, self.rng.uniform(15, 300)), index, "reply")

    def _reply(self, run: _Run, index: int, at: dt.datetime) -> None:
        assert run.item is not None and run.owner is not None and run.plan.wait is not None
        do_add_comment(run.submitter, run.item, run.plan.wait[1], at=at)
        run.state = State.IN_PROGRESS  # the client's answer resumes the work
        resume = run.owner.roster.advance(at, self.rng.uniform(5, 40))
        self.push(run.owner.roster.advance(resume, run.remaining), index, "complete")

    def _complete(self, run: _Run, index: int, at: dt.datetime) -> None:
        assert run.owner is not None
        self.act(run, run.owner.user, Action.COMPLETE, at)
        self.after_work(run, index, at)

    def after_work(self, run: _Run, index: int, at: dt.datetime) -> None:
        """Send finished work to review or to the client."""
        if self.halt(run):
            return
        if run.state is State.IN_REVIEW:
            reviewers = self.world.staff[run.review_role]
            options = [(r.roster.advance(at, self.rng.uniform(10, 150)), r) for r in reviewers]
            when = min(moment for moment, _ in options)
            run.reviewer = self.rng.choice([r for moment, r in options if moment == when]).user
            self.push(when, index, "review")
        else:
            self.push(run.side.roster.advance(at, self.rng.uniform(20, 600)), index, "decide")

    def _review(self, run: _Run, index: int, at: dt.datetime) -> None:
        """The reviewer answers the scorecard: a pass delivers, a fail goes back for rework."""
        assert run.owner is not None and run.reviewer is not None and run.item is not None
        review = self.quality.review(
            run.reviewer,
            run.item,
            at,
            # Work is failed once at most, and only when its agent has room for the rework.
            may_fail=not run.qa_returned and run.owner.room(),
            planned_fail=bool(run.plan.qa_return_note),
        )
        # The lifecycle's verdict: a pass delivers the item, a fail returns it for rework.
        run.item.state = (State.DELIVERED if review.passed else State.REWORK).value
        self.moved(run, run.item)
        if not review.passed:
            run.qa_returned = True
            if not self.halt(run):
                self.push(run.owner.roster.advance(at, self.rng.uniform(5, 60)), index, "start")
            return
        self.after_work(run, index, at)

    def _decide(self, run: _Run, index: int, at: dt.datetime) -> None:
        assert run.owner is not None
        client_user = run.submitter
        if run.plan.client_rework_note and not run.client_reworked and run.owner.room():
            self.act(run, client_user, Action.REQUEST_REWORK, at, run.plan.client_rework_note)
            run.client_reworked = True
            if not self.halt(run):
                self.push(run.owner.roster.advance(at, self.rng.uniform(5, 60)), index, "start")
            return
        if run.plan.thanks_note:
            self.comment(run, client_user, run.plan.thanks_note, at - dt.timedelta(minutes=1))
        self.act(run, client_user, Action.ACCEPT, at)


# What agents leaving their shift write for whoever takes over, by service line.
HANDOFF_NOTES = {
    "BPO": (
        "Done: the first half keyed and checked against the source. Left: the rest of the "
        "batch; two pages are hard to read, flagged in the comments."
    ),
    "LPO": (
        "Done: read through and first draft written. Left: check the citations and the "
        "client's exhibit numbering before it goes to review."
    ),
    "KPO": (
        "Done: sources gathered and the tables filled. Left: the summary and a second look "
        "at the outliers in the last quarter."
    ),
}
#: How many items the demo's shift change hands over.
DEMO_HANDOFFS = 3


def _hand_over_at_shift_change(now: dt.datetime) -> int:
    """Agents whose shift ends within the hour, or has ended, hand over work in progress
    with a note, as at a real shift change, so the board and workspaces show handoffs."""
    handed = 0
    in_progress = (
        WorkItem.objects.filter(state=State.IN_PROGRESS, owner__agent__isnull=False)
        .select_related("owner__agent__site", "service__line")
        .order_by("pk")
    )
    for item in in_progress:
        assert item.owner is not None  # work in progress always has a holder
        agent = item.owner.agent
        shift = agent_calendar(agent, at=now).status(now)
        leaving = shift.on_shift and shift.until and shift.until - now <= dt.timedelta(hours=1)
        if shift.on_shift and not leaving:
            continue
        note = HANDOFF_NOTES.get(item.service.line.code, HANDOFF_NOTES["BPO"])
        do_hand_off(item.owner, item, note, at=now)
        handed += 1
        if handed == DEMO_HANDOFFS:
            break
    return handed


def _enroll_demo_authenticators() -> None:
    """Give the demo's provider logins the shared authenticator key."""
    from relaydesk.accounts.actions import do_enroll_demo_totp

    for _role, _name, email in DEMO_LOGINS:
        user = User.objects.get(email=email)
        if user.is_provider_staff:
            do_enroll_demo_totp(user, DEMO_TOTP_SECRET)


def current_demo_code() -> str:
    """The one-time code the demo's provider logins accept right now."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time()) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, counter))
