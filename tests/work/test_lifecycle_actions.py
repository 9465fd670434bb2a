"""The work-item lifecycle through the real actions: who may do what, and nothing half-applied."""

from __future__ import annotations

import pytest

from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action, State
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.work.actions import (
    NewWorkItem,
    do_add_comment,
    do_assign,
    do_submit_work_item,
    do_transition,
)
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import visible_events, visible_work_items
from tests.conftest import World, kpo_engagement, submit


def _no_review(slug: str = "data-entry") -> None:
    Service.objects.filter(slug=slug).update(review_policy="none")


def test_request_to_acceptance(world: World) -> None:
    """Given a client request, when lead, agent and client act in turn, then it closes accepted."""
    _no_review()
    item = submit(world.member_a, world.engagement_a, title="Key 40 claim forms")
    assert item.state == State.QUEUED
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert item.state == State.DELIVERED and item.delivered_at is not None
    do_transition(world.member_a, item, Action.ACCEPT)
    item.refresh_from_db()
    assert item.state == State.ACCEPTED and item.closed_at is not None
    kinds = list(item.events.values_list("kind", flat=True))
    assert kinds == ["submitted", "queue", "assign", "start", "complete", "accept"]
    states = [e.to_state for e in item.events.all() if e.to_state]
    assert states == ["new", "queued", "assigned", "in_progress", "delivered", "accepted"]
    assert AuditRecord.objects.filter(object_id=str(item.pk), object_type="WorkItem").count() == 6


def test_mandatory_review_goes_to_the_attorney_and_never_to_the_worker(world: World) -> None:
    item = submit(world.member_a, world.engagement_a, "legal-drafting", title="Demand letter")
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert item.state == State.IN_REVIEW
    with pytest.raises(NotFound):  # a QA reviewer does not even see attorney-reviewed work
        do_transition(world.qa, item, Action.APPROVE)
    do_transition(world.attorney, item, Action.RETURN_FOR_REWORK, note="Cite the statute.")
    item.refresh_from_db()
    assert item.state == State.REWORK and item.owner == world.agent
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    do_transition(world.attorney, item, Action.APPROVE)
    item.refresh_from_db()
    assert item.state == State.DELIVERED and item.reviewer == world.attorney
    # The attorney's note is the provider's business: the client sees the work restart.
    client_sees = [e.kind for e in visible_events(world.member_a, item)]
    assert Action.RETURN_FOR_REWORK.value not in client_sees
    assert all("statute" not in e.note for e in visible_events(world.member_a, item))
    lead_sees = visible_events(world.lead, item)
    assert lead_sees.get(kind=Action.RETURN_FOR_REWORK.value).note == "Cite the statute."


def test_kpo_mandatory_review_goes_to_a_senior_analyst_and_not_to_a_qa_reviewer(
    world: World,
) -> None:
    """Given finished market research, when a QA reviewer tries to approve it, then they do
    not even see it; a senior analyst sees it and approves it."""
    item = submit(world.member_a, kpo_engagement(world), "market-research", title="EV sizing")
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert item.state == State.IN_REVIEW
    assert not visible_work_items(world.qa).filter(pk=item.pk).exists()
    assert visible_work_items(world.analyst).filter(pk=item.pk).exists()
    with pytest.raises(NotFound):
        do_transition(world.qa, item, Action.APPROVE)
    do_transition(world.analyst, item, Action.APPROVE)
    item.refresh_from_db()
    assert item.state == State.DELIVERED and item.reviewer == world.analyst


def test_a_qa_reviewer_who_reviewed_kpo_work_before_is_told_a_senior_analyst_must_now(
    world: World,
) -> None:
    """Given market research a QA reviewer sent back while QA reviewers still reviewed KPO
    work, when it is back in review after the service moved to senior analysts, then the QA
    reviewer (who still sees it) is refused and told who must review it."""
    kpo = Service.objects.filter(slug="market-research")
    kpo.update(review_role="qa_reviewer")
    item = submit(world.member_a, kpo_engagement(world), "market-research", title="EV sizing")
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    do_transition(world.qa, item, Action.RETURN_FOR_REWORK, note="Add the 2025 figures.")
    kpo.update(review_role="senior_analyst")
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    item.refresh_from_db()
    assert item.state == State.IN_REVIEW
    with pytest.raises(
        NotAllowed, match=r"^This item's review must be done by a senior analyst\.$"
    ):
        do_transition(world.qa, item, Action.APPROVE)
    item.refresh_from_db()
    assert item.state == State.IN_REVIEW and item.reviewer == world.qa
    do_transition(world.analyst, item, Action.APPROVE)
    item.refresh_from_db()
    assert item.state == State.DELIVERED and item.reviewer == world.analyst


def test_illegal_transition_is_a_conflict_and_changes_nothing(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    events_before = item.events.count()
    with pytest.raises(Conflict, match="queued"):
        do_transition(world.member_a, item, Action.ACCEPT)
    item.refresh_from_db()
    assert item.state == State.QUEUED
    assert item.events.count() == events_before


def test_agent_cannot_start_someone_elses_item(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    with pytest.raises(NotFound):  # not theirs, not queued: invisible to the other agent
        do_transition(world.other_agent, item, Action.START)
    with pytest.raises(NotAllowed, match="role"):
        do_transition(world.member_a, item, Action.START)


def test_client_of_another_firm_cannot_touch_the_item(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    with pytest.raises(NotFound):
        do_transition(world.member_b, item, Action.CANCEL)
    with pytest.raises(NotFound):
        do_add_comment(world.member_b, item, "hello")


def test_client_cannot_submit_to_another_clients_engagement(world: World) -> None:
    with pytest.raises(Invalid, match="no engagement"):
        submit(world.member_b, world.engagement_a)
    assert WorkItem.objects.count() == 0


def test_assignment_respects_certification_for_the_jurisdiction(world: World) -> None:
    item = submit(
        world.member_a,
        world.engagement_pip,
        "document-processing",
        title="PIP bill",
        jurisdiction="US-NY",
    )
    with pytest.raises(Conflict, match="pip-no-fault certification for US-NY"):
        do_assign(world.lead, item, world.agent.agent)
    fl = submit(
        world.member_a,
        world.engagement_pip,
        "document-processing",
        title="PIP bill",
        jurisdiction="US-FL",
    )
    do_assign(world.lead, fl, world.agent.agent)
    with pytest.raises(Conflict, match="certification"):
        do_assign(
            world.lead,
            submit(
                world.member_a, world.engagement_pip, "document-processing", jurisdiction="US-FL"
            ),
            world.other_agent.agent,
        )


def test_jurisdictional_engagement_needs_a_jurisdiction(world: World) -> None:
    with pytest.raises(Invalid, match="tied to a jurisdiction"):
        submit(world.member_a, world.engagement_pip, "document-processing", title="PIP bill")
    assert WorkItem.objects.count() == 0


def test_capacity_is_never_exceeded(world: World) -> None:
    for n in range(3):
        do_assign(
            world.lead,
            submit(world.member_a, world.engagement_a, title=f"Batch {n}"),
            world.agent.agent,
        )
    fourth = submit(world.member_a, world.engagement_a, title="Batch 4")
    with pytest.raises(Conflict, match="3 of 3"):
        do_assign(world.lead, fourth, world.agent.agent)
    fourth.refresh_from_db()
    assert fourth.state == State.QUEUED and fourth.owner is None


def test_agent_takes_a_queued_item_they_are_eligible_for(world: World) -> None:
    item = submit(world.member_b, world.engagement_b, "customer-support", title="Refund")
    do_assign(world.agent, item, world.agent.agent)
    item.refresh_from_db()
    assert item.state == State.ASSIGNED and item.owner == world.agent
    assert item.events.last().kind == "take"  # type: ignore[union-attr]


def test_waiting_on_client_resumes_when_the_client_replies(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    with pytest.raises(Invalid, match="need from the client"):
        do_transition(world.agent, item, Action.WAIT_ON_CLIENT)
    do_transition(world.agent, item, Action.WAIT_ON_CLIENT, note="Page 3 is missing.")
    do_add_comment(world.member_a, item, "Attached page 3.")
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert item.events.last().note == "The client replied."  # type: ignore[union-attr]


def test_client_cancels_only_before_work_starts(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    with pytest.raises(NotAllowed, match="operations team"):
        do_transition(world.member_a, item, Action.CANCEL)
    do_transition(world.lead, item, Action.CANCEL)
    item.refresh_from_db()
    assert item.state == State.CANCELLED


def test_internal_comment_hidden_from_client_and_refused_from_client(world: World) -> None:
    from relaydesk.work.queries import visible_comments

    item = submit(world.member_a, world.engagement_a)
    do_add_comment(world.lead, item, "Client is difficult", visibility="internal")
    do_add_comment(world.lead, item, "We are on it")
    assert [c.body for c in visible_comments(world.member_a, item)] == ["We are on it"]
    with pytest.raises(NotAllowed):
        do_add_comment(world.member_a, item, "sneaky", visibility="internal")


def test_idempotency_key_returns_the_same_item(world: World) -> None:
    request = NewWorkItem(
        engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Key forms"
    )
    first, created = do_submit_work_item(world.member_a, request, idempotency_key="k-1")
    again, created_again = do_submit_work_item(world.member_a, request, idempotency_key="k-1")
    assert created and not created_again and first.pk == again.pk
    assert WorkItem.objects.count() == 1
    different = NewWorkItem(
        engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Other"
    )
    with pytest.raises(Conflict, match="different request"):
        do_submit_work_item(world.member_a, different, idempotency_key="k-1")
