"""Routing reads: agents and items as the core sees them, claim candidates, explanations.

Rows become the core's plain data here (:func:`routing_agent`,
:class:`NeedsBook`), the claim's candidate query is built here
(:func:`claim_candidates`), and the two explanations people ask for live here:
:func:`explain_item` ("who may take this item, and why not the others") and
:func:`why_assigned` ("why does this agent have what they have").
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db.models import Count, Exists, F, Max, Min, OrderBy, OuterRef, Q, QuerySet
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.eligibility import AgentProfile, Exclusion, ItemNeeds, Presence
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can
from relaydesk.core.routing import (
    EscalationState,
    QueuedItem,
    Relaxation,
    RoutingAgent,
    agent_exclusion,
    escalation_state,
    explain,
    explain_next,
    qualification_exclusion,
    shift_ended_between,
    widened_needs,
)
from relaydesk.core.shifts import ShiftCalendar, WeeklyShift
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.routing.models import (
    AgentPresence,
    EscalationLadder,
    EscalationStep,
    Handoff,
    HandoffState,
    PresenceStatus,
)
from relaydesk.work.models import WorkItem, WorkItemEvent
from relaydesk.work.queries import (
    _eligible_queue_filter,
    can_see_item,
    item_needs,
    visible_work_items,
)
from relaydesk.workforce.models import (
    Agent,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Site,
)
from relaydesk.workforce.queries import HOLDING_STATES, agent_profile, visible_sites

#: The order items are routed in: work a handoff returned to the front of the queue
#: first (``queue_front``), then as the core's ``order_key`` has it: priority (higher
#: first), due time (earlier first, none last), age (older first), id.
#: The index ``item_routing_order`` on work items matches it.
ROUTING_ORDER: tuple[OrderBy | str, ...] = (
    F("queue_front").desc(),
    F("priority").desc(),
    F("due_at").asc(nulls_last=True),
    "created_at",
    "id",
)
# How many queued items "why nothing for me" looks at.
EXPLAIN_SAMPLE = 200

RULE_PHRASES = {
    "skill": "need a skill level you lack",
    "certification": "need a certification you lack",
    "language": "are in a language you do not work in",
    "clearance": "need a clearance you lack",
    "residency": "may not be delivered from your country",
    "site": "are offered to other sites for now",
    "dedicated": "are for the engagement's dedicated agents",
}


def utc_day(at: dt.datetime) -> dt.date:
    """The UTC calendar day of ``at``: the day certifications must be valid on."""
    return at.astimezone(dt.UTC).date()


# --- agents -----------------------------------------------------------------------------------


# Holidays and overtime are read this far around the moment asked about: the core
# looks one day back (a night shift still running) and eight days ahead.
_EXCEPTIONS_BEFORE = dt.timedelta(days=2)
_EXCEPTIONS_AFTER = dt.timedelta(days=10)


def _weekly(patterns: Iterable[ShiftPattern]) -> tuple[WeeklyShift, ...]:
    return tuple(WeeklyShift(p.weekday, p.starts_at, p.ends_at) for p in patterns)


class CalendarBook:
    """Shift calendars for sites and agents, from a few queries, each built once.

    An agent's calendar is their site's weekly patterns (only their
    ``shift_name``'s when they have one), without the holidays of the site and of
    their shift, plus the overtime of the site, of their shift and their own. An
    agent who works every shift of the site (empty ``shift_name``) has every
    shift's overtime, and loses only the one shift a shift-specific holiday stops.

    With ``at``, only the holidays and overtime near ``at`` are read (enough for
    every question the core asks about ``at``); ``sites`` narrows the book to some
    sites. A holiday stops the shifts that *start* on its local date, as the
    core's ``days_off`` does.
    """

    def __init__(self, *, at: dt.datetime | None = None, sites: Iterable[Site] | None = None):
        if sites is None:
            self.sites = {site.pk: site for site in Site.objects.all()}
        else:
            self.sites = {site.pk: site for site in sites}
        patterns = ShiftPattern.objects.order_by("site_id", "weekday", "starts_at")
        exceptions = ShiftException.objects.order_by("site_id", "day", "starts_at", "pk")
        if sites is not None:
            patterns = patterns.filter(site_id__in=list(self.sites))
            exceptions = exceptions.filter(site_id__in=list(self.sites))
        if at is not None:
            first, last = at - _EXCEPTIONS_BEFORE, at + _EXCEPTIONS_AFTER
            exceptions = exceptions.filter(
                Q(kind=ShiftExceptionKind.HOLIDAY, day__gte=first.date(), day__lte=last.date())
                | Q(kind=ShiftExceptionKind.OVERTIME, ends_at__gt=first, starts_at__lt=last)
            )
        self.patterns: dict[int, list[ShiftPattern]] = {}
        for pattern in patterns:
            self.patterns.setdefault(pattern.site_id, []).append(pattern)
        self.holidays: dict[int, list[ShiftException]] = {}
        self.overtime: dict[int, list[ShiftException]] = {}
        for row in exceptions:
            kept = self.holidays if row.kind == ShiftExceptionKind.HOLIDAY else self.overtime
            kept.setdefault(row.site_id, []).append(row)
        self._own_overtime = {
            row.agent_id for rows in self.overtime.values() for row in rows if row.agent_id
        }
        self._calendars: dict[tuple[int, str, int | None], ShiftCalendar] = {}

    def for_agent(self, agent: Agent) -> ShiftCalendar:
        """The agent's own calendar: their shift at their site, holidays and overtime."""
        own = agent.pk if agent.pk in self._own_overtime else None
        return self.calendar(agent.site_id, agent.shift_name, own)

    def for_site(self, site_id: int) -> ShiftCalendar:
        """The site's calendar: every shift, its holidays, its site- and shift-wide overtime."""
        return self.calendar(site_id, "", None)

    def calendar(self, site_id: int, shift_name: str, agent_id: int | None) -> ShiftCalendar:
        """The calendar of ``shift_name`` at the site (empty: every shift), with the
        overtime of agent ``agent_id`` if given."""
        key = (site_id, shift_name, agent_id)
        calendar = self._calendars.get(key)
        if calendar is None:
            calendar = self._build(site_id, shift_name, agent_id)
            self._calendars[key] = calendar
        return calendar

    def _build(self, site_id: int, shift_name: str, agent_id: int | None) -> ShiftCalendar:
        zone = self.sites[site_id].time_zone
        patterns = [
            p for p in self.patterns.get(site_id, ()) if not shift_name or p.name == shift_name
        ]
        days_off: set[dt.date] = set()
        # Shift-specific holidays for someone who works every shift: the day goes
        # off, and the shifts that still run that day come back as extra windows.
        partly_off: dict[dt.date, set[str]] = {}
        for holiday in self.holidays.get(site_id, ()):
            assert holiday.day is not None  # a holiday always has its day (a check constraint)
            if not holiday.shift_name or holiday.shift_name == shift_name:
                days_off.add(holiday.day)
            elif not shift_name:
                partly_off.setdefault(holiday.day, set()).add(holiday.shift_name)
        extra: list[tuple[dt.datetime, dt.datetime]] = []
        for day, stopped in sorted(partly_off.items()):
            if day in days_off:
                continue
            days_off.add(day)
            running = ShiftCalendar(zone, _weekly(p for p in patterns if p.name not in stopped))
            extra += running.occurrences(day, day)
        for row in self.overtime.get(site_id, ()):
            assert row.starts_at is not None and row.ends_at is not None
            if row.agent_id is not None:
                mine = row.agent_id == agent_id
            else:
                mine = not row.shift_name or not shift_name or row.shift_name == shift_name
            if mine:
                extra.append((row.starts_at, row.ends_at))
        return ShiftCalendar(zone, _weekly(patterns), frozenset(days_off), tuple(sorted(extra)))

    def holiday_off(self, agent: Agent, at: dt.datetime) -> ShiftException | None:
        """The holiday that keeps ``agent`` off shift at ``at``, if one does.

        That is a holiday of their site (or of their shift) on the local date of
        ``at``, or on the day before when a shift that started then would still run.
        """
        holidays = [
            h
            for h in self.holidays.get(agent.site_id, ())
            if not h.shift_name or (agent.shift_name and h.shift_name == agent.shift_name)
        ]
        if not holidays:
            return None
        calendar = self.for_agent(agent)
        today = calendar.local_time(at).date()
        for holiday in holidays:
            if holiday.day == today:
                return holiday
        weekly = ShiftCalendar(calendar.time_zone, calendar.shifts)
        yesterday = today - dt.timedelta(days=1)
        for holiday in holidays:
            if holiday.day == yesterday and any(
                start <= at < end for start, end in weekly.occurrences(yesterday, yesterday)
            ):
                return holiday
        return None


def site_calendar(
    site: Site, patterns: Iterable[ShiftPattern] | None = None, *, at: dt.datetime | None = None
) -> ShiftCalendar:
    """The site's calendar in its time zone: every shift, the site's holidays and overtime.

    With ``patterns`` only those weekly shifts, and no holidays or overtime.
    """
    if patterns is not None:
        return ShiftCalendar(site.time_zone, _weekly(patterns))
    return CalendarBook(at=at, sites=[site]).for_site(site.pk)


def site_calendars(at: dt.datetime | None = None) -> dict[int, ShiftCalendar]:
    """Every site's calendar by site id (three queries; with ``at``, the exceptions near it)."""
    book = CalendarBook(at=at)
    return {site_id: book.for_site(site_id) for site_id in book.sites}


def agent_calendar(agent: Agent, *, at: dt.datetime | None = None) -> ShiftCalendar:
    """The agent's own calendar (see :class:`CalendarBook`), from two queries."""
    return CalendarBook(at=at, sites=[agent.site]).for_agent(agent)


def presence_of(agent: Agent) -> AgentPresence | None:
    """The agent's presence row, if they ever set one (``None``: offline)."""
    try:
        return agent.presence
    except AgentPresence.DoesNotExist:
        return None


def routing_agent(
    agent: Agent,
    *,
    at: dt.datetime,
    load: int | None = None,
    calendar: ShiftCalendar | None = None,
) -> RoutingAgent:
    """The agent as the core sees them at ``at``: record, load, own calendar, presence.

    Without ``load`` the items the agent holds are counted now; without
    ``calendar`` the agent's own calendar is read (:func:`agent_calendar`).
    """
    profile = replace(agent_profile(agent, load=load, on=utc_day(at)), site=agent.site.code)
    presence = presence_of(agent)
    return RoutingAgent(
        profile=profile,
        calendar=calendar or agent_calendar(agent, at=at),
        presence=presence.presence if presence else Presence.OFFLINE,
        idle_since=presence.idle_since if presence else None,
    )


def routing_agents(
    at: dt.datetime,
    *,
    available_only: bool = False,
    book: CalendarBook | None = None,
    only: Iterable[int] | None = None,
) -> list[tuple[Agent, RoutingAgent]]:
    """Every active agent with their routing view at ``at`` (a handful of queries in all).

    ``available_only`` leaves out agents who have not said they are available.
    Each agent has their own calendar (shift, holidays, overtime), from one
    :class:`CalendarBook` (pass ``book`` to reuse one, e.g. to name holidays after).
    ``only`` narrows the list to these agent ids.
    """
    agents = (
        Agent.objects.filter(user__is_active=True)
        .select_related("user", "site", "presence")
        .prefetch_related("skills__skill", "certifications__certification", "clearances__clearance")
        .annotate(
            held=Count("user__owned_items", filter=Q(user__owned_items__state__in=HOLDING_STATES))
        )
        .order_by("pk")
    )
    if available_only:
        agents = agents.filter(presence__status=Presence.AVAILABLE.value)
    if only is not None:
        agents = agents.filter(pk__in=list(only))
    book = book or CalendarBook(at=at)
    return [
        (
            agent,
            routing_agent(agent, at=at, load=agent.held, calendar=book.for_agent(agent)),
        )
        for agent in agents
    ]


def moment_sentence(agent: Agent, moment: RoutingAgent, refusal: Exclusion, at: dt.datetime) -> str:
    """Why an agent takes no work right now, in the second person.

    Off shift because of a holiday, the sentence names it ("Today is a holiday
    at Pune: Diwali.").
    """
    if refusal.rule == "shift":
        calendar = moment.calendar
        status = calendar.status(at)
        local = calendar.local_time(at)
        holiday = CalendarBook(at=at, sites=[agent.site]).holiday_off(agent, at)
        if holiday is not None:
            assert holiday.day is not None
            day = "Today" if holiday.day == local.date() else f"{holiday.day:%A %d %B}"
            sentence = f"{day} is a holiday at {agent.site.name}: {holiday.name}. You are off shift"
        else:
            sentence = f"You are off shift: it is {local:%a %H:%M} at {agent.site.name}"
        if status.next_start is not None:
            start = calendar.local_time(status.next_start)
            same_day = start.date() == local.date()
            when = f"{start:%H:%M}" if same_day else f"{start:%a %d %b %H:%M}"
            return f"{sentence}; your next shift there starts {when} local time."
        return f"{sentence}, and no shift is set up there for the coming week."
    if refusal.rule == "presence":
        state = "on a break" if moment.presence is Presence.ON_BREAK else "offline"
        return f"You are {state}: set yourself available to get work."
    if refusal.rule == "capacity":
        held, capacity = moment.profile.load, moment.profile.capacity
        return (
            f"You already hold {held} of your {capacity} items: "
            "finish or release one to get another."
        )
    return f"You cannot take work now: {refusal.reason}."


def moment_label(
    agent: Agent,
    moment: RoutingAgent,
    refusal: Exclusion | None,
    at: dt.datetime,
    book: CalendarBook | None = None,
) -> str:
    """The agent's moment in a few words for a lead's list: "off shift (Pune 23:10)",
    "off shift (holiday at Pune: Diwali)", "on a break", "offline", "at capacity 3/3"."""
    if refusal is None:
        return ""
    if refusal.rule == "shift":
        holiday = (book or CalendarBook(at=at, sites=[agent.site])).holiday_off(agent, at)
        if holiday is not None:
            return f"off shift (holiday at {agent.site.name}: {holiday.name})"
        return f"off shift ({agent.site.name} {moment.calendar.local_time(at):%H:%M})"
    if refusal.rule == "presence":
        return "on a break" if moment.presence is Presence.ON_BREAK else "offline"
    if refusal.rule == "capacity":
        return f"at capacity {moment.profile.load}/{moment.profile.capacity}"
    return refusal.reason


@dataclass(frozen=True, slots=True)
class PresenceView:
    """An agent's presence, and whether (and if not, why) they can take work now."""

    agent: Agent
    row: AgentPresence | None
    moment: RoutingAgent
    reason: str

    @property
    def can_take_work(self) -> bool:
        """True when shift, presence and capacity all allow new work."""
        return not self.reason


def my_presence(actor: User, *, at: dt.datetime | None = None) -> PresenceView:
    """The signed-in agent's presence and whether they can take work at ``at``."""
    if not can(actor.role_enum, Permission.SET_PRESENCE):
        raise NotAllowed("Only agents have a presence.")
    agent = Agent.objects.select_related("user", "site", "presence").filter(user=actor).first()
    if agent is None:
        raise NotAllowed("You have no agent profile; ask an operations lead to set one up.")
    at = at or timezone.now()
    moment = routing_agent(agent, at=at)
    refusal = agent_exclusion(moment, at)
    reason = moment_sentence(agent, moment, refusal, at) if refusal else ""
    return PresenceView(agent=agent, row=presence_of(agent), moment=moment, reason=reason)


# --- items ------------------------------------------------------------------------------------


def latest_queued_at(item_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each item last entered the queue (its latest event ending in ``queued``)."""
    rows = (
        WorkItemEvent.objects.filter(item_id__in=list(item_ids), to_state=State.QUEUED.value)
        .values("item_id")
        .annotate(last=Max("at"))
    )
    return {row["item_id"]: row["last"] for row in rows}


@dataclass(frozen=True, slots=True)
class Widening:
    """The recorded escalation of an item in its current stay in the queue."""

    queued_since: dt.datetime | None
    level: int = 0
    proficiency_drop: int = 0
    other_sites: bool = False
    alerted: bool = False

    def as_state(self) -> EscalationState:
        """The core's escalation state for :func:`~relaydesk.core.routing.widened_needs`."""
        return EscalationState(
            level=self.level,
            reached=(),
            proficiency_drop=self.proficiency_drop,
            other_sites=self.other_sites,
            alert_lead=self.alerted,
            next_step_at=None,
        )


def recorded_widening(item_ids: Iterable[int]) -> dict[int, Widening]:
    """The steps each item reached since it last entered the queue (items without none)."""
    ids = list(item_ids)
    if not ids:
        return {}
    since = latest_queued_at(ids)
    steps: dict[int, list[EscalationStep]] = {}
    for step in EscalationStep.objects.filter(item_id__in=ids):
        if step.queued_since == since.get(step.item_id):
            steps.setdefault(step.item_id, []).append(step)
    return {
        item_id: Widening(
            queued_since=since[item_id],
            level=max(s.level for s in reached),
            proficiency_drop=sum(Relaxation.LOWER_PROFICIENCY in s.relaxations for s in reached),
            other_sites=any(Relaxation.OTHER_SITES in s.relaxations for s in reached),
            alerted=any(Relaxation.ALERT_LEAD in s.relaxations for s in reached),
        )
        for item_id, reached in steps.items()
    }


class NeedsBook:
    """What items demand for routing, worked out once per requirement set.

    On top of :func:`relaydesk.work.queries.item_needs`: the sites the
    engagement's ladder offers an item first, and the widening its recorded
    escalation steps allow.
    """

    def __init__(self) -> None:
        self._needs: dict[tuple[int, int, str, str], ItemNeeds] = {}
        self._ladders: dict[int, EscalationLadder] | None = None
        self._widening: dict[int, Widening] = {}

    def ladders(self) -> dict[int, EscalationLadder]:
        """Every engagement's ladder, by engagement id."""
        if self._ladders is None:
            self._ladders = {
                ladder.engagement_id: ladder for ladder in EscalationLadder.objects.all()
            }
        return self._ladders

    def load_widening(self, item_ids: Iterable[int]) -> None:
        """Read the recorded escalation of these items (once, before asking for their needs)."""
        self._widening.update(recorded_widening(item_ids))

    def widening(self, item_id: int) -> Widening | None:
        """The item's recorded widening, if :meth:`load_widening` found any."""
        return self._widening.get(item_id)

    def base(self, item: WorkItem) -> ItemNeeds:
        """The item's needs before escalation, with its ladder's first sites."""
        key = (item.engagement_id, item.service_id, item.language, item.jurisdiction)
        needs = self._needs.get(key)
        if needs is None:
            needs = item_needs(item)
            ladder = self.ladders().get(item.engagement_id)
            if ladder is not None and ladder.first_sites:
                needs = replace(needs, sites=frozenset(ladder.first_sites))
            self._needs[key] = needs
        return needs

    def needs(self, item: WorkItem) -> ItemNeeds:
        """The item's needs now: widened by the escalation steps on its timeline."""
        needs = self.base(item)
        widening = self._widening.get(item.pk)
        return needs if widening is None else widened_needs(needs, widening.as_state())

    def queued_item(self, item: WorkItem) -> QueuedItem:
        """The item as the core routes it (age counts from when it was created)."""
        case = f"{item.engagement_id}:{item.external_ref}" if item.external_ref else ""
        return QueuedItem(
            item_id=item.pk,
            needs=self.needs(item),
            queued_at=item.created_at,
            priority=item.priority,
            due_at=item.due_at,
            case_key=case,
        )


def queued_items() -> QuerySet[WorkItem]:
    """Every queued item in routing order, with what its needs are read from."""
    return (
        WorkItem.objects.filter(state=State.QUEUED.value)
        .select_related("engagement__required_certification", "service")
        .order_by(*ROUTING_ORDER)
    )


# The queue filters "Get next" built, by everything they were built from (claim_filter).
_CLAIM_FILTERS: dict[tuple[object, ...], Q] = {}
_CLAIM_FILTERS_KEPT = 2_048


def _queue_rules() -> tuple[tuple[object, ...], ...]:
    """Every catalogue and engagement value the queue filter is built from, in one query.

    Services (clearance, skill needs), engagements (residency, certification,
    services, dedicated agents): the inputs of
    :func:`~relaydesk.work.queries._eligible_queue_filter` that are not the agent's.
    """
    from django.db import connection

    from relaydesk.catalog.models import ServiceSkill, Skill
    from relaydesk.workforce.models import Certification, Clearance

    t = {
        "service": Service._meta.db_table,
        "need": ServiceSkill._meta.db_table,
        "skill": Skill._meta.db_table,
        "clearance": Clearance._meta.db_table,
        "engagement": Engagement._meta.db_table,
        "certification": Certification._meta.db_table,
        "offers": Engagement.services.through._meta.db_table,
        "dedicated": Engagement.dedicated_agents.through._meta.db_table,
    }
    sql = (
        "SELECT 's', s.id, CAST(c.code AS TEXT), CAST(NULL AS TEXT) FROM {service} s "
        "LEFT JOIN {clearance} c ON c.id = s.required_clearance_id "
        "UNION ALL SELECT 'n', n.service_id, CAST(k.slug AS TEXT), "
        "CAST(n.min_proficiency AS TEXT) FROM {need} n JOIN {skill} k ON k.id = n.skill_id "
        "UNION ALL SELECT 'e', e.id, CAST(e.allowed_countries AS TEXT), CAST(r.code AS TEXT) "
        "FROM {engagement} e LEFT JOIN {certification} r ON r.id = e.required_certification_id "
        "UNION ALL SELECT 'o', o.engagement_id, CAST(o.service_id AS TEXT), CAST(NULL AS TEXT) "
        "FROM {offers} o "
        "UNION ALL SELECT 'd', d.engagement_id, CAST(d.agent_id AS TEXT), CAST(NULL AS TEXT) "
        "FROM {dedicated} d "
        "ORDER BY 1, 2, 3, 4"
    ).format(**t)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(tuple(row) for row in cursor.fetchall())


def claim_filter(actor: User, agent: Agent) -> Q:
    """The agent's visibility of the queue (``_eligible_queue_filter``), built once per input.

    Building it reads and compiles the whole catalogue; "Get next" asks for it on
    every press. It is kept by everything it is built from, read fresh each time:
    the agent's site country, languages, skills, certifications and clearances
    (from ``agent``, with those prefetched), today's date, and the catalogue and
    engagement rows (:func:`_queue_rules`, one query). Any change to any of them
    builds it again, so nothing stale is ever used.
    """
    rules = _queue_rules()
    # The filter names no agent: agents alike in all the above (and in the engagements
    # that have them among their dedicated agents) share one.
    dedicated_to = tuple(row[1] for row in rules if row[0] == "d" and row[2] == str(agent.pk))
    key = (
        dedicated_to,
        agent.site.country,
        tuple(sorted(agent.languages)),
        tuple(sorted((s.skill.slug, s.proficiency) for s in agent.skills.all())),
        tuple(
            sorted(
                (c.certification.code, tuple(sorted(c.jurisdictions)), c.valid_until)
                for c in agent.certifications.all()
            )
        ),
        tuple(
            sorted((c.clearance.code, c.expires_on or dt.date.max) for c in agent.clearances.all())
        ),
        timezone.localdate(),
        rules,
    )
    scope = _CLAIM_FILTERS.get(key)
    if scope is None:
        if len(_CLAIM_FILTERS) >= _CLAIM_FILTERS_KEPT:
            _CLAIM_FILTERS.clear()
        scope = _CLAIM_FILTERS[key] = _eligible_queue_filter(actor)
    return scope


def claim_candidates(
    actor: User, agent: Agent, profile: AgentProfile, at: dt.datetime, book: NeedsBook
) -> QuerySet[WorkItem]:
    """Queued items ``agent`` may take, in routing order, for "Get next" to lock the first of.

    The filter is the agent's visibility of the queue
    (:func:`~relaydesk.work.queries._eligible_queue_filter`: skills, clearance,
    certification, language, residency, dedication), narrowed to the sites the
    ladders offer items first and widened by recorded escalation steps. The
    claim checks the locked item against the core's rules once more.
    """
    scope = claim_filter(actor, agent)
    # The few escalated items first, by their steps: asked as one query over the whole
    # queue, the database may walk every queued item to find them.
    stepped = set(
        EscalationStep.objects.filter(item__state=State.QUEUED.value).values_list(
            "item_id", flat=True
        )
    )
    escalated = list(queued_items().filter(pk__in=stepped)) if stepped else []
    book.load_widening(item.pk for item in escalated)
    opened = [item.pk for item in escalated if (w := book.widening(item.pk)) and w.other_sites]
    elsewhere = [
        engagement_id
        for engagement_id, ladder in book.ladders().items()
        if ladder.first_sites and agent.site.code not in ladder.first_sites
    ]
    if elsewhere:
        scope &= ~Q(engagement_id__in=elsewhere) | Q(pk__in=opened)
    today = utc_day(at)
    fitting = [
        item.pk
        for item in escalated
        if qualification_exclusion(profile, book.needs(item), today) is None
    ]
    if fitting:
        scope |= Q(state=State.QUEUED.value, pk__in=fitting)
    return queued_items().filter(scope)


def nothing_for(
    profile: AgentProfile, book: NeedsBook, at: dt.datetime, *, sample: int = EXPLAIN_SAMPLE
) -> tuple[str, str]:
    """Why "Get next" found nothing, and the rule in a word (``empty``, ``busy``, ``no-match``).

    Looks at the first ``sample`` queued items in routing order and counts, for
    each rule, the items it keeps from the agent; never names an item.
    """
    items = list(queued_items()[:sample])
    if not items:
        return "The queue is empty.", "empty"
    book.load_widening(item.pk for item in items)
    today = utc_day(at)
    rules = Counter(
        refusal.rule if refusal else ""
        for refusal in (qualification_exclusion(profile, book.needs(i), today) for i in items)
    )
    if rules[""]:
        return (
            "Every item you may take is being taken by someone else right now; "
            "try again in a moment.",
            "busy",
        )
    counted = ", ".join(
        f"{count} {RULE_PHRASES.get(rule, 'are excluded by ' + rule)}"
        for rule, count in rules.most_common()
    )
    which = f"the next {len(items)}" if len(items) == sample else f"the {len(items)}"
    return (
        "Nothing in the queue matches your skills, certifications and languages: "
        f"of {which} queued items, {counted}.",
        "no-match",
    )


# --- explanations -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentVerdictRow:
    """One agent's answer for one item, with who they are."""

    agent_id: int
    name: str
    site: str
    rule: str
    reason: str

    @property
    def eligible(self) -> bool:
        """True when no rule excludes the agent."""
        return not self.rule


@dataclass(frozen=True, slots=True)
class ItemRouting:
    """Who may take an item now and why not the others, and how far up its ladder it is."""

    item: WorkItem
    at: dt.datetime
    needs: ItemNeeds
    summary: str
    verdicts: tuple[AgentVerdictRow, ...]
    excluded_by: dict[str, int]
    queued_since: dt.datetime | None
    steps: tuple[EscalationStep, ...]
    next_step_at: dt.datetime | None

    @property
    def eligible(self) -> tuple[AgentVerdictRow, ...]:
        """The agents no rule excludes."""
        return tuple(v for v in self.verdicts if v.eligible)


def _require_routing_view(actor: User) -> None:
    if not can(actor.role_enum, Permission.VIEW_ROUTING):
        raise NotAllowed("Your role cannot see how items are routed.")


def explain_item(actor: User, item: WorkItem, *, at: dt.datetime | None = None) -> ItemRouting:
    """For ``item``: who may take it at ``at``, and for each other agent the first rule against.

    Only for roles that may see routing (operations leads, provider admins), and
    only for items they may see. The item is judged by its needs now, including
    the ladder's first sites and any widening on its timeline; an item that is
    not queued is judged as if it were.
    """
    _require_routing_view(actor)
    at = at or timezone.now()
    if not can_see_item(actor, item):
        raise NotFound(f"No work item {item.pk}.")
    book = NeedsBook()
    book.load_widening([item.pk])
    needs = book.needs(item)
    pool = routing_agents(at)
    explanation = explain(book.queued_item(item), [moment for _, moment in pool], at)
    agents = {agent.pk: agent for agent, _ in pool}
    verdicts = tuple(
        AgentVerdictRow(
            agent_id=v.agent_id,
            name=agents[v.agent_id].user.full_name,
            site=agents[v.agent_id].site.name,
            rule=v.exclusion.rule if v.exclusion else "",
            reason=v.exclusion.reason if v.exclusion else "",
        )
        for v in explanation.verdicts
    )
    queued_since = latest_queued_at([item.pk]).get(item.pk)
    steps: tuple[EscalationStep, ...] = ()
    next_step_at = None
    if item.state == State.QUEUED.value and queued_since is not None:
        steps = tuple(EscalationStep.objects.filter(item=item, queued_since=queued_since))
        ladder = book.ladders().get(item.engagement_id)
        if ladder is not None:
            next_step_at = escalation_state(ladder.core_ladder(), queued_since, at).next_step_at
    return ItemRouting(
        item=item,
        at=at,
        needs=needs,
        summary=explanation.summary(),
        verdicts=verdicts,
        excluded_by=explanation.excluded_by(),
        queued_since=queued_since if item.state == State.QUEUED.value else None,
        steps=steps,
        next_step_at=next_step_at,
    )


@dataclass(frozen=True, slots=True)
class HeldItem:
    """An item an agent holds, with the timeline entry that gave it to them."""

    item: WorkItem
    how: str
    at: dt.datetime | None
    note: str


@dataclass(frozen=True, slots=True)
class AgentRouting:
    """Why an agent has what they have, and what "Get next" would give them now."""

    agent: Agent
    at: dt.datetime
    refusal: str
    held: tuple[HeldItem, ...]
    next_item: WorkItem | None
    passed_over: dict[str, int]
    summary: str


def why_assigned(actor: User, agent: Agent, *, at: dt.datetime | None = None) -> AgentRouting:
    """Why ``agent`` holds what they hold, and what they would get next at ``at``.

    For the agent themself and for roles that may see routing. Held items come
    with the take or assignment entry that gave them (its note says how: "Get
    next", routing's push, or a lead's choice); the next item is the first in
    routing order of the ``EXPLAIN_SAMPLE`` best-ordered queued items they may take.
    """
    if agent.user_id != actor.pk:
        _require_routing_view(actor)
    at = at or timezone.now()
    moment = routing_agent(agent, at=at)
    held_items = list(
        WorkItem.objects.filter(owner=agent.user, state__in=HOLDING_STATES).order_by("pk")
    )
    given: dict[int, WorkItemEvent] = {}
    for event in WorkItemEvent.objects.filter(
        item__in=held_items, kind__in=[Action.TAKE.value, Action.ASSIGN.value]
    ).order_by("at", "id"):
        given[event.item_id] = event
    held = tuple(
        HeldItem(
            item=item,
            how=given[item.pk].kind if item.pk in given else "",
            at=given[item.pk].at if item.pk in given else None,
            note=given[item.pk].note if item.pk in given else "",
        )
        for item in held_items
    )
    book = NeedsBook()
    sample = list(queued_items()[:EXPLAIN_SAMPLE])
    book.load_widening(item.pk for item in sample)
    rows = {item.pk: item for item in sample}
    answer = explain_next(
        moment, [book.queued_item(item) for item in sample], at, limit=len(sample)
    )
    refusal = (
        moment_sentence(agent, moment, answer.agent_exclusion, at) if answer.agent_exclusion else ""
    )
    return AgentRouting(
        agent=agent,
        at=at,
        refusal=refusal,
        held=held,
        next_item=rows[answer.item.item_id] if answer.item else None,
        passed_over=dict(Counter(reason.rule for _, reason in answer.passed_over)),
        summary=answer.summary(),
    )


# --- operations board -------------------------------------------------------------------------

#: Items due within this much time (or already past due) count as at risk on the board.
BOARD_HORIZON = dt.timedelta(hours=2)
#: How many at-risk items and waiting handoffs the board lists (the totals count them all).
BOARD_LIST_LIMIT = 50
#: States in which the provider still owes the client the work, and an SLA can be missed.
AT_RISK_STATES = (State.QUEUED, State.ASSIGNED, State.IN_PROGRESS, State.REWORK)


@dataclass(frozen=True, slots=True)
class BoardAgent:
    """An agent as the board shows them: presence, shift and load."""

    agent: Agent
    presence: Presence
    on_shift: bool
    held: int
    capacity: int

    @property
    def presence_label(self) -> str:
        """The presence as a person reads it ("On a break")."""
        return str(PresenceStatus(self.presence.value).label)

    @property
    def load_text(self) -> str:
        """The load as a person reads it ("2 of 3 items")."""
        return f"{self.held} of {self.capacity} items"

    @property
    def load_share(self) -> float:
        """Held items as a share of capacity (may pass 1 when a lead over-assigns)."""
        return self.held / self.capacity if self.capacity else 0.0

    @property
    def full(self) -> bool:
        """True when the agent holds as many items as they may."""
        return self.held >= self.capacity


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """How many queued items, the oldest one's submission time, and how many are due soon."""

    depth: int = 0
    oldest: dt.datetime | None = None
    overdue: int = 0
    due_soon: int = 0

    def plus(self, other: QueueFigures) -> QueueFigures:
        """The figures of both groups together."""
        oldest = min((t for t in (self.oldest, other.oldest) if t is not None), default=None)
        return QueueFigures(
            depth=self.depth + other.depth,
            oldest=oldest,
            overdue=self.overdue + other.overdue,
            due_soon=self.due_soon + other.due_soon,
        )


@dataclass(frozen=True, slots=True)
class SiteBoard:
    """One site on the board: its clock and shift, who is on shift, and the queue open to it."""

    site: Site
    local_time: dt.datetime
    on_shift: bool
    changes_at: dt.datetime | None
    agents: tuple[BoardAgent, ...]
    queue: QueueFigures

    @property
    def available(self) -> int:
        """On-shift agents who said they are available."""
        return sum(a.presence is Presence.AVAILABLE for a in self.agents)

    @property
    def on_break(self) -> int:
        """On-shift agents on a break."""
        return sum(a.presence is Presence.ON_BREAK for a in self.agents)

    @property
    def held(self) -> int:
        """Items held by the agents on shift."""
        return sum(a.held for a in self.agents)

    @property
    def capacity(self) -> int:
        """How many items the agents on shift may hold together."""
        return sum(a.capacity for a in self.agents)


@dataclass(frozen=True, slots=True)
class ServiceQueue:
    """The queue of one service: its figures, and the sites that may deliver its items."""

    service: Service
    queue: QueueFigures
    site_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Board:
    """What an operations lead checks at a glance, as of ``at``."""

    at: dt.datetime
    horizon: dt.timedelta
    sites: tuple[SiteBoard, ...]
    services: tuple[ServiceQueue, ...]
    queue: QueueFigures
    at_risk: tuple[WorkItem, ...]
    at_risk_count: int
    overdue_count: int
    handoffs: tuple[Handoff, ...]
    handoff_count: int
    off_shift_holding: tuple[BoardAgent, ...]

    @property
    def deepest(self) -> int:
        """The deepest service queue (the scale of the queue chart)."""
        return max((s.queue.depth for s in self.services), default=0)


def _queue_groups(
    items: QuerySet[WorkItem], at: dt.datetime, horizon: dt.timedelta
) -> list[tuple[int, int, QueueFigures]]:
    """Queued items counted in the database by engagement and service (one query)."""
    rows = (
        items.filter(state=State.QUEUED.value)
        .order_by()
        .values("engagement_id", "service_id")
        .annotate(
            depth=Count("id"),
            oldest=Min("created_at"),
            overdue=Count("id", filter=Q(due_at__lt=at)),
            due_soon=Count("id", filter=Q(due_at__gte=at, due_at__lte=at + horizon)),
        )
        .values_list("engagement_id", "service_id", "depth", "oldest", "overdue", "due_soon")
    )
    return [
        (engagement_id, service_id, QueueFigures(depth, oldest, overdue, due_soon))
        for engagement_id, service_id, depth, oldest, overdue, due_soon in rows
    ]


def operations_board(
    actor: User, *, at: dt.datetime | None = None, horizon: dt.timedelta = BOARD_HORIZON
) -> Board:
    """The live operations board as of ``at``, for roles that may see it.

    Everything about items is counted in the database (``GROUP BY`` with
    ``Count`` and ``Min``), so the number of queries and the rows read into
    Python do not grow with the queue. An item's sites are those in a country
    its engagement allows delivery from.
    """
    if not can(actor.role_enum, Permission.VIEW_OPERATIONS_BOARD):
        raise NotAllowed("Your role cannot see the operations board.")
    at = at or timezone.now()
    items = visible_work_items(actor)

    groups = _queue_groups(items, at, horizon)
    engagements = Engagement.objects.in_bulk({group[0] for group in groups})
    services = Service.objects.select_related("line").in_bulk({group[1] for group in groups})
    sites = list(visible_sites(actor).order_by("name"))
    by_service: dict[int, QueueFigures] = {}
    service_sites: dict[int, set[str]] = {}
    by_site: dict[int, QueueFigures] = {}
    total = QueueFigures()
    for engagement_id, service_id, figures in groups:
        total = total.plus(figures)
        by_service[service_id] = by_service.get(service_id, QueueFigures()).plus(figures)
        engagement = engagements[engagement_id]
        for site in sites:
            if engagement.allows_country(site.country):
                by_site[site.pk] = by_site.get(site.pk, QueueFigures()).plus(figures)
                service_sites.setdefault(service_id, set()).add(site.name)

    calendars = site_calendars(at)
    people: dict[int, list[BoardAgent]] = {}
    off_shift_holding = []
    for agent, moment in routing_agents(at):
        row = BoardAgent(
            agent=agent,
            presence=moment.presence,
            on_shift=moment.calendar.is_on_shift(at),
            held=moment.profile.load,
            capacity=moment.profile.capacity,
        )
        if row.on_shift:
            people.setdefault(agent.site_id, []).append(row)
        elif row.held:
            off_shift_holding.append(row)
    site_rows = []
    for site in sites:
        calendar = calendars[site.pk]
        status = calendar.status(at)
        on_site = sorted(
            people.get(site.pk, []),
            key=lambda a: (
                a.presence is not Presence.AVAILABLE,
                -a.load_share,
                a.agent.user.full_name,
            ),
        )
        site_rows.append(
            SiteBoard(
                site=site,
                local_time=calendar.local_time(at),
                on_shift=status.on_shift,
                changes_at=status.until,
                agents=tuple(on_site),
                queue=by_site.get(site.pk, QueueFigures()),
            )
        )

    risky = items.filter(
        state__in=[s.value for s in AT_RISK_STATES],
        due_at__isnull=False,
        due_at__lte=at + horizon,
    )
    risk = risky.order_by().aggregate(
        count=Count("id"), overdue=Count("id", filter=Q(due_at__lt=at))
    )
    # The first rows by due time without joins (the index on state and due time serves
    # it), then those rows with what the list shows: joins would steer the planner wrong.
    first = list(risky.select_related(None).order_by("due_at", "id")[:BOARD_LIST_LIMIT])
    shown = WorkItem.objects.select_related("client", "service", "owner").in_bulk(
        [item.pk for item in first]
    )
    at_risk = [shown[item.pk] for item in first if item.pk in shown]
    # Only live offers: the item is still with the agent it was offered to.
    waiting = Handoff.objects.filter(
        state=HandoffState.OFFERED,
        item__in=items.order_by().values("pk"),
        to_agent__user_id=F("item__owner_id"),
    )
    handoffs = waiting.select_related(
        "item", "from_agent__user", "from_agent__site", "to_agent__user", "to_agent__site"
    ).order_by("respond_by", "id")[:BOARD_LIST_LIMIT]
    service_rows = sorted(
        (
            ServiceQueue(
                service=services[service_id],
                queue=figures,
                site_names=tuple(sorted(service_sites.get(service_id, ()))),
            )
            for service_id, figures in by_service.items()
        ),
        key=lambda row: (-row.queue.depth, str(row.service)),
    )
    handoff_list = tuple(handoffs)
    return Board(
        at=at,
        horizon=horizon,
        sites=tuple(site_rows),
        services=tuple(service_rows),
        queue=total,
        at_risk=tuple(at_risk),
        at_risk_count=risk["count"],
        overdue_count=risk["overdue"],
        handoffs=handoff_list,
        handoff_count=(
            len(handoff_list) if len(handoff_list) < BOARD_LIST_LIMIT else waiting.count()
        ),
        off_shift_holding=tuple(
            sorted(off_shift_holding, key=lambda a: (a.agent.site.name, a.agent.user.full_name))
        ),
    )


# --- handoff ----------------------------------------------------------------------------------

#: The workspace warns an agent this long before their shift ends.
HANDOFF_WARNING = dt.timedelta(minutes=60)
#: States an item is handed off in: held by an agent, and not waiting on the client.
HANDOFF_STATES = (State.ASSIGNED, State.IN_PROGRESS, State.REWORK)


def offered_to_holder() -> Exists:
    """For a work-item query: the item has an open offer to the agent who holds it now
    (it waits for their acknowledgement, or for the stale sweep). An offer to anyone
    else is dead (a lead reassigned the item since) and blocks nothing."""
    return Exists(
        Handoff.objects.filter(
            item=OuterRef("pk"), state=HandoffState.OFFERED, to_agent__user_id=OuterRef("owner_id")
        )
    )


def visible_handoffs(actor: User) -> QuerySet[Handoff]:
    """Handoffs ``actor`` may see: every one for those who see all work, an agent's own
    (handed off by them or offered to them), none for anyone else (clients never see
    who passed their work to whom, nor the internal notes)."""
    handoffs = Handoff.objects.select_related(
        "item", "from_agent__user", "from_agent__site", "to_agent__user", "to_agent__site"
    )
    role = actor.role_enum
    if can(role, Permission.VIEW_ALL_WORK):
        return handoffs
    if can(role, Permission.HAND_OFF) or can(role, Permission.ACKNOWLEDGE_HANDOFF):
        return handoffs.filter(Q(from_agent__user=actor) | Q(to_agent__user=actor))
    return handoffs.none()


def get_visible_handoff(actor: User, handoff_id: int) -> Handoff | None:
    """The handoff if ``actor`` may see it, else ``None`` (so callers answer 404)."""
    return visible_handoffs(actor).filter(pk=handoff_id).first()


def handoffs_for_item(actor: User, item: WorkItem) -> QuerySet[Handoff]:
    """The item's relay, oldest first, as ``actor`` may see it."""
    return visible_handoffs(actor).filter(item=item).order_by("created_at", "id")


def handoff_items(user: User) -> QuerySet[WorkItem]:
    """The items ``user`` holds that they could hand off now: held, not waiting on the
    client, and not already handed to someone else."""
    return (
        visible_work_items(user)
        .filter(owner=user, state__in=[s.value for s in HANDOFF_STATES])
        .exclude(offered_to_holder())
        .order_by(*ROUTING_ORDER)
    )


@dataclass(frozen=True, slots=True)
class HandoffDesk:
    """What the workspace shows an agent about handoffs at ``at``.

    ``shift_ends`` is when their current shift ends (``None`` off shift or far
    off); ``shift_ended`` is when their last shift ended, when they are off shift
    now. ``due`` is True when either is near enough to ask for handoffs.
    ``to_me``: handoffs waiting for their acknowledgement; ``from_me``: the
    latest they gave.
    """

    at: dt.datetime
    local_now: dt.datetime
    shift_ends: dt.datetime | None
    shift_ended: dt.datetime | None
    items: tuple[WorkItem, ...]
    waiting_on_client: int
    to_me: tuple[Handoff, ...]
    from_me: tuple[Handoff, ...]

    @property
    def minutes_left(self) -> int | None:
        """Whole minutes until the shift ends (``None`` when it is not ending soon)."""
        if self.shift_ends is None:
            return None
        return max(0, int((self.shift_ends - self.at).total_seconds() // 60))

    @property
    def due(self) -> bool:
        """True when the agent should hand off what they hold now."""
        near = self.shift_ends is not None and self.shift_ends - self.at <= HANDOFF_WARNING
        return bool(self.items) and (near or self.shift_ended is not None)


def _last_shift_end(calendar: ShiftCalendar, at: dt.datetime) -> dt.datetime | None:
    """When the agent's latest shift ended, within the past day (``None`` when none did)."""
    ended = None
    moment = at - dt.timedelta(days=1)
    while (found := shift_ended_between(calendar, moment, at)) is not None:
        ended, moment = found, found
    return ended


def handoff_desk(actor: User, *, at: dt.datetime | None = None) -> HandoffDesk:
    """The signed-in agent's handoffs: their shift's end, what to hand off, what waits for them."""
    role = actor.role_enum
    if not (can(role, Permission.HAND_OFF) or can(role, Permission.ACKNOWLEDGE_HANDOFF)):
        raise NotAllowed("Only agents hand off work.")
    agent = Agent.objects.select_related("user", "site").filter(user=actor).first()
    if agent is None:
        raise NotAllowed("You have no agent profile; ask an operations lead to set one up.")
    at = at or timezone.now()
    calendar = agent_calendar(agent, at=at)
    status = calendar.status(at)
    ends = status.until if status.on_shift else None
    # A shift that runs on for more than a day (a site that never closes) is not ending.
    if ends is not None and ends - at > dt.timedelta(hours=24):
        ends = None
    mine = visible_handoffs(actor)
    held = visible_work_items(actor).filter(owner=actor)
    return HandoffDesk(
        at=at,
        local_now=calendar.local_time(at),
        shift_ends=calendar.local_time(ends) if ends else None,
        shift_ended=None if status.on_shift else _last_shift_end(calendar, at),
        items=tuple(handoff_items(actor)),
        waiting_on_client=held.filter(state=State.WAITING_ON_CLIENT.value).count(),
        to_me=tuple(
            # Not an offer a lead overrode since (the item is someone else's now).
            mine.filter(to_agent=agent, item__owner=actor, state=HandoffState.OFFERED).order_by(
                "respond_by", "id"
            )
        ),
        from_me=tuple(mine.filter(from_agent=agent).order_by("-created_at", "-id")[:10]),
    )
