"""The work-item state machine, defined once.

Every lifecycle change in Relaydesk goes through :func:`decide`, which answers
either the state the item moves to or the reason it may not move. The Django
side (``relaydesk.work.actions``) supplies plain facts about the actor and the
item; nothing here touches a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from relaydesk.core.permissions import Permission, roles_with
from relaydesk.core.roles import CLIENT_ROLES, Role

__all__ = [
    "Action",
    "ActorFacts",
    "IllegalTransition",
    "ItemFacts",
    "LifecycleError",
    "NotPermitted",
    "ReviewPolicy",
    "State",
    "allowed_actions",
    "decide",
    "sampled_for_qa",
]


class State(StrEnum):
    """Where a work item stands."""

    NEW = "new"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CLIENT = "waiting_on_client"
    IN_REVIEW = "in_review"
    REWORK = "rework"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The state as a person reads it."""
        return self.value.replace("_", " ").capitalize()

    @property
    def is_open(self) -> bool:
        """True until the item is accepted or cancelled."""
        return self not in (State.ACCEPTED, State.CANCELLED)


class Action(StrEnum):
    """Something a person (or the system) does to a work item."""

    QUEUE = "queue"
    ASSIGN = "assign"
    TAKE = "take"
    RELEASE = "release"
    START = "start"
    WAIT_ON_CLIENT = "wait_on_client"
    RESUME = "resume"
    COMPLETE = "complete"
    APPROVE = "approve"
    RETURN_FOR_REWORK = "return_for_rework"
    REQUEST_REWORK = "request_rework"
    ACCEPT = "accept"
    CANCEL = "cancel"

    @property
    def label(self) -> str:
        """The button text for this action."""
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.QUEUE: "Queue",
    Action.ASSIGN: "Assign",
    Action.TAKE: "Take",
    Action.RELEASE: "Release to queue",
    Action.START: "Start work",
    Action.WAIT_ON_CLIENT: "Wait on client",
    Action.RESUME: "Resume",
    Action.COMPLETE: "Complete",
    Action.APPROVE: "Approve",
    Action.RETURN_FOR_REWORK: "Return for rework",
    Action.REQUEST_REWORK: "Request rework",
    Action.ACCEPT: "Accept",
    Action.CANCEL: "Cancel",
}


class ReviewPolicy(StrEnum):
    """How a service's finished work is checked before delivery."""

    NONE = "none"
    SAMPLED = "sampled"
    MANDATORY = "mandatory"


@dataclass(frozen=True, slots=True)
class ActorFacts:
    """What the lifecycle needs to know about whoever acts.

    ``role`` is ``None`` for the system itself (intake, background jobs).
    ``is_owner`` means the item is currently assigned to this person;
    ``did_the_work`` means this person worked on the item at any time (a
    reviewer must not review such an item).
    """

    role: Role | None
    is_owner: bool = False
    did_the_work: bool = False

    @property
    def is_system(self) -> bool:
        """True when no person acts."""
        return self.role is None


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the lifecycle needs to know about the item."""

    state: State
    review_policy: ReviewPolicy = ReviewPolicy.NONE
    review_role: Role | None = None
    sampled: bool = False

    @property
    def needs_review(self) -> bool:
        """True when completed work must pass review before delivery."""
        if self.review_policy is ReviewPolicy.MANDATORY:
            return True
        return self.review_policy is ReviewPolicy.SAMPLED and self.sampled


class LifecycleError(Exception):
    """A refused lifecycle change; ``message`` is written for the person who tried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IllegalTransition(LifecycleError):
    """The action does not apply to the item's current state (HTTP 409)."""


class NotPermitted(LifecycleError):
    """The actor may not take this action on this item (HTTP 403)."""


_OPEN_BEFORE_WORK = frozenset({State.NEW, State.QUEUED})
_OPEN_DURING_WORK = frozenset(
    {State.ASSIGNED, State.IN_PROGRESS, State.WAITING_ON_CLIENT, State.REWORK}
)


@dataclass(frozen=True, slots=True)
class _Rule:
    sources: frozenset[State]
    target: State | None  # None: decided by the item (review or delivery)
    permissions: frozenset[Permission]  # any one of them will do
    system: bool = False

    @property
    def roles(self) -> frozenset[Role]:
        return roles_with(*self.permissions)


def _rule(
    sources: Iterable[State], target: State | None, *permissions: Permission, system: bool = False
) -> _Rule:
    return _Rule(frozenset(sources), target, frozenset(permissions), system)


_P = Permission
_RULES: dict[Action, _Rule] = {
    Action.QUEUE: _rule({State.NEW}, State.QUEUED, _P.TRIAGE_WORK, system=True),
    Action.ASSIGN: _rule(
        {State.QUEUED, State.ASSIGNED, State.IN_PROGRESS, State.REWORK},
        State.ASSIGNED,
        _P.ASSIGN_WORK,
        system=True,
    ),
    Action.TAKE: _rule({State.QUEUED}, State.ASSIGNED, _P.DO_WORK),
    Action.RELEASE: _rule({State.ASSIGNED}, State.QUEUED, _P.ASSIGN_WORK, _P.DO_WORK, system=True),
    Action.START: _rule({State.ASSIGNED, State.REWORK}, State.IN_PROGRESS, _P.DO_WORK),
    Action.WAIT_ON_CLIENT: _rule({State.IN_PROGRESS}, State.WAITING_ON_CLIENT, _P.DO_WORK),
    Action.RESUME: _rule(
        {State.WAITING_ON_CLIENT},
        State.IN_PROGRESS,
        _P.ASSIGN_WORK,
        _P.DO_WORK,
        _P.RESPOND_AS_CLIENT,
    ),
    Action.COMPLETE: _rule({State.IN_PROGRESS}, None, _P.DO_WORK),
    Action.APPROVE: _rule({State.IN_REVIEW}, State.DELIVERED, _P.REVIEW_WORK),
    Action.RETURN_FOR_REWORK: _rule({State.IN_REVIEW}, State.REWORK, _P.REVIEW_WORK),
    Action.REQUEST_REWORK: _rule({State.DELIVERED}, State.REWORK, _P.ACCEPT_DELIVERY),
    Action.ACCEPT: _rule({State.DELIVERED}, State.ACCEPTED, _P.ACCEPT_DELIVERY),
    Action.CANCEL: _rule(_OPEN_BEFORE_WORK | _OPEN_DURING_WORK, State.CANCELLED, _P.CANCEL_WORK),
}

_OWNER_ONLY = frozenset({Action.START, Action.WAIT_ON_CLIENT, Action.COMPLETE})


def _refuse_by_role(action: Action, actor: ActorFacts, item: ItemFacts) -> str | None:
    rule = _RULES[action]
    if actor.is_system:
        return None if rule.system else f"{action.label} must be done by a person."
    assert actor.role is not None
    if actor.role not in rule.roles:
        who = ", ".join(sorted(role.label for role in rule.roles))
        return f"{action.label} is not allowed for your role ({actor.role.label}); it needs: {who}."
    if action in (Action.APPROVE, Action.RETURN_FOR_REWORK):
        wanted = item.review_role or Role.QA_REVIEWER
        if actor.role is not wanted:
            return f"This item's review must be done by {wanted.noun}."
    return None


def _refuse_by_relation(action: Action, actor: ActorFacts, item: ItemFacts) -> str | None:
    owner_actions = _OWNER_ONLY | {Action.RESUME, Action.RELEASE}
    if actor.role is Role.AGENT and action in owner_actions and not actor.is_owner:
        return "Only the agent the item is assigned to can do that."
    if action in (Action.APPROVE, Action.RETURN_FOR_REWORK) and actor.did_the_work:
        return "You worked on this item, so someone else must review it."
    client_cancels = action is Action.CANCEL and actor.role in CLIENT_ROLES
    if client_cancels and item.state not in _OPEN_BEFORE_WORK:
        return "The item is already with an agent; ask the operations team to cancel it."
    return None


def decide(action: Action, actor: ActorFacts, item: ItemFacts) -> State:
    """Return the state ``action`` moves the item to, or raise why it may not.

    Raises :class:`NotPermitted` when the actor's role or relation to the item
    forbids the action and :class:`IllegalTransition` when the item's state
    does not admit it. A refused action changes nothing.
    """
    refusal = _refuse_by_role(action, actor, item)
    if refusal:
        raise NotPermitted(refusal)
    rule = _RULES[action]
    if item.state not in rule.sources:
        raise IllegalTransition(
            f"Cannot {action.label.lower()}: the item is {item.state.label.lower()}."
        )
    refusal = _refuse_by_relation(action, actor, item)
    if refusal:
        raise NotPermitted(refusal)
    if rule.target is not None:
        return rule.target
    return State.IN_REVIEW if item.needs_review else State.DELIVERED


def allowed_actions(
    actor: ActorFacts, item: ItemFacts, actions: Iterable[Action] = tuple(Action)
) -> list[Action]:
    """The actions ``actor`` may take on the item right now, in display order."""
    permitted = []
    for action in actions:
        try:
            decide(action, actor, item)
        except LifecycleError:
            continue
        permitted.append(action)
    return permitted


def sampled_for_qa(item_key: str, rate_percent: int) -> bool:
    """Decide, deterministically, whether an item falls into a QA sample.

    The same item key and rate always give the same answer, so the decision
    can be explained and replayed.
    """
    if rate_percent <= 0:
        return False
    if rate_percent >= 100:
        return True
    digest = hashlib.sha256(item_key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < rate_percent
