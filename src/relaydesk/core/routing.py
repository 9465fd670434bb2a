"""Routing: which queued item an agent gets next, and which agent gets an item.

Plain data in and out: :class:`QueuedItem` (an item waiting, with its
:class:`~relaydesk.core.eligibility.ItemNeeds`) and :class:`RoutingAgent` (an
agent's :class:`~relaydesk.core.eligibility.AgentProfile`, site calendar and
presence). The pieces:

- **Eligibility** — the hard rules of :mod:`relaydesk.core.eligibility`, in the
  order of ``RULES``: :func:`exclusion` names the first one an agent fails and
  :func:`explain` answers "who may take this item now, and why not the others".
- **Order** — items by priority (higher first), then least SLA slack (items
  without a due time after those with one), then age (older first):
  :func:`order_key`. Slack is ``due_at - now`` with the same ``now`` for every
  item, so ordering by slack is ordering by due time, and a queue never needs
  re-sorting as time passes.
- **Agent choice** — :class:`Strategy` (longest idle, least loaded, highest
  proficiency, continuity) in :func:`choose_agent`.
- **Pull** — :class:`Router` keeps the queue grouped by requirement set (items
  whose needs are equal), each group a heap in routing order. Which groups an
  agent may work is kept for the day, so "Get next" compares the heads of the
  agent's groups, not the whole queue.
  :func:`scan_next_item` is the same decision by scanning every item: the
  reference the router is tested against and its benchmark baseline.
- **Batch** — :func:`assign_wave` assigns a whole wave at minimum total cost
  (SciPy's ``linear_sum_assignment``); :func:`assign_wave_greedy` is the
  one-at-a-time baseline priced the same way (:class:`WaveCost`).
- **Escalation** — :class:`EscalationLadder`, :func:`escalation_state` and
  :func:`widened_needs`: how far an item that has waited is widened, and when the
  operations lead is alerted.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from relaydesk.core.eligibility import (
    RULES,
    AgentProfile,
    Exclusion,
    ItemNeeds,
    Presence,
    capacity_exclusion,
    meets_needs,
    presence_exclusion,
    qualification_exclusion,
    shift_exclusion,
)
from relaydesk.core.shifts import ShiftCalendar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "HANDOFF_HORIZON",
    "HANDOFF_MIN_SHIFT_LEFT",
    "AgentVerdict",
    "EscalationLadder",
    "EscalationState",
    "ItemExplanation",
    "LadderStep",
    "NeedsKey",
    "NextShiftPick",
    "OrderKey",
    "PullExplanation",
    "QueuedItem",
    "Relaxation",
    "Router",
    "RoutingAgent",
    "Strategy",
    "WaveCost",
    "WavePlan",
    "agent_exclusion",
    "assign_wave",
    "assign_wave_greedy",
    "available_from",
    "choose_agent",
    "escalation_state",
    "exclusion",
    "explain",
    "explain_next",
    "needs_key",
    "order_key",
    "rank_next_shift",
    "scan_next_item",
    "shift_ended_between",
    "slack",
    "sort_items",
    "widened_needs",
]

UTC = dt.UTC
_SECONDS_PER_DAY = 86_400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# How long an agent's shift answer is trusted when the calendar sees no change ahead.
_SHIFT_RECHECK_SECONDS = 7 * _SECONDS_PER_DAY

#: ``(-priority, 0 if due else 1, due timestamp, queued timestamp, item id)``: smaller first.
OrderKey = tuple[int, int, float, float, int]
# The head of an empty requirement set: after every real key.
_EMPTY: OrderKey = (sys.maxsize, 1, math.inf, math.inf, -1)
#: Everything in :class:`ItemNeeds`, hashable: items with equal keys form one requirement set.
NeedsKey = tuple[
    tuple[tuple[str, int], ...], str, str, str, str, frozenset[str], frozenset[int], frozenset[str]
]


def _timestamp(now: dt.datetime, name: str = "now") -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {now!r}")
    return now.timestamp()


def _day(timestamp: float) -> int:
    return int(timestamp // _SECONDS_PER_DAY)


def _date_of_day(day: int) -> dt.date:
    return dt.date.fromordinal(_EPOCH_ORDINAL + day)


def _utc_date(now: dt.datetime) -> dt.date:
    """The UTC calendar day of ``now``: the day certification expiry is checked against."""
    return _date_of_day(_day(_timestamp(now)))


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """An item waiting to be routed.

    ``priority``: higher is more urgent. ``due_at``: the SLA deadline, if any.
    ``case_key``: the case or matter it belongs to, for continuity.
    ``effort_minutes``: the expected handling time at the required proficiency
    (used to price wave assignments).
    """

    item_id: int
    needs: ItemNeeds
    queued_at: dt.datetime
    priority: int = 0
    due_at: dt.datetime | None = None
    case_key: str = ""
    effort_minutes: float = 30.0

    def __post_init__(self) -> None:
        _timestamp(self.queued_at, "queued_at")
        if self.due_at is not None:
            _timestamp(self.due_at, "due_at")
        if not self.effort_minutes > 0:
            raise ValueError(f"effort_minutes must be positive, got {self.effort_minutes}")


@dataclass(frozen=True, slots=True)
class RoutingAgent:
    """An agent as routing sees them: record and load, site calendar, presence.

    ``idle_since``: when the agent last received an item or finished one (``None``:
    never, which counts as the longest idle).
    """

    profile: AgentProfile
    calendar: ShiftCalendar
    presence: Presence = Presence.AVAILABLE
    idle_since: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.idle_since is not None:
            _timestamp(self.idle_since, "idle_since")
        if self.profile.capacity < 0 or self.profile.load < 0:
            raise ValueError(f"agent {self.profile.agent_id}: capacity and load cannot be negative")

    @property
    def agent_id(self) -> int:
        """The agent's id (from the profile)."""
        return self.profile.agent_id


def needs_key(needs: ItemNeeds) -> NeedsKey:
    """The requirement set ``needs`` belongs to: equal needs, equal key."""
    return (
        tuple(sorted(needs.skills.items())),
        needs.language,
        needs.jurisdiction,
        needs.certification,
        needs.clearance,
        needs.allowed_countries,
        needs.dedicated_agent_ids,
        needs.sites,
    )


# --- eligibility ------------------------------------------------------------------------------


def agent_exclusion(agent: RoutingAgent, now: dt.datetime) -> Exclusion | None:
    """The first rule about the agent's moment (shift, presence, capacity) they fail at ``now``."""
    return (
        shift_exclusion(agent.calendar, now)
        or presence_exclusion(agent.presence)
        or capacity_exclusion(agent.profile)
    )


def exclusion(agent: RoutingAgent, needs: ItemNeeds, now: dt.datetime) -> Exclusion | None:
    """The first hard rule ``agent`` fails for an item with ``needs`` at ``now``, or ``None``.

    Rules run in the order of ``RULES``: the item's demands first, then shift,
    presence and capacity. Certifications must be valid on the UTC day of ``now``.
    """
    return qualification_exclusion(agent.profile, needs, _utc_date(now)) or agent_exclusion(
        agent, now
    )


@dataclass(frozen=True, slots=True)
class AgentVerdict:
    """One agent's answer for one item: eligible, or the first rule that excludes them."""

    agent_id: int
    exclusion: Exclusion | None

    @property
    def eligible(self) -> bool:
        """True when no rule excludes the agent."""
        return self.exclusion is None


@dataclass(frozen=True, slots=True)
class ItemExplanation:
    """Who may take an item at ``at``, and for everyone else the first rule that excludes them."""

    item_id: int
    at: dt.datetime
    verdicts: tuple[AgentVerdict, ...]

    @property
    def eligible_agent_ids(self) -> tuple[int, ...]:
        """The agents no rule excludes."""
        return tuple(v.agent_id for v in self.verdicts if v.exclusion is None)

    def excluded_by(self) -> dict[str, int]:
        """How many agents each rule excluded, in rule order (only rules that excluded someone)."""
        counts = dict.fromkeys(RULES, 0)
        for verdict in self.verdicts:
            if verdict.exclusion is not None:
                counts[verdict.exclusion.rule] = counts.get(verdict.exclusion.rule, 0) + 1
        return {rule: count for rule, count in counts.items() if count}

    def summary(self) -> str:
        """One sentence for the item page: how many may take it, or why nobody may."""
        eligible = len(self.eligible_agent_ids)
        if eligible:
            return f"{eligible} of {len(self.verdicts)} agents may take it now"
        if not self.verdicts:
            return "no agents to route to"
        reasons = ", ".join(f"{rule} {count}" for rule, count in self.excluded_by().items())
        return f"no agent may take it now; excluded by {reasons}"


def explain(item: QueuedItem, agents: Iterable[RoutingAgent], now: dt.datetime) -> ItemExplanation:
    """For each agent, whether they may take ``item`` at ``now``, or the first rule against."""
    today = _utc_date(now)
    verdicts = tuple(
        AgentVerdict(
            agent.agent_id,
            qualification_exclusion(agent.profile, item.needs, today)
            or agent_exclusion(agent, now),
        )
        for agent in agents
    )
    return ItemExplanation(item.item_id, now, verdicts)


# --- order ------------------------------------------------------------------------------------


def order_key(item: QueuedItem) -> OrderKey:
    """The item's place in routing order: smaller keys are routed first.

    Priority (higher first), then due time (earlier first — the least slack at any
    ``now``; items without one after those with one), then queued time (older
    first), then id, so the order is total.
    """
    due = item.due_at
    return (
        -item.priority,
        0 if due is not None else 1,
        due.timestamp() if due is not None else 0.0,
        item.queued_at.timestamp(),
        item.item_id,
    )


def slack(item: QueuedItem, now: dt.datetime) -> dt.timedelta | None:
    """Time left before the item's deadline (negative when late), ``None`` without one."""
    _timestamp(now)
    return None if item.due_at is None else item.due_at - now


def sort_items(items: Iterable[QueuedItem]) -> list[QueuedItem]:
    """``items`` in routing order."""
    return sorted(items, key=order_key)


class Strategy(StrEnum):
    """How to choose among eligible agents for an item."""

    LONGEST_IDLE = "longest-idle"
    LEAST_LOADED = "least-loaded"
    HIGHEST_PROFICIENCY = "highest-proficiency"
    CONTINUITY = "continuity"


def _idle_rank(idle_since: float | None) -> float:
    return -math.inf if idle_since is None else idle_since


def _agent_rank(
    strategy: Strategy,
    needs: ItemNeeds,
    agent_id: int,
    load: int,
    capacity: int,
    skills: Mapping[str, int],
    idle_since: float | None,
) -> tuple[float, float, int]:
    """Smaller ranks are chosen first; ties go to the longest idle, then the lowest id."""
    idle = _idle_rank(idle_since)
    if strategy == Strategy.LEAST_LOADED:
        return (load / capacity if capacity else math.inf, idle, agent_id)
    if strategy == Strategy.HIGHEST_PROFICIENCY:
        return (-float(sum(skills.get(skill, 0) for skill in needs.skills)), idle, agent_id)
    return (0.0, idle, agent_id)


def choose_agent(
    item: QueuedItem,
    agents: Iterable[RoutingAgent],
    now: dt.datetime,
    *,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    last_handlers: Mapping[str, int] | None = None,
) -> RoutingAgent | None:
    """The eligible agent ``strategy`` picks for ``item`` at ``now``, or ``None``.

    Longest idle: the agent who received or finished work least recently. Least
    loaded: the smallest share of capacity in use. Highest proficiency: the highest
    sum of proficiency in the item's skills. Continuity: the agent in
    ``last_handlers`` for the item's case key, if eligible, else longest idle.
    """
    eligible = [agent for agent in agents if exclusion(agent, item.needs, now) is None]
    if not eligible:
        return None
    if strategy == Strategy.CONTINUITY and item.case_key and last_handlers:
        previous = last_handlers.get(item.case_key)
        for agent in eligible:
            if agent.agent_id == previous:
                return agent
    return min(
        eligible,
        key=lambda agent: _agent_rank(
            strategy,
            item.needs,
            agent.agent_id,
            agent.profile.load,
            agent.profile.capacity,
            agent.profile.skills,
            None if agent.idle_since is None else agent.idle_since.timestamp(),
        ),
    )


def scan_next_item(
    agent: RoutingAgent, items: Iterable[QueuedItem], now: dt.datetime
) -> QueuedItem | None:
    """The best-ordered item ``agent`` may take at ``now``, by checking every item.

    The agent's own rules (shift, presence, capacity) are checked once, the item
    rules for every item. :meth:`Router.next_item` gives the same answer without
    looking at every item.
    """
    if agent_exclusion(agent, now) is not None:
        return None
    today = _utc_date(now)
    best: QueuedItem | None = None
    best_key: OrderKey | None = None
    for item in items:
        if meets_needs(agent.profile, item.needs, today):
            key = order_key(item)
            if best_key is None or key < best_key:
                best, best_key = item, key
    return best


@dataclass(frozen=True, slots=True)
class PullExplanation:
    """Why an agent gets what they get: the item (or the rule that stops them taking
    any), and the better-ordered items passed over, each with the rule against."""

    agent_id: int
    item: QueuedItem | None
    agent_exclusion: Exclusion | None
    passed_over: tuple[tuple[QueuedItem, Exclusion], ...]

    def summary(self) -> str:
        """One sentence for the agent page."""
        if self.agent_exclusion is not None:
            return f"takes no work now: {self.agent_exclusion.reason}"
        if self.item is None:
            return "no queued item this agent may take"
        skipped = len(self.passed_over)
        ahead = f"; {skipped} better-ordered item(s) need what this agent lacks" if skipped else ""
        return f"gets item {self.item.item_id}, the first in routing order they may take{ahead}"


def explain_next(
    agent: RoutingAgent, items: Iterable[QueuedItem], now: dt.datetime, *, limit: int = 10
) -> PullExplanation:
    """Why ``agent`` gets what they get from ``items`` at ``now`` (at most ``limit``
    passed-over items are listed)."""
    refusal = agent_exclusion(agent, now)
    if refusal is not None:
        return PullExplanation(agent.agent_id, None, refusal, ())
    today = _utc_date(now)
    passed: list[tuple[QueuedItem, Exclusion]] = []
    for item in sort_items(items):
        reason = qualification_exclusion(agent.profile, item.needs, today)
        if reason is None:
            return PullExplanation(agent.agent_id, item, None, tuple(passed))
        if len(passed) < limit:
            passed.append((item, reason))
    return PullExplanation(agent.agent_id, None, None, tuple(passed))


# --- pull: the router -------------------------------------------------------------------------


class _Agent:
    """The router's mutable record of one agent, with its cached answers."""

    __slots__ = (
        "agent_id",
        "calendar",
        "capacity",
        "eligible",
        "eligible_checked",
        "eligible_day",
        "idle_since",
        "load",
        "presence",
        "profile",
        "shift_from",
        "shift_on",
        "shift_until",
    )

    def __init__(self, agent: RoutingAgent) -> None:
        self.agent_id = agent.agent_id
        self.profile = agent.profile
        self.calendar = agent.calendar
        self.presence = Presence(agent.presence)
        self.load = agent.profile.load
        self.capacity = agent.profile.capacity
        self.idle_since: float | None = (
            None if agent.idle_since is None else agent.idle_since.timestamp()
        )
        # indices of the requirement sets whose item rules the agent meets, among the
        # first ``eligible_checked`` sets, for one UTC day
        self.eligible: list[int] = []
        self.eligible_checked = 0
        self.eligible_day = -1
        # the shift answer holds for timestamps in [shift_from, shift_until)
        self.shift_on = False
        self.shift_from = math.inf
        self.shift_until = -math.inf

    def snapshot(self) -> RoutingAgent:
        return RoutingAgent(
            profile=replace(self.profile, load=self.load),
            calendar=self.calendar,
            presence=self.presence,
            idle_since=(
                None if self.idle_since is None else dt.datetime.fromtimestamp(self.idle_since, UTC)
            ),
        )


class _RequirementSet:
    """Queued items with equal needs: a heap in routing order (removals are lazy)."""

    __slots__ = ("head", "heap", "index", "key", "needs", "qualified", "qualified_stamp", "size")

    def __init__(self, index: int, key: NeedsKey, needs: ItemNeeds) -> None:
        self.index = index
        self.key = key
        self.needs = needs
        self.heap: list[OrderKey] = []
        self.size = 0
        self.head: OrderKey | None = None
        # agents who meet the item rules, for push; valid for (day, agents version)
        self.qualified: list[_Agent] = []
        self.qualified_stamp: tuple[int, int] = (-1, -1)


class Router:
    """The queue and the agents, answering "what next for this agent" and "who for this item".

    Items are grouped by requirement set; each group is a heap in routing order
    whose top is the group's head. Which groups an agent meets the item rules of is
    worked out once per UTC day (and for groups that appear later), their shift
    answer until their calendar next changes. So :meth:`next_item` checks the
    agent's moment once and takes the best head among the agent's groups — one
    comparison per requirement set at most, never one per queued item.

    Claims made elsewhere are told to the router with :meth:`remove_item`, load
    changes with :meth:`set_load` or :meth:`finish`, presence with
    :meth:`set_presence`, a changed agent record with :meth:`set_agent`.
    """

    def __init__(
        self,
        agents: Iterable[RoutingAgent] = (),
        items: Iterable[QueuedItem] = (),
        *,
        strategy: Strategy = Strategy.LONGEST_IDLE,
    ) -> None:
        self.strategy = strategy
        self._agents: dict[int, _Agent] = {}
        self._agents_version = 0
        self._items: dict[int, tuple[QueuedItem, _RequirementSet, OrderKey]] = {}
        self._sets: dict[NeedsKey, _RequirementSet] = {}
        self._set_list: list[_RequirementSet] = []
        # the head of every requirement set by index (_EMPTY when it has no items)
        self._heads: list[OrderKey] = []
        self._last_handler: dict[str, int] = {}
        for agent in agents:
            self.set_agent(agent)
        self.add_items(items)

    # --- agents

    def set_agent(self, agent: RoutingAgent) -> None:
        """Add an agent, or replace their record (skills, calendar, load, …) and cached answers."""
        self._agents[agent.agent_id] = _Agent(agent)
        self._agents_version += 1

    def remove_agent(self, agent_id: int) -> None:
        """Forget an agent (left the desk); unknown ids are an error."""
        self._agent(agent_id)
        del self._agents[agent_id]
        self._agents_version += 1

    def agent(self, agent_id: int) -> RoutingAgent:
        """The agent as the router knows them now (current load, presence, idle time)."""
        return self._agent(agent_id).snapshot()

    def agents(self) -> list[RoutingAgent]:
        """Every agent as the router knows them now."""
        return [agent.snapshot() for agent in self._agents.values()]

    def set_presence(self, agent_id: int, presence: Presence) -> None:
        """The agent is now available, on a break or offline."""
        self._agent(agent_id).presence = Presence(presence)

    def set_load(self, agent_id: int, load: int) -> None:
        """The agent now holds ``load`` items (claims and completions made elsewhere)."""
        if load < 0:
            raise ValueError(f"load cannot be negative, got {load}")
        self._agent(agent_id).load = load

    def finish(self, agent_id: int, now: dt.datetime) -> None:
        """The agent finished (or handed over) one item at ``now``: one more free slot."""
        agent = self._agent(agent_id)
        if agent.load == 0:
            raise ValueError(f"agent {agent_id} holds no item to finish")
        agent.load -= 1
        agent.idle_since = _timestamp(now)

    def record_handled(self, case_key: str, agent_id: int) -> None:
        """Remember that ``agent_id`` last handled ``case_key`` (for the continuity strategy)."""
        if case_key:
            self._last_handler[case_key] = agent_id

    def last_handler(self, case_key: str) -> int | None:
        """The agent who last handled ``case_key`` through this router, if any."""
        return self._last_handler.get(case_key)

    def _agent(self, agent_id: int) -> _Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise KeyError(f"agent {agent_id} is not known to the router") from None

    # --- items

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    @property
    def requirement_set_count(self) -> int:
        """How many distinct requirement sets have items queued."""
        return sum(head is not _EMPTY for head in self._heads)

    def item(self, item_id: int) -> QueuedItem:
        """The queued item with ``item_id``."""
        try:
            return self._items[item_id][0]
        except KeyError:
            raise KeyError(f"item {item_id} is not queued") from None

    def items(self) -> list[QueuedItem]:
        """Every queued item, in routing order."""
        return sort_items(entry[0] for entry in self._items.values())

    def add_item(self, item: QueuedItem) -> None:
        """Queue ``item``; an id already queued is an error (use :meth:`update_item`)."""
        if item.item_id in self._items:
            raise ValueError(f"item {item.item_id} is already queued")
        group = self._group(item.needs)
        key = order_key(item)
        heapq.heappush(group.heap, key)
        group.size += 1
        self._items[item.item_id] = (item, group, key)
        if group.head is None or key < group.head:
            self._move_head(group, key)

    def add_items(self, items: Iterable[QueuedItem]) -> None:
        """Queue many items at once (faster than one by one for a large queue)."""
        touched: dict[int, _RequirementSet] = {}
        for item in items:
            if item.item_id in self._items:
                raise ValueError(f"item {item.item_id} is already queued")
            group = self._group(item.needs)
            key = order_key(item)
            group.heap.append(key)
            group.size += 1
            self._items[item.item_id] = (item, group, key)
            touched[group.index] = group
        for group in touched.values():
            heapq.heapify(group.heap)
            self._settle_head(group)

    def remove_item(self, item_id: int) -> QueuedItem | None:
        """Take ``item_id`` out of the queue (claimed elsewhere, cancelled); ``None`` if absent."""
        entry = self._items.pop(item_id, None)
        if entry is None:
            return None
        item, group, key = entry
        group.size -= 1
        if key == group.head:
            self._settle_head(group)
        elif len(group.heap) > 2 * group.size + 64:
            self._compact(group)
        return item

    def update_item(self, item: QueuedItem) -> None:
        """Replace a queued item (e.g. needs widened by escalation, priority changed)."""
        self.remove_item(item.item_id)
        self.add_item(item)

    def _group(self, needs: ItemNeeds) -> _RequirementSet:
        key = needs_key(needs)
        group = self._sets.get(key)
        if group is None:
            group = _RequirementSet(len(self._set_list), key, needs)
            self._sets[key] = group
            self._set_list.append(group)
            self._heads.append(_EMPTY)
        return group

    def _valid(self, group: _RequirementSet, key: OrderKey) -> bool:
        entry = self._items.get(key[4])
        return entry is not None and entry[1] is group and entry[2] == key

    def _settle_head(self, group: _RequirementSet) -> None:
        """Drop removed items from the top of the heap and re-place the group in order."""
        heap = group.heap
        while heap and not self._valid(group, heap[0]):
            heapq.heappop(heap)
        self._move_head(group, heap[0] if heap else None)

    def _move_head(self, group: _RequirementSet, head: OrderKey | None) -> None:
        group.head = head
        self._heads[group.index] = _EMPTY if head is None else head

    def _compact(self, group: _RequirementSet) -> None:
        """Rebuild a heap that carries more removed entries than live ones."""
        live = {key for key in group.heap if self._valid(group, key)}
        group.heap = list(live)
        heapq.heapify(group.heap)

    # --- decisions

    def _on_shift(self, agent: _Agent, now: dt.datetime, timestamp: float) -> bool:
        if not agent.shift_from <= timestamp < agent.shift_until:
            status = agent.calendar.status(now)
            agent.shift_on = status.on_shift
            agent.shift_from = timestamp
            agent.shift_until = (
                status.until.timestamp()
                if status.until is not None
                else timestamp + _SHIFT_RECHECK_SECONDS
            )
        return agent.shift_on

    def _can_take_work(self, agent: _Agent, now: dt.datetime, timestamp: float) -> bool:
        return (
            agent.load < agent.capacity
            and agent.presence is Presence.AVAILABLE
            and self._on_shift(agent, now, timestamp)
        )

    def _eligible_sets(self, agent: _Agent, timestamp: float) -> list[int]:
        """The requirement sets whose item rules ``agent`` meets on the day of ``timestamp``."""
        day = _day(timestamp)
        if agent.eligible_day != day:
            agent.eligible = []
            agent.eligible_checked = 0
            agent.eligible_day = day
        groups = self._set_list
        if agent.eligible_checked < len(groups):
            today = _date_of_day(day)
            profile = agent.profile
            agent.eligible.extend(
                group.index
                for group in groups[agent.eligible_checked :]
                if meets_needs(profile, group.needs, today)
            )
            agent.eligible_checked = len(groups)
        return agent.eligible

    def _best_head(self, agent: _Agent, now: dt.datetime, timestamp: float) -> OrderKey | None:
        """The routing key of the best item ``agent`` may take, or ``None``."""
        if not self._can_take_work(agent, now, timestamp):
            return None
        eligible = self._eligible_sets(agent, timestamp)
        if not eligible:
            return None
        # One head per requirement set the agent meets; min() over them runs in C.
        best = min(map(self._heads.__getitem__, eligible))
        return None if best is _EMPTY else best

    def next_item(self, agent_id: int, now: dt.datetime) -> QueuedItem | None:
        """The item ``agent_id`` would get at ``now`` ("Get next"), without taking it."""
        best = self._best_head(self._agent(agent_id), now, _timestamp(now))
        return None if best is None else self._items[best[4]][0]

    def take_next(self, agent_id: int, now: dt.datetime) -> QueuedItem | None:
        """Give ``agent_id`` their next item at ``now``: out of the queue, onto their load."""
        agent = self._agent(agent_id)
        timestamp = _timestamp(now)
        best = self._best_head(agent, now, timestamp)
        if best is None:
            return None
        item = self.remove_item(best[4])
        assert item is not None  # a head is always a queued item
        self._record_assignment(agent, item, timestamp)
        return item

    def _record_assignment(self, agent: _Agent, item: QueuedItem, timestamp: float) -> None:
        agent.load += 1
        agent.idle_since = timestamp
        if item.case_key:
            self._last_handler[item.case_key] = agent.agent_id

    def _qualified(self, group: _RequirementSet, timestamp: float) -> list[_Agent]:
        stamp = (_day(timestamp), self._agents_version)
        if group.qualified_stamp != stamp:
            today = _date_of_day(stamp[0])
            group.qualified = [
                agent
                for agent in self._agents.values()
                if meets_needs(agent.profile, group.needs, today)
            ]
            group.qualified_stamp = stamp
        return group.qualified

    def choose_agent(
        self, item: QueuedItem, now: dt.datetime, *, strategy: Strategy | None = None
    ) -> int | None:
        """The agent the strategy (the router's by default) picks for ``item`` at ``now``."""
        strategy = self.strategy if strategy is None else strategy
        timestamp = _timestamp(now)
        group = self._group(item.needs)
        candidates = [
            agent
            for agent in self._qualified(group, timestamp)
            if self._can_take_work(agent, now, timestamp)
        ]
        if not candidates:
            return None
        if strategy == Strategy.CONTINUITY and item.case_key:
            previous = self._last_handler.get(item.case_key)
            for agent in candidates:
                if agent.agent_id == previous:
                    return previous
        best = min(
            candidates,
            key=lambda agent: _agent_rank(
                strategy,
                item.needs,
                agent.agent_id,
                agent.load,
                agent.capacity,
                agent.profile.skills,
                agent.idle_since,
            ),
        )
        return best.agent_id

    def push(
        self, item: QueuedItem, now: dt.datetime, *, strategy: Strategy | None = None
    ) -> int | None:
        """An item arrives: assign it to the chosen agent, or queue it if nobody may take it.

        Returns the agent's id, or ``None`` when the item was queued.
        """
        if item.item_id in self._items:
            raise ValueError(f"item {item.item_id} is already queued")
        agent_id = self.choose_agent(item, now, strategy=strategy)
        if agent_id is None:
            self.add_item(item)
            return None
        self._record_assignment(self._agents[agent_id], item, _timestamp(now))
        return agent_id

    def explain_item(self, item_id: int, now: dt.datetime) -> ItemExplanation:
        """For a queued item: who may take it now, and for each other agent the rule against."""
        return explain(self.item(item_id), self.agents(), now)

    def explain_next(self, agent_id: int, now: dt.datetime, *, limit: int = 10) -> PullExplanation:
        """Why ``agent_id`` gets what they get at ``now``.

        Passed-over items are the best item of each requirement set ordered ahead of
        the agent's item (the rest of a set fails for the same reason).
        """
        snapshot = self.agent(agent_id)
        refusal = agent_exclusion(snapshot, now)
        if refusal is not None:
            return PullExplanation(agent_id, None, refusal, ())
        today = _utc_date(now)
        passed: list[tuple[QueuedItem, Exclusion]] = []
        ordered = sorted((h, i) for i, h in enumerate(self._heads) if h is not _EMPTY)
        for head, index in ordered:
            item = self._items[head[4]][0]
            reason = qualification_exclusion(snapshot.profile, self._set_list[index].needs, today)
            if reason is None:
                return PullExplanation(agent_id, item, None, tuple(passed))
            if len(passed) < limit:
                passed.append((item, reason))
        return PullExplanation(agent_id, None, None, tuple(passed))


# --- batch: a whole wave at once ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaveCost:
    """How a wave assignment is priced; the optimizer and the greedy baseline share it.

    An agent works the items of a wave one after another: the item in an agent's
    slot ``k`` (0 first) is done ``(k + 1) × h`` minutes from now, where ``h`` is
    the item's ``effort_minutes`` divided by ``1 + speedup_per_level × s`` and
    ``s`` the agent's mean proficiency above the item's minimums. Lateness is how
    far past ``due_at`` that is (0 without a due time); an item left for the next
    wave (no eligible slot was free) is done ``defer_minutes + effort_minutes``
    from now.

    The figure compared is the total lateness weighted by ``1 + priority``. The
    cost of a plan is that plus ``completion_weight`` × the weighted completion
    time, so that when nobody would be late it still prefers earlier slots and
    faster agents.
    """

    defer_minutes: float = 15.0
    speedup_per_level: float = 0.25
    completion_weight: float = 0.001

    def __post_init__(self) -> None:
        if self.defer_minutes < 0 or self.speedup_per_level < 0 or self.completion_weight < 0:
            raise ValueError("wave cost parameters cannot be negative")


@dataclass(frozen=True, slots=True)
class WavePlan:
    """A wave's assignments: ``(item_id, agent_id)`` pairs in routing order, the items
    left for the next wave, and the plan's weighted lateness (minutes) and objective."""

    method: str
    assignments: tuple[tuple[int, int], ...]
    deferred: tuple[int, ...]
    weighted_lateness: float
    objective: float

    def agent_for(self, item_id: int) -> int | None:
        """The agent ``item_id`` was assigned to, or ``None`` if it was deferred."""
        for assigned, agent_id in self.assignments:
            if assigned == item_id:
                return agent_id
        return None


@dataclass(slots=True)
class _Wave:
    """A wave prepared for pricing: items in routing order, agents with free slots."""

    items: list[QueuedItem]
    agents: list[RoutingAgent]
    free: list[int]
    handle: FloatArray  # minutes for item i by agent a (inf: not eligible)
    slack: FloatArray  # minutes until due (inf: no due time)
    weight: FloatArray
    defer_completion: FloatArray
    cost: WaveCost

    def price(self, item: int, agent: int, slot: int) -> tuple[float, float]:
        """(weighted lateness, objective) of ``item`` in ``slot`` of ``agent``."""
        done = (slot + 1) * float(self.handle[item, agent])
        return self._priced(item, done)

    def price_deferred(self, item: int) -> tuple[float, float]:
        return self._priced(item, float(self.defer_completion[item]))

    def _priced(self, item: int, done: float) -> tuple[float, float]:
        weight = float(self.weight[item])
        lateness = weight * max(0.0, done - float(self.slack[item]))
        return lateness, lateness + self.cost.completion_weight * weight * done


def _prepare_wave(
    items: Iterable[QueuedItem], agents: Iterable[RoutingAgent], now: dt.datetime, cost: WaveCost
) -> _Wave:
    import numpy as np

    timestamp = _timestamp(now)
    today = _utc_date(now)
    ordered = sort_items(items)
    if len({item.item_id for item in ordered}) != len(ordered):
        raise ValueError("a wave cannot hold the same item twice")
    pool = list(agents)
    if len({agent.agent_id for agent in pool}) != len(pool):
        raise ValueError("a wave cannot list the same agent twice")
    # Only agents who can take work now get slots; ties go to the longest idle.
    ready = sorted(
        (agent for agent in pool if agent_exclusion(agent, now) is None),
        key=lambda agent: (
            _idle_rank(None if agent.idle_since is None else agent.idle_since.timestamp()),
            agent.agent_id,
        ),
    )
    free = [agent.profile.capacity - agent.profile.load for agent in ready]

    groups: dict[NeedsKey, int] = {}
    group_of: list[int] = []
    group_needs: list[ItemNeeds] = []
    for item in ordered:
        key = needs_key(item.needs)
        if key not in groups:
            groups[key] = len(group_needs)
            group_needs.append(item.needs)
        group_of.append(groups[key])
    # speed factor per (requirement set, agent): 0 where the agent may not work the set
    speed = np.zeros((len(group_needs), len(ready)))
    for g, needs in enumerate(group_needs):
        for a, agent in enumerate(ready):
            if meets_needs(agent.profile, needs, today):
                surplus = (
                    sum(agent.profile.skills.get(s, 0) - m for s, m in needs.skills.items())
                    / len(needs.skills)
                    if needs.skills
                    else 0.0
                )
                speed[g, a] = 1.0 + cost.speedup_per_level * surplus
    effort = np.array([item.effort_minutes for item in ordered], dtype=np.float64)
    with np.errstate(divide="ignore"):
        handle = effort[:, None] / speed[np.array(group_of, dtype=np.intp)].reshape(
            len(ordered), len(ready)
        )
    slack_minutes = np.array(
        [
            math.inf if item.due_at is None else (item.due_at.timestamp() - timestamp) / 60.0
            for item in ordered
        ],
        dtype=np.float64,
    )
    weight = np.array([1.0 + max(item.priority, 0) for item in ordered], dtype=np.float64)
    return _Wave(
        items=ordered,
        agents=ready,
        free=free,
        handle=handle,
        slack=slack_minutes,
        weight=weight,
        defer_completion=cost.defer_minutes + effort,
        cost=cost,
    )


def _plan(method: str, wave: _Wave, slots: dict[int, tuple[int, int]]) -> WavePlan:
    """A plan from ``slots``: item index -> (agent index, slot)."""
    lateness = objective = 0.0
    assignments: list[tuple[int, int]] = []
    deferred: list[int] = []
    for i, item in enumerate(wave.items):
        if i in slots:
            agent, slot = slots[i]
            late, cost = wave.price(i, agent, slot)
            assignments.append((item.item_id, wave.agents[agent].agent_id))
        else:
            late, cost = wave.price_deferred(i)
            deferred.append(item.item_id)
        lateness += late
        objective += cost
    return WavePlan(method, tuple(assignments), tuple(deferred), lateness, objective)


def assign_wave(
    items: Iterable[QueuedItem],
    agents: Iterable[RoutingAgent],
    now: dt.datetime,
    *,
    cost: WaveCost = WaveCost(),
) -> WavePlan:
    """Assign a wave of items to agents at minimum total cost (see :class:`WaveCost`).

    Each agent who can take work at ``now`` offers one column per free slot
    (capacity minus load), so no agent ends above capacity; a pair an eligibility
    rule forbids is never made. Like a router that never leaves an eligible agent
    idle, the plan makes as many assignments as possible, and among those it finds
    the cheapest, the items left over paying for the wait. Solved exactly with
    SciPy's ``linear_sum_assignment``.
    """
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    wave = _prepare_wave(items, agents, now, cost)
    n = len(wave.items)
    slot_agent = np.array(
        [a for a, free in enumerate(wave.free) for _ in range(free)], dtype=np.intp
    )
    slot_rank = np.array([k for free in wave.free for k in range(free)], dtype=np.float64)
    if n == 0:
        return _plan("optimal", wave, {})
    done = wave.handle[:, slot_agent] * (slot_rank + 1.0)[None, :]
    with np.errstate(invalid="ignore"):
        late = np.maximum(0.0, done - wave.slack[:, None])
    priced = wave.weight[:, None] * (late + cost.completion_weight * done)
    deferred = wave.weight * (
        np.maximum(0.0, wave.defer_completion - wave.slack)
        + cost.completion_weight * wave.defer_completion
    )
    # Price each slot against waiting for the next wave. A bonus larger than any
    # difference in cost makes every assignment worth more than any saving, so the
    # solver first assigns as many items as it can; the extra zero columns let any
    # item wait, so the problem is always feasible.
    feasible = np.isfinite(done)
    relative = np.where(feasible, priced - deferred[:, None], np.inf)
    bonus = (float(np.abs(relative[feasible]).max()) + 1.0) * (n + 1) if feasible.any() else 0.0
    matrix = np.hstack([relative - bonus, np.zeros((n, n))])
    rows, cols = linear_sum_assignment(matrix)
    slots: dict[int, tuple[int, int]] = {}
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        if col < len(slot_agent):
            slots[int(row)] = (int(slot_agent[col]), int(slot_rank[col]))
    return _plan("optimal", wave, _packed(slots))


def _packed(slots: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Number each agent's slots 0, 1, … in the order the solver filled them.

    With a positive completion weight the solver already fills an agent's earliest
    slots; this keeps the plan exact when it is zero and slots tie.
    """
    by_agent: dict[int, list[tuple[int, int]]] = {}
    for item, (agent, slot) in slots.items():
        by_agent.setdefault(agent, []).append((slot, item))
    packed: dict[int, tuple[int, int]] = {}
    for agent, taken in by_agent.items():
        for rank, (_slot, item) in enumerate(sorted(taken)):
            packed[item] = (agent, rank)
    return packed


def assign_wave_greedy(
    items: Iterable[QueuedItem],
    agents: Iterable[RoutingAgent],
    now: dt.datetime,
    *,
    cost: WaveCost = WaveCost(),
) -> WavePlan:
    """The one-at-a-time baseline: items in routing order, each to the eligible agent
    whose next free slot costs least (ties to the longest idle); an item with no
    eligible free slot waits for the next wave. Priced like :func:`assign_wave`."""
    import numpy as np

    wave = _prepare_wave(items, agents, now, cost)
    used = np.zeros(len(wave.agents), dtype=np.float64)
    free = np.array(wave.free, dtype=np.float64)
    slots: dict[int, tuple[int, int]] = {}
    for i in range(len(wave.items)):
        open_slots = used < free
        done = wave.handle[i] * (used + 1.0)
        with np.errstate(invalid="ignore"):
            late = np.maximum(0.0, done - wave.slack[i])
        priced = wave.weight[i] * (late + cost.completion_weight * done)
        priced = np.where(open_slots & np.isfinite(done), priced, np.inf)
        if priced.size == 0:
            continue
        best = int(np.argmin(priced))
        if math.isfinite(float(priced[best])):
            slots[i] = (best, int(used[best]))
            used[best] += 1
    return _plan("greedy", wave, slots)


# --- escalation ladder ------------------------------------------------------------------------


class Relaxation(StrEnum):
    """What one step of an escalation ladder does to an item that has waited."""

    LOWER_PROFICIENCY = "lower-proficiency"
    OTHER_SITES = "other-sites"
    ALERT_LEAD = "alert-lead"


@dataclass(frozen=True, slots=True)
class LadderStep:
    """After an item has waited ``after``, apply ``relaxations``."""

    after: dt.timedelta
    relaxations: frozenset[Relaxation]

    def __post_init__(self) -> None:
        if self.after < dt.timedelta(0):
            raise ValueError(f"a ladder step cannot come before queueing: {self.after}")
        if not self.relaxations:
            raise ValueError("a ladder step must relax something or alert the lead")

    def describe(self) -> str:
        """The step in words, for the item's timeline."""
        words = {
            Relaxation.LOWER_PROFICIENCY: "proficiency lowered by one level",
            Relaxation.OTHER_SITES: "opened to every allowed site",
            Relaxation.ALERT_LEAD: "operations lead alerted",
        }
        minutes = int(self.after.total_seconds() // 60)
        done = "; ".join(words[r] for r in Relaxation if r in self.relaxations)
        return f"not taken within {minutes} min: {done}"


@dataclass(frozen=True, slots=True)
class EscalationLadder:
    """An engagement's escalation ladder: steps in the order they are reached."""

    steps: tuple[LadderStep, ...] = ()

    def __post_init__(self) -> None:
        for earlier, later in zip(self.steps, self.steps[1:], strict=False):
            if later.after <= earlier.after:
                raise ValueError("ladder steps must come in strictly increasing order of time")

    @classmethod
    def standard(
        cls,
        *,
        widen_after_minutes: float | None,
        alert_after_minutes: float | None,
        lower_proficiency: bool = True,
        other_sites: bool = True,
    ) -> EscalationLadder:
        """The usual ladder: widen after T1 minutes, alert the lead after T2."""
        steps: list[LadderStep] = []
        widen = {
            relaxation
            for relaxation, wanted in (
                (Relaxation.LOWER_PROFICIENCY, lower_proficiency),
                (Relaxation.OTHER_SITES, other_sites),
            )
            if wanted
        }
        if widen_after_minutes is not None and widen:
            steps.append(LadderStep(dt.timedelta(minutes=widen_after_minutes), frozenset(widen)))
        if alert_after_minutes is not None:
            alert = LadderStep(
                dt.timedelta(minutes=alert_after_minutes), frozenset({Relaxation.ALERT_LEAD})
            )
            if steps and steps[0].after == alert.after:
                steps[0] = LadderStep(alert.after, steps[0].relaxations | alert.relaxations)
            else:
                steps.append(alert)
        steps.sort(key=lambda step: step.after)
        return cls(tuple(steps))


@dataclass(frozen=True, slots=True)
class EscalationState:
    """How far up its ladder an item is: the steps reached and what they add up to."""

    level: int
    reached: tuple[LadderStep, ...]
    proficiency_drop: int
    other_sites: bool
    alert_lead: bool
    next_step_at: dt.datetime | None

    def steps_after(self, recorded_level: int) -> tuple[LadderStep, ...]:
        """The steps reached beyond ``recorded_level``: the ones not yet on the timeline."""
        return self.reached[max(recorded_level, 0) :]


def escalation_state(
    ladder: EscalationLadder, waiting_since: dt.datetime, now: dt.datetime
) -> EscalationState:
    """Which steps of ``ladder`` apply to an item queued since ``waiting_since`` at ``now``.

    Every lower-proficiency step reached lowers the minimums by one more level.
    """
    waited = dt.timedelta(seconds=_timestamp(now) - _timestamp(waiting_since, "waiting_since"))
    reached = tuple(step for step in ladder.steps if step.after <= waited)
    upcoming = [step for step in ladder.steps if step.after > waited]
    return EscalationState(
        level=len(reached),
        reached=reached,
        proficiency_drop=sum(Relaxation.LOWER_PROFICIENCY in s.relaxations for s in reached),
        other_sites=any(Relaxation.OTHER_SITES in s.relaxations for s in reached),
        alert_lead=any(Relaxation.ALERT_LEAD in s.relaxations for s in reached),
        next_step_at=waiting_since + upcoming[0].after if upcoming else None,
    )


def widened_needs(needs: ItemNeeds, state: EscalationState) -> ItemNeeds:
    """``needs`` with the state's relaxations applied.

    Skill minimums drop by ``proficiency_drop`` but never below 1 (the skill is
    still needed); other sites opens the item to every site, within the countries
    the engagement allows. Certification, language, clearance, residency and
    dedicated agents are never relaxed.
    """
    widened = needs
    if state.proficiency_drop:
        skills = {s: max(1, m - state.proficiency_drop) for s, m in needs.skills.items()}
        widened = replace(widened, skills=skills)
    if state.other_sites and needs.sites:
        widened = replace(widened, sites=frozenset())
    return widened


# --- handoff at shift end ---------------------------------------------------------------------

#: How far past the outgoing shift's end the next shift is looked for.
HANDOFF_HORIZON = dt.timedelta(hours=24)
#: A shift with less than this left when the handoff arrives is passed over for the next one.
HANDOFF_MIN_SHIFT_LEFT = dt.timedelta(minutes=60)
_PRESENCE_RANK = {Presence.AVAILABLE: 0, Presence.ON_BREAK: 1, Presence.OFFLINE: 2}
# A calendar answers at most this many changes for one question (a week of shifts is ~30).
_MAX_CHANGES = 200


def available_from(
    calendar: ShiftCalendar,
    after: dt.datetime,
    *,
    min_left: dt.timedelta = HANDOFF_MIN_SHIFT_LEFT,
    horizon: dt.timedelta = HANDOFF_HORIZON,
) -> dt.datetime | None:
    """When an agent on ``calendar`` can take up work handed over at ``after``.

    ``after`` itself when they are on shift then with at least ``min_left`` of it
    to run; otherwise the start of their next shift that runs at least
    ``min_left``; ``None`` when no such shift starts within ``horizon`` of
    ``after``. A shift that runs past the calendar's look-ahead counts as long.
    """
    _timestamp(after, "after")
    last = after + horizon
    moment = after
    for _ in range(_MAX_CHANGES):
        status = calendar.status(moment)
        if status.on_shift:
            if status.until is None or status.until - moment >= min_left:
                return moment
            moment = status.until
        elif status.next_start is None or status.next_start > last:
            return None
        else:
            moment = status.next_start
        if moment > last:
            return None
    return None  # pragma: no cover - a week holds far fewer changes


def shift_ended_between(
    calendar: ShiftCalendar, start: dt.datetime, end: dt.datetime
) -> dt.datetime | None:
    """The first moment in ``(start, end]`` at which a shift of ``calendar`` ends, or ``None``.

    "Did this agent's shift end while they held the item?": ``start`` is when
    they got it, ``end`` the latest end that counts (now minus a grace period).
    """
    _timestamp(start, "start")
    _timestamp(end, "end")
    moment = start
    for _ in range(_MAX_CHANGES):
        if moment >= end:
            return None
        status = calendar.status(moment)
        if status.until is None:
            return None
        if status.on_shift and status.until <= end:
            return status.until
        if status.on_shift:
            return None
        moment = status.until
    return None  # pragma: no cover - a week holds far fewer changes


@dataclass(frozen=True, slots=True)
class NextShiftPick:
    """An agent of the next shift who may take a handed-off item, and from when."""

    agent: RoutingAgent
    available_from: dt.datetime


def rank_next_shift(
    needs: ItemNeeds,
    agents: Iterable[RoutingAgent],
    shift_ends: dt.datetime,
    *,
    exclude: frozenset[int] = frozenset(),
    strategy: Strategy = Strategy.LEAST_LOADED,
    min_left: dt.timedelta = HANDOFF_MIN_SHIFT_LEFT,
    horizon: dt.timedelta = HANDOFF_HORIZON,
) -> tuple[NextShiftPick, ...]:
    """The agents who may take over an item whose holder leaves at ``shift_ends``, best first.

    An agent qualifies when they pass every rule about the item (skills,
    certification valid on the UTC day they take over, language, clearance,
    residency, dedicated agents; not the ladder's first sites: a handoff goes to
    any site) and about themselves except the moment's shift and presence —
    they have room under their capacity, and they are on shift at
    ``shift_ends`` or their next shift starts within ``horizon`` of it
    (:func:`available_from`). Agents in ``exclude`` (the outgoing one) never qualify.

    Order: soonest available first; then available before on a break before
    offline (among those already on shift, whoever said they are at their desk);
    then ``strategy`` (least loaded by default), then the longest idle, then id.
    """
    handover = needs if not needs.sites else replace(needs, sites=frozenset())
    ranked: list[tuple[tuple[float, int, float, float, int], NextShiftPick]] = []
    for agent in agents:
        if agent.agent_id in exclude or capacity_exclusion(agent.profile) is not None:
            continue
        start = available_from(agent.calendar, shift_ends, min_left=min_left, horizon=horizon)
        if start is None:
            continue
        if qualification_exclusion(agent.profile, handover, _utc_date(start)) is not None:
            continue
        rank = _agent_rank(
            strategy,
            handover,
            agent.agent_id,
            agent.profile.load,
            agent.profile.capacity,
            agent.profile.skills,
            None if agent.idle_since is None else agent.idle_since.timestamp(),
        )
        key = (start.timestamp(), _PRESENCE_RANK[Presence(agent.presence)], *rank)
        ranked.append((key, NextShiftPick(agent, start)))
    ranked.sort(key=lambda pair: pair[0])
    return tuple(pick for _, pick in ranked)
