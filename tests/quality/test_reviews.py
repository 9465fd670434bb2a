"""Scoring an item in review: who may, what it does to the item, and what is kept."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import Action
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.quality.actions import do_publish_scorecard_version, do_submit_review
from relaydesk.quality.models import Review, Scorecard
from relaydesk.work.models import WorkItem
from tests.conftest import World, kpo_engagement
from tests.quality.support import (
    CRITERIA,
    LEAKED,
    LOW,
    PASSING,
    item_in_review,
    publish_scorecard,
    review_everything,
)


@pytest.fixture
def in_review(world: World) -> WorkItem:
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    return item_in_review(world)


def _unchanged(item: WorkItem) -> None:
    item.refresh_from_db()
    assert item.state == "in_review"
    assert not Review.objects.filter(item=item).exists()


def test_a_passed_review_delivers_the_item_and_is_kept(world: World, in_review: WorkItem) -> None:
    review = do_submit_review(world.qa, in_review, {**PASSING, "notes": 1})

    in_review.refresh_from_db()
    assert in_review.state == "delivered" and in_review.reviewer == world.qa
    assert (review.score, review.passed, review.auto_failed) == (Decimal("100.00"), True, False)
    assert review.agent == world.agent
    assert review.scorecard_version.version == 1
    assert review.sampled_reason == "sampled at the base rate of 100 %"
    audit = AuditRecord.objects.get(action="quality.review")
    assert audit.detail["score"] == "100.00" and audit.client_id == in_review.client_id


def test_a_critical_criterion_fails_the_review_whatever_the_score(
    world: World, in_review: WorkItem
) -> None:
    review = do_submit_review(world.qa, in_review, LEAKED, "The claimant's SSN is in the notes.")

    assert (review.score, review.passed, review.auto_failed) == (Decimal("0.00"), False, True)
    assert review.failed_criteria == ["privacy"]
    in_review.refresh_from_db()
    assert in_review.state == "rework" and in_review.owner == world.agent


def test_a_failed_review_puts_the_reviewers_comments_on_the_timeline(
    world: World, in_review: WorkItem
) -> None:
    do_submit_review(world.qa, in_review, LOW, "Re-key lines 3 to 9 from the scan.")

    returned = in_review.events.get(kind=Action.RETURN_FOR_REWORK.value)
    assert returned.note == "Re-key lines 3 to 9 from the scan."
    assert returned.to_state == "rework" and returned.actor == world.qa


def test_a_failing_review_needs_comments(world: World, in_review: WorkItem) -> None:
    with pytest.raises(Invalid, match="say in the comments what must be reworked"):
        do_submit_review(world.qa, in_review, LOW, "   ")
    _unchanged(in_review)


def test_a_reviewer_never_reviews_work_they_did(world: World) -> None:
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    # An agent who did the work and was made a QA reviewer afterwards.
    item = item_in_review(world, agent=world.other_agent)
    User.objects.filter(pk=world.other_agent.pk).update(role="qa_reviewer")
    world.other_agent.refresh_from_db()

    with pytest.raises(NotAllowed, match="You worked on this item"):
        do_submit_review(world.other_agent, item, PASSING)
    _unchanged(item)


@pytest.fixture
def kpo_in_review(world: World) -> WorkItem:
    """Finished market research (KPO), waiting for a senior analyst's mandatory review."""
    publish_scorecard(world, "market-research")
    return item_in_review(
        world, kpo_engagement(world), service="market-research", title="EV market sizing"
    )


def test_a_senior_analyst_scores_kpo_work_and_delivers_it(
    world: World, kpo_in_review: WorkItem
) -> None:
    review = do_submit_review(world.analyst, kpo_in_review, PASSING)

    kpo_in_review.refresh_from_db()
    assert kpo_in_review.state == "delivered" and kpo_in_review.reviewer == world.analyst
    assert review.passed and review.reviewer == world.analyst and review.agent == world.agent
    assert review.sampled_reason == "review is mandatory for this service"


@pytest.mark.parametrize("who", ["qa", "attorney"])
def test_other_reviewers_do_not_score_kpo_work(
    world: World, kpo_in_review: WorkItem, who: str
) -> None:
    # Work waiting for a senior analyst is not in their queue at all.
    with pytest.raises(NotFound):
        do_submit_review(getattr(world, who), kpo_in_review, PASSING)
    _unchanged(kpo_in_review)


def test_a_qa_reviewer_who_still_sees_kpo_work_is_told_a_senior_analyst_must_score_it(
    world: World, kpo_in_review: WorkItem
) -> None:
    # The QA reviewer sent this item back once, so it stays on their list.
    WorkItem.objects.filter(pk=kpo_in_review.pk).update(reviewer=world.qa)

    with pytest.raises(NotAllowed, match="must be done by a senior analyst"):
        do_submit_review(world.qa, kpo_in_review, PASSING)
    _unchanged(kpo_in_review)


def test_a_senior_analyst_never_scores_work_they_did(world: World) -> None:
    publish_scorecard(world, "market-research")
    item = item_in_review(world, kpo_engagement(world), service="market-research")
    # The agent who did the work was made a senior analyst afterwards.
    User.objects.filter(pk=world.agent.pk).update(role="senior_analyst")
    world.agent.refresh_from_db()

    with pytest.raises(NotAllowed, match="You worked on this item"):
        do_submit_review(world.agent, item, PASSING)
    _unchanged(item)


@pytest.mark.parametrize("who", ["attorney", "analyst", "agent", "lead"])
def test_only_the_review_role_of_the_service_may_score(
    world: World, in_review: WorkItem, who: str
) -> None:
    with pytest.raises((NotAllowed, NotFound)):
        do_submit_review(getattr(world, who), in_review, PASSING)
    _unchanged(in_review)


def test_an_item_not_in_review_cannot_be_scored(world: World) -> None:
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    item = item_in_review(world)
    do_submit_review(world.qa, item, PASSING)

    with pytest.raises(Conflict, match="the item is delivered"):
        do_submit_review(world.qa, item, PASSING)
    assert Review.objects.filter(item=item).count() == 1


def test_without_a_scorecard_nothing_is_scored(world: World) -> None:
    review_everything(world, world.engagement_a)
    item = item_in_review(world)

    with pytest.raises(Invalid, match="no scorecard for this service"):
        do_submit_review(world.qa, item, PASSING)
    _unchanged(item)


def test_answers_must_fit_the_scorecard(world: World, in_review: WorkItem) -> None:
    with pytest.raises(Invalid, match="has no answer"):
        do_submit_review(world.qa, in_review, {"accuracy": 5})
    with pytest.raises(Invalid, match="is scored 1 to 5"):
        do_submit_review(world.qa, in_review, {"accuracy": 7, "privacy": 1})
    with pytest.raises(Invalid, match="has no criterion 'speed'"):
        do_submit_review(world.qa, in_review, {**PASSING, "speed": 1})
    _unchanged(in_review)


def test_a_scorecard_for_any_service_covers_services_without_their_own(world: World) -> None:
    publish_scorecard(world, service=None)
    review_everything(world, world.engagement_a)
    item = item_in_review(world)

    assert do_submit_review(world.qa, item, PASSING).scorecard_version.scorecard.name == (
        "General QA"
    )


def test_a_new_version_scores_new_reviews_and_the_old_one_stays(world: World) -> None:
    first = publish_scorecard(world)
    review_everything(world, world.engagement_a)
    old = do_submit_review(world.qa, item_in_review(world, title="First"), PASSING)
    stricter = [dict(c) for c in CRITERIA]
    second = do_publish_scorecard_version(world.lead, first.scorecard, stricter, pass_mark=95)

    item = item_in_review(world, title="Second")
    new = do_submit_review(world.qa, item, {"accuracy": 4, "privacy": 1}, "Almost.")

    assert (old.scorecard_version, new.scorecard_version) == (first, second)
    assert second.version == 2 and new.score == Decimal("81.25") and not new.passed
    first.pass_mark = Decimal(10)
    with pytest.raises(ValidationError, match="publish a new version"):
        first.save()


def test_a_scorecard_the_core_refuses_is_not_published(world: World) -> None:
    card = Scorecard.objects.create(name="Broken")
    bad = [{**CRITERIA[0], "bonus": True, "critical": True}]

    with pytest.raises(Invalid, match="cannot also be critical"):
        do_publish_scorecard_version(world.lead, card, bad)
    with pytest.raises(Invalid, match="pass mark must be from 0 to 100"):
        do_publish_scorecard_version(world.lead, card, CRITERIA, pass_mark=120)
    with pytest.raises(NotAllowed):
        do_publish_scorecard_version(world.qa, card, CRITERIA)
    assert not card.versions.exists()


def test_another_clients_item_is_not_found(world: World) -> None:
    publish_scorecard(world)
    review_everything(world, world.engagement_b)
    theirs = item_in_review(world, world.engagement_b)

    with pytest.raises(NotFound):
        do_submit_review(world.client_admin_a, theirs, PASSING)
    _unchanged(theirs)


def test_where_a_scorecard_applies_no_verdict_is_given_without_a_score(
    world: World, in_review: WorkItem
) -> None:
    from relaydesk.work.actions import actions_for, do_transition
    from tests.conftest import login

    # The buttons are gone: the scorecard form is the way to a verdict …
    assert Action.APPROVE not in actions_for(world.qa, in_review)
    assert Action.RETURN_FOR_REWORK not in actions_for(world.qa, in_review)
    page = login(world.qa).get(f"/items/{in_review.pk}/").content.decode()
    assert "Submit review" in page and ">Approve<" not in page
    # … and the lifecycle refuses one given any other way (the API's transitions included).
    with pytest.raises(Invalid, match="fill in the scorecard"):
        do_transition(world.qa, in_review, Action.APPROVE)
    _unchanged(in_review)
