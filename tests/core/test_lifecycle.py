"""The work-item state machine as the people who use it meet it.

Given an item in some state and someone acting on it, when they take an action,
then the item moves to the expected state or the refusal says why, in words
written for that person.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.core.lifecycle import (
    Action,
    ActorFacts,
    IllegalTransition,
    ItemFacts,
    LifecycleError,
    NotPermitted,
    ReviewPolicy,
    State,
    allowed_actions,
    decide,
    sampled_for_qa,
)
from relaydesk.core.roles import CLIENT_ROLES, PROVIDER_ROLES, REVIEWER_ROLES, Role

# --- the cast -------------------------------------------------------------------------------

SYSTEM = ActorFacts(role=None)
ADMIN = ActorFacts(role=Role.PROVIDER_ADMIN)
LEAD = ActorFacts(role=Role.OPS_LEAD)
OWNER = ActorFacts(role=Role.AGENT, is_owner=True, did_the_work=True)
OTHER_AGENT = ActorFacts(role=Role.AGENT)
QA = ActorFacts(role=Role.QA_REVIEWER)
ATTORNEY = ActorFacts(role=Role.SUPERVISING_ATTORNEY)
ANALYST = ActorFacts(role=Role.SENIOR_ANALYST)
CLIENT_ADMIN = ActorFacts(role=Role.CLIENT_ADMIN)
CLIENT = ActorFacts(role=Role.CLIENT_MEMBER)

# --- the specification, written out by hand (not read from the module) -----------------------

LEADS = frozenset({Role.PROVIDER_ADMIN, Role.OPS_LEAD})
REVIEWERS = frozenset({Role.QA_REVIEWER, Role.SUPERVISING_ATTORNEY, Role.SENIOR_ANALYST})
CLIENTS = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_MEMBER})

SOURCES: dict[Action, frozenset[State]] = {
    Action.QUEUE: frozenset({State.NEW}),
    Action.ASSIGN: frozenset({State.QUEUED, State.ASSIGNED, State.IN_PROGRESS, State.REWORK}),
    Action.TAKE: frozenset({State.QUEUED}),
    Action.RELEASE: frozenset({State.ASSIGNED}),
    Action.START: frozenset({State.ASSIGNED, State.REWORK}),
    Action.WAIT_ON_CLIENT: frozenset({State.IN_PROGRESS}),
    Action.RESUME: frozenset({State.WAITING_ON_CLIENT}),
    Action.COMPLETE: frozenset({State.IN_PROGRESS}),
    Action.APPROVE: frozenset({State.IN_REVIEW}),
    Action.RETURN_FOR_REWORK: frozenset({State.IN_REVIEW}),
    Action.REQUEST_REWORK: frozenset({State.DELIVERED}),
    Action.ACCEPT: frozenset({State.DELIVERED}),
    Action.CANCEL: frozenset(
        {
            State.NEW,
            State.QUEUED,
            State.ASSIGNED,
            State.IN_PROGRESS,
            State.WAITING_ON_CLIENT,
            State.REWORK,
        }
    ),
}

# Where each action leads (COMPLETE: for a service without review).
TARGET: dict[Action, State] = {
    Action.QUEUE: State.QUEUED,
    Action.ASSIGN: State.ASSIGNED,
    Action.TAKE: State.ASSIGNED,
    Action.RELEASE: State.QUEUED,
    Action.START: State.IN_PROGRESS,
    Action.WAIT_ON_CLIENT: State.WAITING_ON_CLIENT,
    Action.RESUME: State.IN_PROGRESS,
    Action.COMPLETE: State.DELIVERED,
    Action.APPROVE: State.DELIVERED,
    Action.RETURN_FOR_REWORK: State.REWORK,
    Action.REQUEST_REWORK: State.REWORK,
    Action.ACCEPT: State.ACCEPTED,
    Action.CANCEL: State.CANCELLED,
}

ROLES: dict[Action, frozenset[Role]] = {
    Action.QUEUE: LEADS,
    Action.ASSIGN: LEADS,
    Action.TAKE: frozenset({Role.AGENT}),
    Action.RELEASE: LEADS | {Role.AGENT},
    Action.START: frozenset({Role.AGENT}),
    Action.WAIT_ON_CLIENT: frozenset({Role.AGENT}),
    Action.RESUME: LEADS | {Role.AGENT} | CLIENTS,
    Action.COMPLETE: frozenset({Role.AGENT}),
    Action.APPROVE: REVIEWERS,
    Action.RETURN_FOR_REWORK: REVIEWERS,
    Action.REQUEST_REWORK: CLIENTS,
    Action.ACCEPT: CLIENTS,
    Action.CANCEL: LEADS | CLIENTS,
}

SYSTEM_MAY = frozenset({Action.QUEUE, Action.ASSIGN, Action.RELEASE})

# Someone whose role and relation to the item fit the action, so that only the state matters.
FIT_ACTOR: dict[Action, ActorFacts] = {
    Action.QUEUE: LEAD,
    Action.ASSIGN: LEAD,
    Action.TAKE: OTHER_AGENT,
    Action.RELEASE: OWNER,
    Action.START: OWNER,
    Action.WAIT_ON_CLIENT: OWNER,
    Action.RESUME: OWNER,
    Action.COMPLETE: OWNER,
    Action.APPROVE: QA,
    Action.RETURN_FOR_REWORK: QA,
    Action.REQUEST_REWORK: CLIENT,
    Action.ACCEPT: CLIENT,
    Action.CANCEL: LEAD,
}

ALL_PAIRS = [(action, state) for action in Action for state in State]
ILLEGAL_PAIRS = [(a, s) for a, s in ALL_PAIRS if s not in SOURCES[a]]
LEGAL_PAIRS = [(a, s) for a, s in ALL_PAIRS if s in SOURCES[a]]
ROLE_REFUSALS = [(a, r) for a in Action for r in Role if r not in ROLES[a]]


def item(
    state: State,
    *,
    review_policy: ReviewPolicy = ReviewPolicy.NONE,
    review_role: Role | None = None,
    sampled: bool = False,
) -> ItemFacts:
    """An item in ``state``; by default its service has no review."""
    return ItemFacts(
        state=state, review_policy=review_policy, review_role=review_role, sampled=sampled
    )


def refusal(action: Action, actor: ActorFacts, it: ItemFacts) -> LifecycleError:
    """The error ``decide`` raises; fails the test if it lets the action through."""
    with pytest.raises(LifecycleError) as caught:
        decide(action, actor, it)
    return caught.value


# --- the happy path -------------------------------------------------------------------------


def test_an_attorney_reviewed_item_travels_from_intake_to_acceptance() -> None:
    """Given an LPO item with mandatory attorney review, when everyone plays their part
    (including a wait on the client and one round of rework), then the client accepts it."""

    def lpo(state: State) -> ItemFacts:
        return item(
            state, review_policy=ReviewPolicy.MANDATORY, review_role=Role.SUPERVISING_ATTORNEY
        )

    steps = [
        (Action.QUEUE, SYSTEM, State.QUEUED),
        (Action.ASSIGN, LEAD, State.ASSIGNED),
        (Action.START, OWNER, State.IN_PROGRESS),
        (Action.WAIT_ON_CLIENT, OWNER, State.WAITING_ON_CLIENT),
        (Action.RESUME, CLIENT, State.IN_PROGRESS),
        (Action.COMPLETE, OWNER, State.IN_REVIEW),
        (Action.RETURN_FOR_REWORK, ATTORNEY, State.REWORK),
        (Action.START, OWNER, State.IN_PROGRESS),
        (Action.COMPLETE, OWNER, State.IN_REVIEW),
        (Action.APPROVE, ATTORNEY, State.DELIVERED),
        (Action.ACCEPT, CLIENT, State.ACCEPTED),
    ]
    state = State.NEW
    visited = [state]
    for action, actor, expected in steps:
        state = decide(action, actor, lpo(state))
        assert state is expected, f"{action} by {actor.role}"
        visited.append(state)
    assert visited[-1].is_open is False
    assert allowed_actions(CLIENT, lpo(state)) == []


def test_an_agent_takes_from_the_queue_and_a_client_asks_for_rework_after_delivery() -> None:
    """Given a queued BPO item without review, when an agent takes it, works it and delivers,
    then the client may ask for rework, and the reworked item is delivered again."""
    state = decide(Action.TAKE, OTHER_AGENT, item(State.QUEUED))
    assert state is State.ASSIGNED
    for action, expected in [
        (Action.START, State.IN_PROGRESS),
        (Action.COMPLETE, State.DELIVERED),
    ]:
        state = decide(action, OWNER, item(state))
        assert state is expected
    state = decide(Action.REQUEST_REWORK, CLIENT_ADMIN, item(state))
    assert state is State.REWORK
    state = decide(Action.START, OWNER, item(state))
    assert decide(Action.COMPLETE, OWNER, item(state)) is State.DELIVERED


# --- where completed work goes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "sampled", "expected"),
    [
        (ReviewPolicy.MANDATORY, False, State.IN_REVIEW),
        (ReviewPolicy.MANDATORY, True, State.IN_REVIEW),
        (ReviewPolicy.SAMPLED, True, State.IN_REVIEW),
        (ReviewPolicy.SAMPLED, False, State.DELIVERED),
        (ReviewPolicy.NONE, False, State.DELIVERED),
        (ReviewPolicy.NONE, True, State.DELIVERED),
    ],
)
def test_completed_work_goes_to_review_only_when_the_service_asks_for_it(
    policy: ReviewPolicy, sampled: bool, expected: State
) -> None:
    """Given an item in progress under a review policy, when its owner completes it,
    then it lands in review (mandatory, or sampled and picked) or is delivered."""
    it = item(State.IN_PROGRESS, review_policy=policy, sampled=sampled)
    assert it.needs_review is (expected is State.IN_REVIEW)
    assert decide(Action.COMPLETE, OWNER, it) is expected


# --- the transition table -------------------------------------------------------------------


@pytest.mark.parametrize(("action", "state"), LEGAL_PAIRS)
def test_every_listed_transition_goes_where_the_table_says(action: Action, state: State) -> None:
    """Given a suitable actor, when the action is listed for the state, then it applies."""
    assert decide(action, FIT_ACTOR[action], item(state)) is TARGET[action]


@pytest.mark.parametrize(("action", "state"), ILLEGAL_PAIRS)
def test_every_unlisted_transition_is_refused_naming_the_state(
    action: Action, state: State
) -> None:
    """Given a suitable actor, when the action does not apply to the state, then the refusal
    is an illegal transition that tells which state the item is in."""
    error = refusal(action, FIT_ACTOR[action], item(state))
    assert isinstance(error, IllegalTransition)
    assert error.message == f"Cannot {action.label.lower()}: the item is {state.label.lower()}."


def test_an_illegal_transition_reads_naturally() -> None:
    error = refusal(Action.START, OWNER, item(State.WAITING_ON_CLIENT))
    assert error.message == "Cannot start work: the item is waiting on client."


# --- who may act ----------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "role"), ROLE_REFUSALS)
def test_a_role_outside_the_rule_is_refused_naming_the_role(action: Action, role: Role) -> None:
    """Given an item where the action would otherwise apply, when someone whose role does not
    allow it tries, then they are told their role and which roles may."""
    state = min(SOURCES[action])  # any state the action applies to
    actor = ActorFacts(role=role, is_owner=True)
    error = refusal(action, actor, item(state))
    assert isinstance(error, NotPermitted)
    assert f"not allowed for your role ({role.label})" in error.message
    for allowed in ROLES[action]:
        assert allowed.label in error.message


def test_a_role_refusal_lists_the_roles_that_may() -> None:
    error = refusal(Action.ACCEPT, LEAD, item(State.DELIVERED))
    assert error.message == (
        "Accept is not allowed for your role (Operations lead); it needs: "
        "Client admin, Client member."
    )


def test_the_role_is_checked_before_the_state() -> None:
    """Given a delivered item, when an agent tries to approve it, then the refusal is about
    the role (403), not about the state, so nothing about the item is given away."""
    error = refusal(Action.APPROVE, OWNER, item(State.DELIVERED))
    assert isinstance(error, NotPermitted)


@pytest.mark.parametrize("action", sorted(SYSTEM_MAY))
def test_the_system_may_queue_assign_and_release(action: Action) -> None:
    state = min(SOURCES[action])
    assert decide(action, SYSTEM, item(state)) is TARGET[action]


@pytest.mark.parametrize("action", [a for a in Action if a not in SYSTEM_MAY])
def test_the_system_may_not_do_what_a_person_must(action: Action) -> None:
    """Given any item, when the system (no person) tries a person's action, then it is refused."""
    error = refusal(action, SYSTEM, item(min(SOURCES[action])))
    assert isinstance(error, NotPermitted)
    assert error.message == f"{action.label} must be done by a person."


def test_the_system_may_not_start_work() -> None:
    error = refusal(Action.START, SYSTEM, item(State.ASSIGNED))
    assert error.message == "Start work must be done by a person."
    assert SYSTEM.is_system and not LEAD.is_system


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (Action.START, State.ASSIGNED),
        (Action.START, State.REWORK),
        (Action.WAIT_ON_CLIENT, State.IN_PROGRESS),
        (Action.RESUME, State.WAITING_ON_CLIENT),
        (Action.COMPLETE, State.IN_PROGRESS),
        (Action.RELEASE, State.ASSIGNED),
    ],
)
def test_an_agent_who_does_not_own_the_item_cannot_work_it(action: Action, state: State) -> None:
    """Given an item assigned to someone else, when another agent tries to work it,
    then only the owner may."""
    error = refusal(action, OTHER_AGENT, item(state))
    assert isinstance(error, NotPermitted)
    assert error.message == "Only the agent the item is assigned to can do that."
    assert decide(action, OWNER, item(state)) is TARGET[action]


@pytest.mark.parametrize(
    ("action", "actor", "state"),
    [
        (Action.RELEASE, LEAD, State.ASSIGNED),
        (Action.RELEASE, ADMIN, State.ASSIGNED),
        (Action.RESUME, LEAD, State.WAITING_ON_CLIENT),
        (Action.RESUME, CLIENT, State.WAITING_ON_CLIENT),
    ],
)
def test_ownership_binds_agents_only(action: Action, actor: ActorFacts, state: State) -> None:
    """Given an item someone else owns, when a lead or the client acts, then no ownership
    is needed."""
    assert not actor.is_owner
    assert decide(action, actor, item(state)) is TARGET[action]


@pytest.mark.parametrize("action", [Action.APPROVE, Action.RETURN_FOR_REWORK])
@pytest.mark.parametrize(
    "reviewer", [Role.QA_REVIEWER, Role.SUPERVISING_ATTORNEY, Role.SENIOR_ANALYST]
)
def test_no_one_reviews_their_own_work(action: Action, reviewer: Role) -> None:
    """Given an item in review, when the right reviewer also worked on it, then they may not
    review it."""
    it = item(State.IN_REVIEW, review_role=reviewer)
    error = refusal(action, ActorFacts(role=reviewer, did_the_work=True), it)
    assert isinstance(error, NotPermitted)
    assert error.message == "You worked on this item, so someone else must review it."
    assert decide(action, ActorFacts(role=reviewer), it) is TARGET[action]


@pytest.mark.parametrize("action", [Action.APPROVE, Action.RETURN_FOR_REWORK])
def test_attorney_review_cannot_be_done_by_a_qa_reviewer(action: Action) -> None:
    """Given an item whose service wants attorney review, when a QA reviewer acts,
    then they are told a supervising attorney must."""
    it = item(State.IN_REVIEW, review_role=Role.SUPERVISING_ATTORNEY)
    error = refusal(action, QA, it)
    assert isinstance(error, NotPermitted)
    assert error.message == "This item's review must be done by a supervising attorney."


@pytest.mark.parametrize("action", [Action.APPROVE, Action.RETURN_FOR_REWORK])
def test_expert_review_is_done_by_a_senior_analyst_and_not_a_qa_reviewer(action: Action) -> None:
    """Given a KPO item whose service wants a senior analyst's review, when a QA reviewer
    or an attorney acts, then they are told a senior analyst must; a senior analyst may."""
    it = item(
        State.IN_REVIEW, review_policy=ReviewPolicy.MANDATORY, review_role=Role.SENIOR_ANALYST
    )
    for other in (QA, ATTORNEY):
        error = refusal(action, other, it)
        assert isinstance(error, NotPermitted)
        assert error.message == "This item's review must be done by a senior analyst."
    assert decide(action, ANALYST, it) is TARGET[action]


@pytest.mark.parametrize("action", [Action.APPROVE, Action.RETURN_FOR_REWORK])
def test_a_senior_analyst_does_not_review_what_falls_to_other_reviewers(action: Action) -> None:
    """Given items reviewed by a QA reviewer or by an attorney, when a senior analyst acts,
    then they are told who must."""
    error = refusal(action, ANALYST, item(State.IN_REVIEW))
    assert error.message == "This item's review must be done by a QA reviewer."
    error = refusal(action, ANALYST, item(State.IN_REVIEW, review_role=Role.SUPERVISING_ATTORNEY))
    assert error.message == "This item's review must be done by a supervising attorney."


@pytest.mark.parametrize("action", [Action.APPROVE, Action.RETURN_FOR_REWORK])
def test_without_a_review_role_the_review_falls_to_qa(action: Action) -> None:
    """Given an item with no review role, when an attorney acts, then they are told that a
    QA reviewer must (and a QA reviewer may)."""
    it = item(State.IN_REVIEW, review_role=None)
    error = refusal(action, ATTORNEY, it)
    assert isinstance(error, NotPermitted)
    assert "must be done by a qa reviewer" in error.message.lower()
    assert decide(action, QA, it) is TARGET[action]


def test_the_reviewer_role_is_named_as_people_write_it() -> None:
    error = refusal(Action.APPROVE, ATTORNEY, item(State.IN_REVIEW))
    assert error.message == "This item's review must be done by a QA reviewer."
    error = refusal(
        Action.APPROVE, QA, item(State.IN_REVIEW, review_role=Role.SUPERVISING_ATTORNEY)
    )
    assert error.message == "This item's review must be done by a supervising attorney."
    assert Role.OPS_LEAD.noun == "an operations lead"
    assert Role.SENIOR_ANALYST.noun == "a senior analyst"


@pytest.mark.parametrize("client", [CLIENT, CLIENT_ADMIN])
@pytest.mark.parametrize("state", [State.NEW, State.QUEUED])
def test_a_client_may_cancel_before_work_starts(client: ActorFacts, state: State) -> None:
    assert decide(Action.CANCEL, client, item(state)) is State.CANCELLED


@pytest.mark.parametrize("client", [CLIENT, CLIENT_ADMIN])
@pytest.mark.parametrize(
    "state", [State.ASSIGNED, State.IN_PROGRESS, State.WAITING_ON_CLIENT, State.REWORK]
)
def test_a_client_must_ask_operations_once_work_has_started(
    client: ActorFacts, state: State
) -> None:
    """Given an item being worked, when the client cancels, then they are pointed to the
    operations team, who can cancel it."""
    error = refusal(Action.CANCEL, client, item(state))
    assert isinstance(error, NotPermitted)
    assert error.message == (
        "The item is already with an agent; ask the operations team to cancel it."
    )
    assert decide(Action.CANCEL, LEAD, item(state)) is State.CANCELLED
    assert decide(Action.CANCEL, ADMIN, item(state)) is State.CANCELLED


@pytest.mark.parametrize("state", [State.IN_REVIEW, State.DELIVERED, State.ACCEPTED])
def test_no_one_cancels_reviewed_delivered_or_closed_work(state: State) -> None:
    for actor in (CLIENT, LEAD, ADMIN):
        assert isinstance(refusal(Action.CANCEL, actor, item(state)), IllegalTransition)


# --- what the screen offers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "it", "expected"),
    [
        pytest.param(SYSTEM, item(State.NEW), [Action.QUEUE], id="system-new"),
        pytest.param(
            SYSTEM, item(State.ASSIGNED), [Action.ASSIGN, Action.RELEASE], id="system-assigned"
        ),
        pytest.param(LEAD, item(State.NEW), [Action.QUEUE, Action.CANCEL], id="lead-new"),
        pytest.param(LEAD, item(State.QUEUED), [Action.ASSIGN, Action.CANCEL], id="lead-queued"),
        pytest.param(
            LEAD,
            item(State.ASSIGNED),
            [Action.ASSIGN, Action.RELEASE, Action.CANCEL],
            id="lead-assigned",
        ),
        pytest.param(
            LEAD,
            item(State.WAITING_ON_CLIENT),
            [Action.RESUME, Action.CANCEL],
            id="lead-waiting",
        ),
        pytest.param(OTHER_AGENT, item(State.QUEUED), [Action.TAKE], id="agent-queue"),
        pytest.param(OTHER_AGENT, item(State.ASSIGNED), [], id="agent-someone-elses"),
        pytest.param(
            OWNER, item(State.ASSIGNED), [Action.RELEASE, Action.START], id="owner-assigned"
        ),
        pytest.param(
            OWNER,
            item(State.IN_PROGRESS),
            [Action.WAIT_ON_CLIENT, Action.COMPLETE],
            id="owner-working",
        ),
        pytest.param(OWNER, item(State.REWORK), [Action.START], id="owner-rework"),
        pytest.param(
            QA,
            item(State.IN_REVIEW),
            [Action.APPROVE, Action.RETURN_FOR_REWORK],
            id="qa-in-review",
        ),
        pytest.param(
            ATTORNEY,
            item(State.IN_REVIEW, review_role=Role.SUPERVISING_ATTORNEY),
            [Action.APPROVE, Action.RETURN_FOR_REWORK],
            id="attorney-own-review",
        ),
        pytest.param(ATTORNEY, item(State.IN_REVIEW), [], id="attorney-qa-review"),
        pytest.param(
            ANALYST,
            item(State.IN_REVIEW, review_role=Role.SENIOR_ANALYST),
            [Action.APPROVE, Action.RETURN_FOR_REWORK],
            id="analyst-own-review",
        ),
        pytest.param(
            QA, item(State.IN_REVIEW, review_role=Role.SENIOR_ANALYST), [], id="qa-analyst-review"
        ),
        pytest.param(CLIENT, item(State.NEW), [Action.CANCEL], id="client-new"),
        pytest.param(CLIENT, item(State.WAITING_ON_CLIENT), [Action.RESUME], id="client-waiting"),
        pytest.param(
            CLIENT,
            item(State.DELIVERED),
            [Action.REQUEST_REWORK, Action.ACCEPT],
            id="client-delivered",
        ),
        pytest.param(CLIENT, item(State.IN_PROGRESS), [], id="client-in-progress"),
    ],
)
def test_the_offered_actions_are_exactly_the_legal_ones(
    actor: ActorFacts, it: ItemFacts, expected: list[Action]
) -> None:
    assert allowed_actions(actor, it) == expected


@pytest.mark.parametrize("state", [State.ACCEPTED, State.CANCELLED])
def test_a_closed_item_offers_nothing_to_anyone(state: State) -> None:
    everyone = (SYSTEM, ADMIN, LEAD, OWNER, OTHER_AGENT, QA, ATTORNEY, ANALYST, CLIENT_ADMIN)
    for actor in (*everyone, CLIENT):
        assert allowed_actions(actor, item(state)) == []


def test_the_offered_actions_keep_the_order_they_were_asked_in() -> None:
    asked = [Action.CANCEL, Action.TAKE, Action.ASSIGN, Action.QUEUE]
    assert allowed_actions(LEAD, item(State.QUEUED), asked) == [Action.CANCEL, Action.ASSIGN]


# --- words on screen ------------------------------------------------------------------------


def test_states_read_as_sentences() -> None:
    assert State.NEW.label == "New"
    assert State.IN_PROGRESS.label == "In progress"
    assert State.WAITING_ON_CLIENT.label == "Waiting on client"
    assert State.IN_REVIEW.label == "In review"


def test_only_accepted_and_cancelled_items_are_closed() -> None:
    closed = {s for s in State if not s.is_open}
    assert closed == {State.ACCEPTED, State.CANCELLED}


def test_every_action_has_a_button_label() -> None:
    assert {a: a.label for a in Action} == {
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


def test_every_role_has_a_name_and_a_side() -> None:
    assert {r: r.label for r in Role} == {
        Role.PROVIDER_ADMIN: "Provider admin",
        Role.OPS_LEAD: "Operations lead",
        Role.AGENT: "Agent",
        Role.QA_REVIEWER: "QA reviewer",
        Role.SUPERVISING_ATTORNEY: "Supervising attorney",
        Role.SENIOR_ANALYST: "Senior analyst",
        Role.CLIENT_ADMIN: "Client admin",
        Role.CLIENT_MEMBER: "Client member",
    }
    assert {r for r in Role if r.is_client} == CLIENTS == CLIENT_ROLES
    assert {r for r in Role if not r.is_client} == PROVIDER_ROLES
    assert REVIEWER_ROLES == REVIEWERS


def test_a_refusal_carries_its_message() -> None:
    error = LifecycleError("Not now.")
    assert error.message == "Not now." == str(error)
    assert issubclass(IllegalTransition, LifecycleError)
    assert issubclass(NotPermitted, LifecycleError)


# --- properties -----------------------------------------------------------------------------

actors = st.builds(
    ActorFacts,
    role=st.none() | st.sampled_from(Role),
    is_owner=st.booleans(),
    did_the_work=st.booleans(),
)
items = st.builds(
    ItemFacts,
    state=st.sampled_from(State),
    review_policy=st.sampled_from(ReviewPolicy),
    review_role=st.none() | st.sampled_from(sorted(REVIEWERS)),
    sampled=st.booleans(),
)


@settings(max_examples=300)
@given(start=items, moves=st.lists(st.tuples(st.sampled_from(Action), actors), max_size=30))
def test_decide_answers_a_state_or_a_reason_and_agrees_with_the_offer(
    start: ItemFacts, moves: list[tuple[Action, ActorFacts]]
) -> None:
    """Given any item, when anyone tries any sequence of actions, then each attempt either
    yields a state the action was offered for, or a lifecycle refusal it was not offered for."""
    it = start
    for action, actor in moves:
        offered = action in allowed_actions(actor, it)
        try:
            target = decide(action, actor, it)
        except LifecycleError as error:
            assert type(error) in (IllegalTransition, NotPermitted)
            assert error.message
            assert not offered
            continue
        assert isinstance(target, State)
        assert offered
        assert it.state.is_open, "a closed item must not move"
        it = replace(it, state=target)


@given(key=st.text(), rate=st.integers(min_value=-50, max_value=150))
def test_sampling_is_a_pure_function_of_key_and_rate(key: str, rate: int) -> None:
    first = sampled_for_qa(key, rate)
    assert sampled_for_qa(key, rate) is first
    if rate <= 0:
        assert first is False
    if rate >= 100:
        assert first is True


@given(key=st.text(), low=st.integers(0, 100), high=st.integers(0, 100))
def test_a_key_sampled_at_a_rate_is_sampled_at_every_higher_rate(
    key: str, low: int, high: int
) -> None:
    low, high = min(low, high), max(low, high)
    if sampled_for_qa(key, low):
        assert sampled_for_qa(key, high)


def test_sampling_hits_the_rate_over_many_items() -> None:
    """Given 10,000 items and a 20 % sample, then about a fifth go to QA."""
    keys = [f"WI-{n:05d}" for n in range(10_000)]
    share = sum(sampled_for_qa(k, 20) for k in keys) / len(keys)
    assert 0.17 <= share <= 0.23
    assert not any(sampled_for_qa(k, 0) for k in keys[:100])
    assert all(sampled_for_qa(k, 100) for k in keys[:100])
