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

from django.db.models import Count, F, Max, OrderBy, Q, QuerySet
from django.utils import timezone

from relaydesk.accounts.models import User
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
    widened_needs,
)
from relaydesk.core.shifts import ShiftCalendar, WeeklyShift
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.routing.models import AgentPresence, EscalationLadder, EscalationStep
from relaydesk.work.models import WorkItem, WorkItemEvent
from relaydesk.work.queries import _eligible_queue_filter, can_see_item, item_needs
from relaydesk.workforce.models import Agent, ShiftPattern, Site
from relaydesk.workforce.queries import HOLDING_STATES, agent_profile

#: The order items are routed in, as the core's ``order_key`` has it: priority
#: (higher first), due time (earlier first, none last), age (older first), id.
#: The index ``item_routing_order`` on work items matches it.
ROUTING_ORDER: tuple[OrderBy | str, ...] = (
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


def site_calendar(site: Site, patterns: Iterable[ShiftPattern] | None = None) -> ShiftCalendar:
    """The site's weekly shifts as the core's calendar, in the site's time zone."""
    rows = site.shifts.all() if patterns is None else patterns
    return ShiftCalendar(
        site.time_zone,
        tuple(WeeklyShift(p.weekday, p.starts_at, p.ends_at) for p in rows),
    )


def site_calendars() -> dict[int, ShiftCalendar]:
    """Every site's calendar by site id (two queries)."""
    patterns: dict[int, list[ShiftPattern]] = {}
    for pattern in ShiftPattern.objects.order_by("site_id", "weekday", "starts_at"):
        patterns.setdefault(pattern.site_id, []).append(pattern)
    return {site.pk: site_calendar(site, patterns.get(site.pk, ())) for site in Site.objects.all()}


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
    """The agent as the core sees them at ``at``: record, load, site calendar, presence.

    Without ``load`` the items the agent holds are counted now.
    """
    profile = replace(agent_profile(agent, load=load, on=utc_day(at)), site=agent.site.code)
    presence = presence_of(agent)
    return RoutingAgent(
        profile=profile,
        calendar=calendar or site_calendar(agent.site),
        presence=presence.presence if presence else Presence.OFFLINE,
        idle_since=presence.idle_since if presence else None,
    )


def routing_agents(
    at: dt.datetime, *, available_only: bool = False
) -> list[tuple[Agent, RoutingAgent]]:
    """Every active agent with their routing view at ``at`` (a handful of queries in all).

    ``available_only`` leaves out agents who have not said they are available.
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
    calendars = site_calendars()
    return [
        (
            agent,
            routing_agent(
                agent,
                at=at,
                load=agent.held,
                calendar=calendars[agent.site_id],
            ),
        )
        for agent in agents
    ]


def moment_sentence(agent: Agent, moment: RoutingAgent, refusal: Exclusion, at: dt.datetime) -> str:
    """Why an agent takes no work right now, in the second person."""
    if refusal.rule == "shift":
        calendar = moment.calendar
        status = calendar.status(at)
        local = calendar.local_time(at)
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
    scope = _eligible_queue_filter(actor)
    escalated = list(
        queued_items().filter(
            pk__in=EscalationStep.objects.filter(item__state=State.QUEUED.value).values("item_id")
        )
    )
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
