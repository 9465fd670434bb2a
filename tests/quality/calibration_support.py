"""Helpers for calibration tests: finished items to calibrate, a session, and rows of each
client for the row-security tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.quality.calibration_actions import do_open_calibration
from relaydesk.quality.models import (
    CalibrationItem,
    CalibrationParticipant,
    CalibrationScore,
    CalibrationSession,
    ScorecardVersion,
)
from relaydesk.work.models import WorkItem
from tests.conftest import World
from tests.quality.support import PASSING, item_in_review, publish_scorecard, review_everything


def items_to_calibrate(
    world: World, count: int = 2, engagement: Engagement | None = None, *, agent: User | None = None
) -> list[WorkItem]:
    """``count`` items of the engagement (client A's by default), worked by the agent and
    waiting for review, with a data-entry scorecard published."""
    engagement = engagement or world.engagement_a
    if not ScorecardVersion.objects.filter(scorecard__name="Data entry QA").exists():
        publish_scorecard(world)
    review_everything(world, engagement)
    return [
        item_in_review(world, engagement, agent=agent, title=f"Claim batch {n}")
        for n in range(1, count + 1)
    ]


def open_session(
    world: World,
    items: Sequence[WorkItem],
    reviewers: Sequence[User] | None = None,
    *,
    tolerance: float = 5,
    title: str = "Claim forms, March",
) -> CalibrationSession:
    """A session run by the world's lead, with the QA reviewer and the attorney invited."""
    reviewers = reviewers if reviewers is not None else [world.qa, world.attorney]
    return do_open_calibration(
        world.lead,
        items[0].engagement,
        title=title,
        item_ids=[item.pk for item in items],
        reviewer_ids=[reviewer.pk for reviewer in reviewers],
        tolerance=tolerance,
    )


def calibration_rows(world: World, items: Iterable[WorkItem]) -> None:
    """For the row-security tests: a session on each item's engagement holding the item, an
    invited reviewer and a benchmark score (rows as the actions make them; the items need
    not be finished for the wall to be checked)."""
    version = ScorecardVersion.objects.filter(scorecard__name="Row security QA").first()
    assert version is not None, "quality_rows publishes the scorecard first"
    for item in items:
        session = CalibrationSession.objects.create(
            client_id=item.client_id,
            engagement=item.engagement,
            scorecard_version=version,
            title=f"Calibration of {item.reference}",
            created_by=world.lead,
        )
        CalibrationItem.objects.create(client_id=item.client_id, session=session, item=item)
        CalibrationParticipant.objects.create(
            client_id=item.client_id, session=session, reviewer=world.qa
        )
        CalibrationScore.objects.create(
            client_id=item.client_id,
            session=session,
            item=item,
            scorer=world.lead,
            answers=PASSING,
            score=Decimal("100.00"),
            passed=True,
            is_benchmark=True,
        )
