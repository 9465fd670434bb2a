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
import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
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
    choose_agent,
    escalation_state,
    qualification_exclusion,
    rank_next_shift,
    shift_ended_between,
)
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.routing.models import (
    AgentPresence,
    EscalationLadder,
    EscalationStep,
    Handoff,
    HandoffState,
)
from relaydesk.routing.queries import (
    HANDOFF_STATES,
    CalendarBook,
    NeedsBook,
    agent_calendar,
    claim_candidates,
    latest_queued_at,
    moment_sentence,
    nothing_for,
    offered_to_holder,
    presence_of,
    queued_items,
    routing_agent,
    routing_agents,
    utc_day,
    visible_handoffs,
)
from relaydesk.routing.signals import handoff_offered
from relaydesk.tenancy import rowsecurity
from relaydesk.work.actions import _apply, _decide, _event, _lock
from relaydesk.work.models import WorkItem, WorkItemEvent
from relaydesk.work.queries import item_needs
from relaydesk.workforce.models import (
    Agent,
    AgentCertification,
    AgentClearance,
    AgentSkill,
    Site,
)
from relaydesk.workforce.queries import HOLDING_STATES, agent_profile

logger = logging.getLogger(__name__)

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


def _claiming_agent(actor: User) -> Agent:
    """The actor's agent record with what their profile and queue filter are built from."""
    agent = (
        Agent.objects.select_related("user", "site")
        .prefetch_related(
            Prefetch("skills", AgentSkill.objects.select_related("skill")),
            Prefetch("certifications", AgentCertification.objects.select_related("certification")),
            Prefetch("clearances", AgentClearance.objects.select_related("clearance")),
        )
        .filter(user=actor)
        .first()
    )
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
    agent = _claiming_agent(actor)
    # What the agent may work is read before the transaction, so the write lock
    # (SQLite) and the agent's row lock are held only for the claim itself.
    calendar = agent_calendar(agent, at=at)  # their shift, holidays and overtime
    profile = replace(agent_profile(agent, load=0, on=utc_day(at)), site=agent.site.code)
    book = NeedsBook()
    candidates = claim_candidates(actor, agent, profile, at, book)
    refused: NotAllowed | Conflict | None = None
    # No savepoint inside a request's transaction (two more round trips, one of them
    # under the audit chain's lock): nothing below raises once it has written, but
    # a database error, which fails the whole request anyway.
    with transaction.atomic(savepoint=False):
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
            try:
                after = _decide(actor, item, Action.TAKE)
            except (NotAllowed, Conflict) as refusal:
                refused = refusal  # raised below, once the block has closed cleanly
                break
            _mark_busy(held, at)
            # The transition writes the audit record last: the chain's lock is then
            # held only for that insert and the commit.
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
            return Claim(
                item,
                f"{item.reference} is the first item in routing order (priority, due time, "
                "age) that you may take.",
            )
        if refused is None:
            reason, rule = nothing_for(moment.profile, book, at)
            return Claim(None, reason, rule)
    raise refused


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
            if push_on_arrival():
                transaction.on_commit(
                    lambda: _push_safely("an agent became available", do_fill_agent, agent.pk, at)
                )
        row.save()
        record(
            actor=actor,
            action="agent.presence",
            obj=agent,
            source_ip=source_ip,
            at=at,
            detail={"from": before.value, "to": wanted.value},
        )
    if wanted is Presence.OFFLINE:
        # Nothing stays with an agent who left: what they hold goes to the next shift.
        _hand_off_safely(agent, why="went offline", at=at)
    return row


def on_work_item_changed(
    sender: object, item_id: int, action: str, to_state: str, **kwargs: object
) -> None:
    """After a committed change: idle time, and (with push on arrival) routing at once.

    An agent who completes, releases or sees cancelled an item they held is idle
    from then. With :func:`push_on_arrival`, an item that entered the queue
    (submitted, released, returned) goes to a ready agent (never back to the
    agent who released it), and the agent it freed gets their next items. Push
    runs as the system in the provider's scope; its errors are logged, never
    raised into the change that was just committed.
    """
    freed: int | None = None
    not_to: set[int] = set()
    event: WorkItemEvent | None = None
    if action in (Action.COMPLETE.value, Action.RELEASE.value, Action.CANCEL.value):
        event = (
            WorkItemEvent.objects.filter(item_id=item_id, kind=action)
            .select_related("item")
            .order_by("-at", "-id")
            .first()
        )
        if event is not None:
            # A release clears the owner: the agent is who held it, whoever released it (the
            # agent, a lead, the system); a returned handoff names its giver and taker too.
            if action == Action.RELEASE.value:
                freed = event.data.get("previous_owner_id")
                not_to = {u for u in (freed, *event.data.get("not_back_to", ())) if u is not None}
            else:
                freed = event.item.owner_id
            if freed is not None:
                AgentPresence.objects.filter(agent__user_id=freed).update(idle_since=event.at)
    if not push_on_arrival() or (to_state != State.QUEUED.value and freed is None):
        return
    if event is None:
        event = WorkItemEvent.objects.filter(item_id=item_id).order_by("-at", "-id").first()
    at = event.at if event is not None else timezone.now()
    if to_state == State.QUEUED.value:
        _push_safely("an item entered the queue", do_push_item, item_id, at, frozenset(not_to))
    if freed is not None:
        agent_id = Agent.objects.filter(user_id=freed).values_list("pk", flat=True).first()
        if agent_id is not None:
            _push_safely("an agent became free", do_fill_agent, agent_id, at, item_id)


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


# --- push on arrival --------------------------------------------------------------------------

_paused: ContextVar[bool] = ContextVar("relaydesk_push_paused", default=False)
ARRIVAL_NOTE = "Assigned by routing on arrival to the longest-idle eligible agent."
FREED_NOTE = "Assigned by routing: the first item in routing order this agent may take."


def push_on_arrival() -> bool:
    """True when items are pushed the moment they enter the queue (the setting
    ``RELAYDESK_PUSH_ON_ARRIVAL``) and no bulk load has paused it."""
    return bool(getattr(settings, "RELAYDESK_PUSH_ON_ARRIVAL", False)) and not _paused.get()


@contextmanager
def push_on_arrival_paused() -> Iterator[None]:
    """No push on arrival inside the block, e.g. while the demo writes its history."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def _push_safely(what: str, push: Callable[..., object], *args: object) -> None:
    """Run one push in the provider's scope (loads count every client's items); log errors.

    Follow-ups of a committed change must not fail it: what is not pushed now
    waits in the queue for "Get next" or the next routing run.
    """
    try:
        with rowsecurity.within(rowsecurity.PROVIDER):
            push(*args)
    except Exception:
        logger.exception("Push on arrival failed after %s; the work waits in the queue.", what)


def _ready_ids(
    at: dt.datetime, book: CalendarBook, not_to: Collection[int] = frozenset()
) -> list[int]:
    """A cheap first look (one query and the calendars): the active agents who are
    available, below capacity and on their own shift at ``at``, except the users
    ``not_to``."""
    rows = (
        Agent.objects.filter(user__is_active=True, presence__status=Presence.AVAILABLE.value)
        .exclude(user_id__in=not_to)
        .annotate(
            held=Count("user__owned_items", filter=Q(user__owned_items__state__in=HOLDING_STATES))
        )
        .filter(held__lt=F("capacity"))
        .only("pk", "site_id", "shift_name")
    )
    return [agent.pk for agent in rows if book.for_agent(agent).is_on_shift(at)]


def do_push_item(
    item_id: int, at: dt.datetime | None = None, not_to: Collection[int] = frozenset()
) -> int | None:
    """Assign one queued item to the longest-idle ready agent, as the system; their agent id.

    Ready means available, on their own shift and below capacity; the agent must
    pass every rule of the item (skills, certification, language, clearance,
    residency, site, dedication), checked again under the agent's row lock.
    ``not_to`` are the users who must not get it (the agent who just let it go; for a
    returned handoff, its giver and taker too).
    ``None`` when the item is no longer queued or nobody may take it now.
    """
    at = at or timezone.now()
    row = queued_items().filter(pk=item_id).first()
    if row is None:
        return None
    # Most arrivals find nobody ready (all busy, or off shift): settle that cheaply first.
    book = CalendarBook(at=at)
    ids = _ready_ids(at, book, not_to)
    if not ids:
        return None
    ready = [
        (agent, moment)
        for agent, moment in routing_agents(at, available_only=True, book=book, only=ids)
        if agent.user_id not in not_to and agent_exclusion(moment, at) is None
    ]
    if not ready:
        return None
    needs = NeedsBook()
    needs.load_widening([item_id])
    chosen = choose_agent(needs.queued_item(row), [moment for _, moment in ready], at)
    if chosen is None:
        return None
    agent = next(agent for agent, _ in ready if agent.pk == chosen.agent_id)
    if not _assign_planned(item_id, agent, needs, at=at, note=ARRIVAL_NOTE):
        return None
    return agent.pk


def do_fill_agent(agent_id: int, at: dt.datetime | None = None, skip: int | None = None) -> int:
    """Give a ready agent queued items up to their capacity, in routing order, as the system.

    For an agent who just became available or free. The items are the ones
    "Get next" would give them, one after another, each assigned under the
    agent's row lock with every rule checked again; ``skip`` is an item they must
    not get (the one they just released). Returns how many were assigned.
    """
    at = at or timezone.now()
    agent = (
        Agent.objects.select_related("user", "site", "presence")
        .filter(pk=agent_id, user__is_active=True)
        .first()
    )
    if agent is None:
        return 0
    moment = routing_agent(agent, at=at)
    if agent_exclusion(moment, at) is not None:
        return 0
    free = moment.profile.capacity - moment.profile.load
    book = NeedsBook()
    candidates = claim_candidates(agent.user, agent, moment.profile, at, book)
    if skip is not None:
        candidates = candidates.exclude(pk=skip)
    today = utc_day(at)
    made = 0
    for item in candidates[: free + MAX_PASSED_OVER]:
        if made >= free:
            break
        if qualification_exclusion(moment.profile, book.needs(item), today) is not None:
            continue
        made += _assign_planned(item.pk, agent, book, at=at, note=FREED_NOTE)
    return made


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


# --- handoff ----------------------------------------------------------------------------------

#: The longest handoff note.
HANDOFF_NOTE_LIMIT = 4_000
#: After an agent's shift ends, how long they have to hand off before the sweep does it.
SHIFT_END_GRACE = dt.timedelta(minutes=15)
#: How many of the best next-shift agents a handoff tries before the item goes back.
HANDOFF_TRIES = 10
_RECEIVED_KINDS = (Action.TAKE.value, Action.ASSIGN.value, "handoff_acknowledged")


def handoff_ack_window() -> dt.timedelta:
    """How long the next agent has to acknowledge, from when they can take the item up.

    ``RELAYDESK_HANDOFF_ACK_MINUTES`` (default 30).
    """
    return dt.timedelta(minutes=settings.RELAYDESK_HANDOFF_ACK_MINUTES)


def _alert_lead(item: WorkItem, handoff: Handoff, why: str, at: dt.datetime) -> None:
    """Alert the operations lead, as the escalation ladder's T2 does: a ``routing.lead_alert``."""
    record(
        actor=None,
        action="routing.lead_alert",
        obj=item,
        client=item.client_id,
        at=at,
        detail={
            "item": item.reference,
            "engagement": item.engagement_id,
            "handoff": handoff.pk,
            "reason": why,
        },
    )


def _to_front(
    item: WorkItem, why: str, *, at: dt.datetime, not_back_to: Collection[int] = ()
) -> None:
    """Send a held item back to the queue, ahead of every other queued item.

    The lifecycle releases only assigned items, so work in progress (or rework)
    is first stopped by assigning it back to its holder, as a lead's
    reassignment would; then the system releases it. Push on arrival never
    gives it to its holder, nor to the users ``not_back_to``.
    """
    if item.state_enum is not State.ASSIGNED:
        assert item.owner is not None  # a held state always has an owner
        _apply(
            item,
            None,
            Action.ASSIGN,
            at=at,
            note="Work stopped for the handoff.",
            new_owner=item.owner,
            decided=_decide(None, item, Action.ASSIGN),
        )
    item.queue_front = True  # after the ASSIGN, which takes an item off the front
    _apply(
        item,
        None,
        Action.RELEASE,
        at=at,
        note=why,
        decided=_decide(None, item, Action.RELEASE),
        data={"not_back_to": sorted(not_back_to)} if not_back_to else None,
    )


def _moved_on(item: WorkItem) -> str:
    """Why an open offer closed without being acknowledged: its item moved on."""
    if item.owner is not None:
        return f"Reassigned to {item.owner.full_name} before it was acknowledged."[:200]
    return "The item moved on before it was acknowledged."


def _close_offer(handoff: Handoff, item: WorkItem, reason: str, *, at: dt.datetime) -> None:
    """Close an open offer that can no longer be acknowledged, with its audit record."""
    handoff.state = HandoffState.RETURNED
    handoff.returned_at = at
    handoff.return_reason = reason
    handoff.save(update_fields=["state", "returned_at", "return_reason"])
    record(
        actor=None,
        action="work_item.handoff_closed",
        obj=item,
        client=item.client_id,
        at=at,
        detail={
            "handoff": handoff.pk,
            "to": handoff.to_agent_id,
            "owner": item.owner.full_name if item.owner else "",
            "state": item.state,
        },
    )


def _close_overridden_offers(item: WorkItem, *, at: dt.datetime) -> None:
    """Close the locked item's open offer to an agent who no longer holds it (a lead
    reassigned or released it since): it can never be acknowledged, and only one
    offer of an item may be open."""
    offers = item.handoffs.filter(state=HandoffState.OFFERED)
    if item.owner_id is not None:
        offers = offers.exclude(to_agent__user_id=item.owner_id)
    for handoff in _locked(offers):
        _close_offer(handoff, item, _moved_on(item), at=at)


def _pass_on(
    item: WorkItem,
    giver: Agent,
    *,
    actor: User | None,
    note: str,
    leaving_at: dt.datetime,
    at: dt.datetime,
    automatic: str = "",
    source_ip: str | None = None,
) -> Handoff:
    """Offer a locked item to the best agent of the next shift, or send it to the front.

    Runs in the caller's transaction. Candidates come from the core's
    :func:`~relaydesk.core.routing.rank_next_shift`; each is locked and their
    load counted again before the item goes to them (ASSIGN, by the system), so
    capacity holds. With nobody, the handoff is recorded as returned, the item
    goes to the front of the queue and the lead is alerted. ``automatic`` says
    why the system handed off for an absent agent (empty: the agent did).
    """
    _close_overridden_offers(item, at=at)
    picks = rank_next_shift(
        item_needs(item),
        [moment for _, moment in routing_agents(at)],
        leaving_at,
        exclude=frozenset({giver.pk}),
    )
    taker: Agent | None = None
    respond_by = at
    for pick in picks[:HANDOFF_TRIES]:
        held = _lock_agent(pick.agent.agent_id)
        if _load(held) < held.capacity:
            taker = held
            respond_by = max(pick.available_from, at) + handoff_ack_window()
            break
    handoff = Handoff.objects.create(
        client_id=item.client_id,
        item=item,
        from_agent=giver,
        to_agent=taker,
        note=note,
        state=HandoffState.OFFERED if taker else HandoffState.RETURNED,
        created_at=at,
        respond_by=respond_by,
        returned_at=None if taker else at,
        return_reason="" if taker else "Nobody eligible on the next shift.",
    )
    _event(
        item,
        actor,
        "handed_off",
        at=at,
        note=note,
        internal=True,
        data={
            "handoff": handoff.pk,
            "from": giver.user.full_name,
            "owner": taker.user.full_name if taker else "",
            "respond_by": respond_by.isoformat() if taker else "",
            "automatic": automatic,
        },
    )
    detail = {
        "handoff": handoff.pk,
        "from": giver.pk,
        "to": taker.pk if taker else None,
        "respond_by": respond_by.isoformat() if taker else None,
        "automatic": automatic,
    }
    record(
        actor=actor,
        action="work_item.hand_off",
        obj=item,
        client=item.client_id,
        source_ip=source_ip,
        at=at,
        detail=detail,
    )
    if taker is not None:
        _apply(
            item,
            None,
            Action.ASSIGN,
            at=at,
            note=(
                f"Handed off by {giver.user.full_name}; waiting for {taker.user.full_name} "
                "to acknowledge."
            ),
            new_owner=taker.user,
            decided=_decide(None, item, Action.ASSIGN),
        )
        _mark_busy(taker, at)
        if automatic:
            _alert_lead(item, handoff, automatic, at)
        # The agent it is offered to hears of it once committed (notifications listen).
        handoff_id = handoff.pk
        rowsecurity.on_commit_in_scope(
            lambda: handoff_offered.send(sender=Handoff, handoff_id=handoff_id)
        )
        return handoff
    why = "Nobody eligible is on the next shift"
    _event(
        item,
        None,
        "handoff_returned",
        at=at,
        note=f"{why}: back at the front of the queue, with the note; the lead was alerted.",
        internal=True,
        data={"handoff": handoff.pk},
    )
    _to_front(item, f"{why}; back at the front of the queue.", at=at)
    _alert_lead(item, handoff, f"{automatic + '; ' if automatic else ''}{why.lower()}", at)
    return handoff


def do_hand_off(
    actor: User,
    item: WorkItem,
    note: str,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Handoff:
    """Hand an item the agent holds to the next shift, with a note for whoever takes over.

    The item goes to the best eligible agent of the next shift at any site
    (:func:`~relaydesk.core.routing.rank_next_shift`: on shift when the giver's
    shift ends, or whose shift starts soonest after it, with room, passing every
    rule about the item), assigned to them and waiting for their acknowledgement
    until ``respond_by`` — when they can take it up plus
    :func:`handoff_ack_window`. With nobody, it goes to the front of the queue
    with the note kept, and the operations lead is alerted. Timeline entries
    are internal: the client sees neither who holds its work nor the note.
    """
    if not can(actor.role_enum, Permission.HAND_OFF):
        raise NotAllowed("Only agents hand off the items they hold.")
    note = note.strip()
    if not note:
        raise Invalid("Write a handoff note: what is done, and what is left for the next person.")
    if len(note) > HANDOFF_NOTE_LIMIT:
        raise Invalid(f"A handoff note is limited to {HANDOFF_NOTE_LIMIT:,} characters.")
    at = at or timezone.now()
    giver = _agent_of(actor)
    calendar = agent_calendar(giver, at=at)
    shift = calendar.status(at)
    # Handing off during a shift: the next shift is whoever works when this one ends.
    leaving_at = shift.until if shift.on_shift and shift.until else at
    with transaction.atomic():
        locked = _lock(actor, item, at)
        _check_can_hand_off(actor, locked)
        return _pass_on(
            locked, giver, actor=actor, note=note, leaving_at=leaving_at, at=at, source_ip=source_ip
        )


def _check_can_hand_off(actor: User, item: WorkItem) -> None:
    open_offer = item.handoffs.filter(state=HandoffState.OFFERED).select_related("to_agent")
    if open_offer.filter(to_agent__user=actor).exists():
        raise Conflict(
            f"{item.reference} was handed to you and waits for your acknowledgement; "
            "acknowledge it first."
        )
    if item.owner_id != actor.pk:
        raise NotAllowed("Only the agent holding the item can hand it off.")
    if item.state_enum is State.WAITING_ON_CLIENT:
        raise Conflict(
            f"{item.reference} is waiting on the client: it stays with you, and if the client "
            "replies after your shift, it is handed to the next shift then."
        )
    if item.state_enum not in HANDOFF_STATES:
        raise Conflict(f"{item.reference} is {item.state_enum.label.lower()}; nothing to hand off.")


def do_acknowledge_handoff(
    actor: User,
    handoff: Handoff,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Handoff:
    """The agent offered a handoff takes the item over: from now on they hold it.

    Only the agent it was offered to may; their capacity is counted again under
    their row lock (the item already counts), so a lead's assignments since
    cannot take them past it. A handoff past ``respond_by`` that the sweep has
    not yet returned may still be acknowledged.
    """
    if not can(actor.role_enum, Permission.ACKNOWLEDGE_HANDOFF):
        raise NotAllowed("Only agents acknowledge handoffs.")
    at = at or timezone.now()
    with transaction.atomic():
        locked = (
            visible_handoffs(actor).select_for_update(of=("self",)).filter(pk=handoff.pk).first()
        )
        if locked is None:
            raise NotFound(f"No handoff {handoff.pk}.")
        taker = locked.to_agent
        if taker is None or taker.user_id != actor.pk:
            offered = f"it was offered to {taker.user.full_name}" if taker else "nobody took it"
            raise NotAllowed(
                f"Only the agent a handoff is offered to can acknowledge it; {offered}."
            )
        if locked.state == HandoffState.ACKNOWLEDGED:
            raise Conflict("You already acknowledged this handoff.")
        if locked.state == HandoffState.RETURNED:
            reason = locked.return_reason.rstrip(".")
            why = reason[:1].lower() + reason[1:] if reason else "it went back to the queue"
            raise Conflict(f"This handoff is closed ({why}); use Get next to take work.")
        item = _lock(actor, locked.item, at)
        if item.owner_id != actor.pk or item.state_enum not in HANDOFF_STATES:
            raise Conflict(f"{item.reference} has moved on since it was handed to you.")
        held = _lock_agent(taker.pk)
        load = _load(held)
        if load > held.capacity:
            raise Conflict(
                f"You hold {load} items and may hold {held.capacity}: "
                "finish or release one before taking this one over."
            )
        locked.state = HandoffState.ACKNOWLEDGED
        locked.acknowledged_at = at
        locked.save(update_fields=["state", "acknowledged_at"])
        _event(
            item,
            actor,
            "handoff_acknowledged",
            at=at,
            note=f"{actor.full_name} took over from {locked.from_agent.user.full_name}.",
            internal=True,
            data={"handoff": locked.pk, "from": locked.from_agent.user.full_name},
        )
        record(
            actor=actor,
            action="work_item.acknowledge_handoff",
            obj=item,
            client=item.client_id,
            source_ip=source_ip,
            at=at,
            detail={"handoff": locked.pk, "from": locked.from_agent_id},
        )
        _mark_busy(held, at)
    return locked


@dataclass(frozen=True, slots=True)
class HandoffSweep:
    """What one handoff sweep did.

    ``returned``: offers past ``respond_by`` sent to the front of the queue (each
    alerted the lead); ``taken_up``: offers whose agent had started the work
    without acknowledging (counted as acknowledged); ``closed``: offers whose
    item moved on otherwise (reassigned, cancelled); ``handed_off``: items of
    agents whose shift ended, handed off for them (each alerted the lead).
    """

    at: dt.datetime
    returned: int = 0
    taken_up: int = 0
    closed: int = 0
    handed_off: int = 0


def do_return_stale_handoffs(*, at: dt.datetime | None = None) -> HandoffSweep:
    """Return every offer not acknowledged by its ``respond_by`` to the front of the queue.

    As the system, each in its own transaction (an offer being acknowledged at
    that moment is skipped and looked at again next time). The item is released
    (ahead of every other queued item), the timeline says why, the lead is
    alerted, and the audit trail has it all.
    """
    at = at or timezone.now()
    returned = taken_up = closed = 0
    stale = Handoff.objects.filter(state=HandoffState.OFFERED, respond_by__lte=at)
    for handoff_id in stale.values_list("pk", flat=True):
        try:
            outcome = _return_one(handoff_id, at)
        except Exception:
            # One offer that cannot be returned now (a lock, a deadlock) must not stop the rest.
            logger.exception("Returning handoff %s failed; the next run retries it.", handoff_id)
            continue
        returned += outcome == "returned"
        taken_up += outcome == "taken_up"
        closed += outcome == "closed"
    return HandoffSweep(at, returned=returned, taken_up=taken_up, closed=closed)


def _return_one(handoff_id: int, at: dt.datetime) -> str:
    with transaction.atomic():
        handoff = (
            _locked(Handoff.objects.filter(pk=handoff_id, state=HandoffState.OFFERED))
            .select_related("to_agent__user", "from_agent__user")
            .first()
        )
        if handoff is None:
            return ""
        item = (
            _locked(WorkItem.objects.filter(pk=handoff.item_id))
            .select_related("client", "engagement", "service", "owner")
            .first()
        )
        if item is None:
            return ""
        taker = handoff.to_agent
        assert taker is not None  # only offers to someone are open
        if item.owner_id != taker.user_id or item.state_enum is State.CANCELLED:
            _close_offer(handoff, item, _moved_on(item), at=at)
            return "closed"
        if item.state_enum is not State.ASSIGNED:
            # They started the work (and may since wait on the client, or have finished
            # it): that is taking it over.
            handoff.state = HandoffState.ACKNOWLEDGED
            handoff.acknowledged_at = at
            handoff.save(update_fields=["state", "acknowledged_at"])
            _event(
                item,
                None,
                "handoff_acknowledged",
                at=at,
                note=f"{taker.user.full_name} started the work, which took it over.",
                internal=True,
                data={"handoff": handoff.pk, "from": handoff.from_agent.user.full_name},
            )
            record(
                actor=None,
                action="work_item.handoff_taken_up",
                obj=item,
                client=item.client_id,
                at=at,
                detail={"handoff": handoff.pk, "to": taker.pk, "state": item.state},
            )
            return "taken_up"
        deadline = f"{handoff.respond_by.astimezone(dt.UTC):%H:%M} UTC"
        reason = f"Not acknowledged by {taker.user.full_name} by {deadline}"
        handoff.state = HandoffState.RETURNED
        handoff.returned_at = at
        handoff.return_reason = reason[:200]
        handoff.save(update_fields=["state", "returned_at", "return_reason"])
        _event(
            item,
            None,
            "handoff_returned",
            at=at,
            note=f"{reason}: back at the front of the queue, with the note; the lead was alerted.",
            internal=True,
            data={"handoff": handoff.pk, "owner": ""},
        )
        record(
            actor=None,
            action="work_item.handoff_return",
            obj=item,
            client=item.client_id,
            at=at,
            detail={
                "handoff": handoff.pk,
                "to": taker.pk,
                "respond_by": handoff.respond_by.isoformat(),
            },
        )
        _to_front(
            item,
            f"{reason}; back at the front of the queue.",
            at=at,
            not_back_to={handoff.from_agent.user_id},
        )
        _alert_lead(item, handoff, "handoff not acknowledged", at)
        return "returned"


def _last_update(item: WorkItem) -> str:
    """The item's latest timeline entry in a few words, for an automatic handoff note."""
    event = item.events.select_related("actor").order_by("-at", "-id").first()
    if event is None:
        return "none"
    who = event.actor.full_name if event.actor else "Relaydesk"
    return f"{event.label.lower()} by {who}, {event.at.astimezone(dt.UTC):%d %b %H:%M} UTC"


def _hand_off_for(
    item_id: int, giver: Agent, *, why: str, sentence: str, at: dt.datetime
) -> Handoff | None:
    """Hand one item off for an absent agent, as the system, in its own transaction."""
    with transaction.atomic():
        item = (
            _locked(
                WorkItem.objects.filter(
                    pk=item_id,
                    owner_id=giver.user_id,
                    state__in=[s.value for s in HANDOFF_STATES],
                ).exclude(offered_to_holder())
            )
            .select_related("client", "engagement__required_certification", "service", "owner")
            .first()
        )
        if item is None:
            return None
        note = f"{sentence} without a handoff note; last update: {_last_update(item)}."
        return _pass_on(item, giver, actor=None, note=note, leaving_at=at, at=at, automatic=why)


def _held_without_handoff(agent: Agent) -> list[int]:
    return list(
        WorkItem.objects.filter(owner_id=agent.user_id, state__in=[s.value for s in HANDOFF_STATES])
        .exclude(offered_to_holder())
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _hand_off_for_deactivated(rows: list[tuple[int, int, dt.datetime]], at: dt.datetime) -> int:
    """Hand off, as the system, the items (``rows`` of id, owner, created) held by agents
    whose account was deactivated: they are gone, shift or not. How many were handed off."""
    gone = {
        agent.user_id: agent
        for agent in Agent.objects.select_related("user", "site").filter(
            user_id__in={owner for _, owner, _ in rows}, user__is_active=False
        )
    }
    done = 0
    for item_id, owner_id, _ in rows:
        if (agent := gone.get(owner_id)) is not None:
            sentence = f"{agent.user.full_name}'s account was deactivated"
            why = "account deactivated"
            done += _hand_off_for(item_id, agent, why=why, sentence=sentence, at=at) is not None
    return done


def hand_off_on_leaving(agent: Agent, *, why: str, at: dt.datetime) -> list[Handoff]:
    """Nothing stays with an agent who left: hand off each item they hold, as the system.

    For an agent who went offline or signed out (``why``: "went offline",
    "signed out") while holding items they had not handed off. Each item goes to
    the next shift with a system note, or to the front of the queue; either way
    the lead is alerted.
    """
    name = agent.user.full_name
    return [
        handoff
        for item_id in _held_without_handoff(agent)
        if (handoff := _hand_off_for(item_id, agent, why=why, sentence=f"{name} {why}", at=at))
    ]


def _hand_off_safely(agent: Agent, *, why: str, at: dt.datetime) -> None:
    """:func:`hand_off_on_leaving`, whose failure must not fail the sign-out or presence change.

    What is not handed off now is by the shift-end sweep of the next routing run.
    """
    try:
        hand_off_on_leaving(agent, why=why, at=at)
    except Exception:
        logger.exception(
            "Handing off the items of agent %s (%s) failed; the shift-end sweep will retry.",
            agent.pk,
            why,
        )


def on_signed_out(sender: object, request: object, user: object, **kwargs: object) -> None:
    """An agent who signs out is offline, and hands off what they hold (allauth's sign-out)."""
    if not isinstance(user, User) or not can(user.role_enum, Permission.SET_PRESENCE):
        return
    agent = Agent.objects.select_related("user", "site").filter(user=user).first()
    if agent is None:
        return
    at = timezone.now()
    row = presence_of(agent)
    if row is not None and row.presence is not Presence.OFFLINE:
        AgentPresence.objects.filter(pk=row.pk).update(status=Presence.OFFLINE.value, since=at)
        record(
            actor=user,
            action="agent.presence",
            obj=agent,
            at=at,
            detail={"from": row.presence.value, "to": Presence.OFFLINE.value, "signed_out": True},
        )
    _hand_off_safely(agent, why="signed out", at=at)


def do_hand_off_after_shift_end(*, at: dt.datetime | None = None) -> HandoffSweep:
    """Hand off, as the system, the items of agents whose shift ended while they held them.

    An item counts when its holder is off shift now and a shift of theirs ended
    after they got the item and at least :data:`SHIFT_END_GRACE` ago (so the
    agent has time to write their own note). Items waiting on the client stay
    until the client replies; one with an open offer is the stale sweep's.
    """
    at = at or timezone.now()
    held = (
        WorkItem.objects.filter(owner__isnull=False, state__in=[s.value for s in HANDOFF_STATES])
        .exclude(offered_to_holder())
        .values_list("pk", "owner_id", "created_at")
    )
    rows = list(held)
    if not rows:
        return HandoffSweep(at)
    received = dict(
        WorkItemEvent.objects.filter(
            item_id__in=[pk for pk, _, _ in rows], kind__in=_RECEIVED_KINDS
        )
        .values("item_id")
        .annotate(last=Max("at"))
        .values_list("item_id", "last")
    )
    owners = {owner for _, owner, _ in rows}
    moments = {
        agent.user_id: (agent, moment)
        for agent, moment in routing_agents(at)
        if agent.user_id in owners
    }
    done = _hand_off_for_deactivated(rows, at)
    latest = at - SHIFT_END_GRACE
    for item_id, owner_id, created_at in rows:
        if owner_id not in moments:
            continue
        agent, moment = moments[owner_id]
        calendar = moment.calendar
        since = received.get(item_id, created_at)
        if since >= latest or calendar.is_on_shift(at):
            continue
        ended = shift_ended_between(calendar, since, latest)
        if ended is None:
            continue
        sentence = (
            f"{agent.user.full_name}'s shift at {agent.site.name} ended at "
            f"{calendar.local_time(ended):%H:%M} local time"
        )
        try:
            handed = _hand_off_for(item_id, agent, why="shift ended", sentence=sentence, at=at)
        except Exception:
            logger.exception("Handing off item %s failed; the next run retries it.", item_id)
            continue
        done += handed is not None
    return HandoffSweep(at, handed_off=done)
