"""Disputing a review: the reviewed agent, once; an operations lead decides."""

from __future__ import annotations

import pytest

from relaydesk.audit.models import AuditRecord
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.quality.actions import (
    do_decide_dispute,
    do_dispute_review,
    do_set_sampling_rule,
    do_submit_review,
)
from relaydesk.quality.models import Review
from tests.conftest import World
from tests.quality.support import LOW, finish, item_in_review, publish_scorecard, review_everything


@pytest.fixture
def failed(world: World) -> Review:
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    return do_submit_review(world.qa, item_in_review(world), LOW, "Re-key lines 3 to 9.")


def test_the_agent_disputes_a_review_once(world: World, failed: Review) -> None:
    dispute = do_dispute_review(world.agent, failed, "Lines 3 to 9 were illegible in the scan.")

    assert dispute.state == "open" and dispute.agent == world.agent
    assert AuditRecord.objects.filter(action="quality.dispute").count() == 1
    with pytest.raises(Conflict, match="each review can be disputed once"):
        do_dispute_review(world.agent, failed, "And again.")


def test_a_dispute_says_why(world: World, failed: Review) -> None:
    with pytest.raises(Invalid, match="Say why"):
        do_dispute_review(world.agent, failed, "  ")


@pytest.mark.parametrize("who", ["other_agent", "member_a"])
def test_nobody_else_sees_the_review_to_dispute_it(world: World, failed: Review, who: str) -> None:
    with pytest.raises(NotFound):
        do_dispute_review(getattr(world, who), failed, "Not mine, but still.")


@pytest.mark.parametrize("who", ["lead", "qa"])
def test_those_who_see_the_review_may_still_not_dispute_it(
    world: World, failed: Review, who: str
) -> None:
    with pytest.raises(NotAllowed, match="Only the agent whose work was reviewed"):
        do_dispute_review(getattr(world, who), failed, "On the agent's behalf.")


def test_a_lead_overturns_a_review_and_it_no_longer_counts_as_failed(
    world: World, failed: Review
) -> None:
    dispute = do_dispute_review(world.agent, failed, "The scan was illegible.")
    # After a counted failure the next item would be sampled at the raised rate of 100 %.
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0, raised_rate=100, raised_for=5)

    decided = do_decide_dispute(world.lead, dispute, False, "The scan was unreadable; not a fault.")

    failed.refresh_from_db()
    assert decided.state == "overturned" and decided.decided_by == world.lead
    assert failed.overturned and not failed.counts_as_failed
    reworked = finish(world, failed.item)
    assert reworked.state == "delivered"
    with pytest.raises(Conflict, match="already decided"):
        do_decide_dispute(world.admin, dispute, True, "Changed my mind.")


def test_upholding_keeps_the_review(world: World, failed: Review) -> None:
    dispute = do_dispute_review(world.agent, failed, "The scan was illegible.")

    do_decide_dispute(world.admin, dispute, True, "Lines 3 to 9 are legible at 200 %.")

    failed.refresh_from_db()
    assert not failed.overturned and failed.counts_as_failed
    assert AuditRecord.objects.get(action="quality.dispute_decide").detail["decision"] == "upheld"


@pytest.mark.parametrize("who", ["agent", "qa"])
def test_only_leads_decide_disputes(world: World, failed: Review, who: str) -> None:
    dispute = do_dispute_review(world.agent, failed, "The scan was illegible.")

    with pytest.raises(NotAllowed, match="Only an operations lead or a provider admin"):
        do_decide_dispute(getattr(world, who), dispute, False, "I agree with myself.")
    dispute.refresh_from_db()
    assert dispute.state == "open"


def test_a_decision_needs_a_note(world: World, failed: Review) -> None:
    dispute = do_dispute_review(world.agent, failed, "The scan was illegible.")

    with pytest.raises(Invalid, match="Say why"):
        do_decide_dispute(world.lead, dispute, True, "")
