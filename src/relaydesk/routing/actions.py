"""Every routing write: "Get next", presence, push assignment, escalation, ladders.

Claims and assignments change the item through the work lifecycle's own
transition (``relaydesk.work.actions``), so the state machine, the timeline
entry and the audit record stay in one place. Every assignment locks the
agent's row before counting what they hold, so no path can take an agent past
their capacity; items are locked with ``SKIP LOCKED`` on PostgreSQL, so
claimers never wait for each other and never get the same item. On SQLite
every transaction takes the write lock at its start (``BEGIN IMMEDIATE``), which
serialises claims instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Engagement
from relaydesk.core.eligibility import Presence
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can
from relaydesk.core.routing import (
    Relaxation,
    Router,
    RoutingAgent,
    Strategy,
    agent_exclusion,
    assign_wave,
    escalation_state,
    qualification_exclusion,
)
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.routing.models import AgentPresence, EscalationLadder, EscalationStep
from relaydesk.routing.queries import (
    NeedsBook,
    claim_candidates,
    latest_queued_at,
    moment_sentence,
    nothing_for,
    presence_of,
    queued_items,
    routing_agent,
    routing_agents,
    site_calendar,
    utc_day,
)
from relaydesk.work.actions import _apply, _decide, _event
from relaydesk.work.models import WorkItem, WorkItemEvent
from relaydesk.workforce.models import Agent, Site
from relaydesk.workforce.queries import HOLDING_STATES, agent_profile

# How many locked candidates one claim may pass over before it gives up (they
# fail a rule the candidate query cannot express; normally none do).
MAX_PASSED_OVER = 25
# How many queued items one push run considers, best-ordered first.
PUSH_LIMIT = 2_000
PUSH_METHODS = ("router", "wave")
STRATEGY_NOTES = {
    Strategy.LONGEST_IDLE: "the longest-idle eligible agent",
    Strategy.LEAST_LOADED: "the least-loaded eligible agent",
    Strategy.HIGHEST_PROFICIENCY: "the most proficient eligible agent",
    Strategy.CONTINUITY: "the agent who last handled the case, else the longest idle",
}


def _locked(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Lock the rows read, skipping rows another transaction holds (PostgreSQL)."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset  # SQLite: the transaction already holds the database's write lock


def _agent_of(actor: User) -> Agent:
    agent = Agent.objects.select_related("user", "site").filter(user=actor).first()
    if agent is None:
        raise NotAllowed("You have no agent profile; ask an operations lead to set one up.")
    return agent


def _lock_agent(agent_id: int) -> Agent:
    """Lock the agent's row: every assignment to them queues here, so capacity holds."""
    return (
        Agent.objects.select_for_update(of=("self",))
        .select_related("user", "site", "presence")
        .get(pk=agent_id)
    )


def _mark_busy(agent: Agent, at: dt.datetime) -> None:
    """The agent just received an item: their idle time starts again."""
    AgentPresence.objects.filter(agent=agent).update(idle_since=at)


# --- pull: "Get next" ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """What "Get next" gave: the item, or ``None`` with the reason and its rule in a word.

    ``rule`` is empty for a claim, else one of the core's rules (``shift``,
    ``presence``, ``capacity``) or ``empty``, ``no-match``, ``busy``.
    """

    item: WorkItem | None
    reason: str
    rule: str = ""


def do_claim_next(
    actor: User, *, source_ip: str | None = None, at: dt.datetime | None = None
) -> Claim:
    """Give the agent the best queued item they may take, in one transaction.

    What the agent may work (skills, certifications, languages, site) is read
    first. Then, in one transaction, the agent's row is locked and their shift
    (site calendar, local time), presence and capacity are checked; the first
    eligible item in routing order (priority, due time, age) is locked with
    ``SKIP LOCKED``, checked against the core's rules, and taken through the
    lifecycle's TAKE transition (timeline entry, audit record,
    ``work_item_changed`` on commit). Nothing is written when nothing is taken;
    a claimer that dies before committing leaves the item queued. Raises
    :class:`NotAllowed` for anyone who does not work items.
    """
    if not can(actor.role_enum, Permission.DO_WORK):
        raise NotAllowed("Only agents take work with Get next.")
    at = at or timezone.now()
    agent = _agent_of(actor)
    # What the agent may work is read before the transaction, so the write lock
    # (SQLite) and the agent's row lock are held only for the claim itself.
    calendar = site_calendar(agent.site)
    profile = replace(agent_profile(agent, load=0, on=utc_day(at)), site=agent.site.code)
    book = NeedsBook()
    candidates = claim_candidates(actor, agent, profile, at, book)
    with transaction.atomic():
        held = _lock_agent(agent.pk)
        presence = presence_of(held)
        moment = RoutingAgent(
            profile=replace(profile, load=_load(held), capacity=held.capacity),
            calendar=calendar,
            presence=presence.presence if presence else Presence.OFFLINE,
            idle_since=presence.idle_since if presence else None,
        )
        refusal = agent_exclusion(moment, at)
        if refusal is not None:
            return Claim(None, moment_sentence(held, moment, refusal, at), refusal.rule)
        today = utc_day(at)
        passed: list[int] = []
        while len(passed) <= MAX_PASSED_OVER:
            item = _locked(candidates.exclude(pk__in=passed) if passed else candidates).first()
            if item is None:
                break
            if qualification_exclusion(moment.profile, book.needs(item), today) is not None:
                passed.append(item.pk)
                continue
            after = _decide(actor, item, Action.TAKE)
            _apply(
                item,
                actor,
                Action.TAKE,
                at=at,
                note="Get next: the first item in routing order this agent may take.",
                new_owner=actor,
                source_ip=source_ip,
                decided=after,
            )
            _mark_busy(held, at)
            return Claim(
                item,
                f"{item.reference} is the first item in routing order (priority, due time, "
                "age) that you may take.",
            )
        reason, rule = nothing_for(moment.profile, book, at)
        return Claim(None, reason, rule)


def _load(agent: Agent) -> int:
    """How many items the agent holds now (read under the agent's row lock)."""
    return WorkItem.objects.filter(owner_id=agent.user_id, state__in=HOLDING_STATES).count()


# --- presence ---------------------------------------------------------------------------------


def do_set_presence(
    actor: User, status: str, *, source_ip: str | None = None, at: dt.datetime | None = None
) -> AgentPresence:
    """Set the agent's own presence: available, on a break, or offline.

    Becoming available starts the agent's idle time (the longest idle get work
    first). Setting the status the agent already has changes nothing and writes
    no audit record.
    """
    if not can(actor.role_enum, Permission.SET_PRESENCE):
        raise NotAllowed("Only agents have a presence to set.")
    try:
        wanted = Presence(status)
    except ValueError:
        choices = ", ".join(p.value for p in Presence)
        raise Invalid(f"Presence is one of: {choices}.") from None
    at = at or timezone.now()
    agent = _agent_of(actor)
    with transaction.atomic():
        row = AgentPresence.objects.select_for_update().filter(agent=agent).first()
        before = row.presence if row else Presence.OFFLINE
        if row is not None and before is wanted:
            return row
        row = row or AgentPresence(agent=agent)
        row.status = wanted.value
        row.since = at
        if wanted is Presence.AVAILABLE:
            row.idle_since = at
        row.save()
        record(
            actor=actor,
            action="agent.presence",
            obj=agent,
            source_ip=source_ip,
            at=at,
            detail={"from": before.value, "to": wanted.value},
        )
    return row


def on_work_item_changed(
    sender: object, item_id: int, action: str, to_state: str, **kwargs: object
) -> None:
    """An agent who completes, releases or sees cancelled an item they held is idle from then."""
    if action not in (Action.COMPLETE.value, Action.RELEASE.value, Action.CANCEL.value):
        return
    event = (
        WorkItemEvent.objects.filter(item_id=item_id, kind=action)
        .select_related("item")
        .order_by("-at", "-id")
        .first()
    )
    if event is None:
        return
    # A release clears the owner: the agent is whoever released it (if an agent did).
    user_id = event.actor_id if action == Action.RELEASE.value else event.item.owner_id
    if user_id is not None:
        AgentPresence.objects.filter(agent__user_id=user_id).update(idle_since=event.at)


# --- push -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushRun:
    """What one push run did: agents ready, items considered, assignments made.

    ``missed`` counts planned assignments that no longer held when made (the
    item was taken or the agent changed meanwhile); the next run plans again.
    """

    at: dt.datetime
    method: str
    ready_agents: int
    considered: int
    assigned: tuple[tuple[int, int], ...]
    missed: int


def do_push_assign(
    *,
    at: dt.datetime | None = None,
    method: str = "router",
    strategy: Strategy = Strategy.LONGEST_IDLE,
    limit: int = PUSH_LIMIT,
) -> PushRun:
    """Assign queued items to available, on-shift agents with room, as the system.

    ``router`` gives each item, in routing order, to the agent ``strategy``
    picks (the core :class:`~relaydesk.core.routing.Router`); ``wave`` assigns
    the whole batch at minimum total lateness
    (:func:`~relaydesk.core.routing.assign_wave`). At most ``limit`` queued items
    are considered, best-ordered first. Each assignment is its own transaction:
    the agent's row and the item are locked, every rule is checked again with
    what holds now, and the lifecycle's ASSIGN transition records it with the
    system as the actor. Runs in the caller's row-security scope (the worker's
    is the provider's).
    """
    if method not in PUSH_METHODS:
        raise Invalid(f"The push method is one of: {', '.join(PUSH_METHODS)}.")
    at = at or timezone.now()
    ready = [
        (agent, moment)
        for agent, moment in routing_agents(at, available_only=True)
        if agent_exclusion(moment, at) is None
    ]
    if not ready:
        return PushRun(at, method, 0, 0, (), 0)
    book = NeedsBook()
    rows = list(queued_items()[:limit])
    book.load_widening(row.pk for row in rows)
    items = [book.queued_item(row) for row in rows]
    moments = [moment for _, moment in ready]
    if method == "wave":
        pairs = list(assign_wave(items, moments, at).assignments)
        note = "Assigned by routing: a wave planned for the least total lateness."
    else:
        router = Router(moments, strategy=strategy)
        pairs = [
            (item.item_id, agent_id)
            for item in items
            if (agent_id := router.push(item, at)) is not None
        ]
        note = f"Assigned by routing to {STRATEGY_NOTES[strategy]}."
    agents = {agent.pk: agent for agent, _ in ready}
    made: list[tuple[int, int]] = []
    for item_id, agent_id in pairs:
        if _assign_planned(item_id, agents[agent_id], book, at=at, note=note):
            made.append((item_id, agent_id))
    return PushRun(at, method, len(ready), len(items), tuple(made), len(pairs) - len(made))


def _assign_planned(
    item_id: int, agent: Agent, book: NeedsBook, *, at: dt.datetime, note: str
) -> bool:
    """Make one planned assignment if every rule still holds; False when it no longer does."""
    with transaction.atomic():
        held = _lock_agent(agent.pk)
        moment = routing_agent(held, at=at)
        if agent_exclusion(moment, at) is not None:
            return False
        item = _locked(queued_items().filter(pk=item_id)).first()
        if item is None:
            return False
        if qualification_exclusion(moment.profile, book.needs(item), utc_day(at)) is not None:
            return False
        after = _decide(None, item, Action.ASSIGN)
        _apply(item, None, Action.ASSIGN, at=at, note=note, new_owner=held.user, decided=after)
        _mark_busy(held, at)
    return True


# --- escalation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalationRun:
    """What one escalation sweep recorded: items escalated, steps, lead alerts."""

    at: dt.datetime
    items: int
    steps: int
    alerts: int


def do_escalate(*, at: dt.datetime | None = None) -> EscalationRun:
    """Record the ladder steps queued items have reached, once each, as the system.

    Each new step goes on the item's timeline (an internal ``escalated`` entry
    saying what it did) and the audit trail; a step that alerts the operations
    lead also writes a ``routing.lead_alert`` record. Widening takes effect from
    the recorded step on ("Get next" and push read it). An item being claimed
    at that moment is skipped and caught by the next sweep.
    """
    at = at or timezone.now()
    items = steps = alerts = 0
    last_queued = (
        WorkItemEvent.objects.filter(item=OuterRef("pk"), to_state=State.QUEUED.value)
        .order_by("-at", "-id")
        .values("at")[:1]
    )
    for ladder in EscalationLadder.objects.all():
        plan = ladder.core_ladder()
        if not plan.steps:
            continue
        reached_by = at - plan.steps[0].after
        waiting = (
            WorkItem.objects.filter(
                engagement_id=ladder.engagement_id,
                state=State.QUEUED.value,
                created_at__lte=reached_by,
            )
            .annotate(queued_since=Subquery(last_queued))
            .filter(queued_since__lte=reached_by)
            .values_list("pk", "queued_since")
        )
        recorded = {
            (row["item_id"], row["queued_since"]): row["steps"]
            for row in EscalationStep.objects.filter(
                item__engagement_id=ladder.engagement_id, item__state=State.QUEUED.value
            )
            .values("item_id", "queued_since")
            .annotate(steps=Count("id"))
        }
        for item_id, since in waiting:
            level = escalation_state(plan, since, at).level
            if level <= recorded.get((item_id, since), 0):
                continue
            made, alerted = _record_steps(item_id, ladder, at)
            items += made > 0
            steps += made
            alerts += alerted
    return EscalationRun(at, items, steps, alerts)


def _record_steps(item_id: int, ladder: EscalationLadder, at: dt.datetime) -> tuple[int, int]:
    """Record the item's unrecorded steps under its row lock; (steps, alerts) written."""
    made = alerted = 0
    with transaction.atomic():
        item = _locked(WorkItem.objects.filter(pk=item_id, state=State.QUEUED.value)).first()
        if item is None:
            return 0, 0
        since = latest_queued_at([item_id]).get(item_id)
        if since is None:
            return 0, 0
        state = escalation_state(ladder.core_ladder(), since, at)
        known = set(
            EscalationStep.objects.filter(item=item, queued_since=since).values_list(
                "level", flat=True
            )
        )
        for level, step in enumerate(state.reached, start=1):
            if level in known:
                continue
            relaxations = [r.value for r in Relaxation if r in step.relaxations]
            waited = int((at - since).total_seconds() // 60)
            try:
                with transaction.atomic():
                    EscalationStep.objects.create(
                        client_id=item.client_id,
                        item=item,
                        queued_since=since,
                        level=level,
                        at=at,
                        relaxations=relaxations,
                    )
            except IntegrityError:  # another sweep recorded it a moment ago
                continue
            _event(
                item,
                None,
                "escalated",
                at=at,
                note=step.describe().capitalize() + ".",
                internal=True,
                data={"level": level, "relaxations": relaxations, "waited_minutes": waited},
            )
            detail = {"level": level, "relaxations": relaxations, "waited_minutes": waited}
            record(
                actor=None,
                action="work_item.escalate",
                obj=item,
                client=item.client_id,
                at=at,
                detail=detail,
            )
            made += 1
            if Relaxation.ALERT_LEAD in step.relaxations:
                record(
                    actor=None,
                    action="routing.lead_alert",
                    obj=item,
                    client=item.client_id,
                    at=at,
                    detail={
                        "item": item.reference,
                        "engagement": item.engagement_id,
                        "waited_minutes": waited,
                    },
                )
                alerted += 1
    return made, alerted


# --- ladders ----------------------------------------------------------------------------------

_MAX_MINUTES = 60 * 24 * 30


def _check_minutes(value: int | None, what: str) -> None:
    if value is not None and not 1 <= value <= _MAX_MINUTES:
        raise Invalid(f"{what} must be between 1 and {_MAX_MINUTES:,} minutes (30 days).")


def do_set_escalation_ladder(
    actor: User,
    engagement: Engagement,
    *,
    widen_after_minutes: int | None,
    alert_after_minutes: int | None,
    lower_proficiency: bool = True,
    other_sites: bool = True,
    first_sites: list[str] | tuple[str, ...] = (),
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> EscalationLadder:
    """Set an engagement's escalation ladder (T1 widening, T2 lead alert, first sites)."""
    if not can(actor.role_enum, Permission.CONFIGURE_ROUTING):
        raise NotAllowed("Your role cannot set escalation ladders.")
    _check_minutes(widen_after_minutes, "The widening time (T1)")
    _check_minutes(alert_after_minutes, "The alert time (T2)")
    if (
        widen_after_minutes is not None
        and alert_after_minutes is not None
        and alert_after_minutes < widen_after_minutes
    ):
        raise Invalid("The lead cannot be alerted (T2) before the item is widened (T1).")
    sites = sorted(set(first_sites))
    unknown = set(sites) - set(Site.objects.filter(code__in=sites).values_list("code", flat=True))
    if unknown:
        raise Invalid(f"No site with the code {', '.join(sorted(unknown))}.")
    at = at or timezone.now()
    with transaction.atomic():
        ladder, created = EscalationLadder.objects.update_or_create(
            engagement=engagement,
            defaults={
                "client_id": engagement.client_id,
                "widen_after_minutes": widen_after_minutes,
                "alert_after_minutes": alert_after_minutes,
                "lower_proficiency": lower_proficiency,
                "other_sites": other_sites,
                "first_sites": sites,
                "updated_at": at,
            },
        )
        record(
            actor=actor,
            action="routing.ladder_set",
            obj=ladder,
            client=engagement.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": engagement.pk,
                "widen_after_minutes": widen_after_minutes,
                "alert_after_minutes": alert_after_minutes,
                "lower_proficiency": lower_proficiency,
                "other_sites": other_sites,
                "first_sites": sites,
                "created": created,
            },
        )
    return ladder
