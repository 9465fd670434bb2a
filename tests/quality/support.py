"""Helpers for QA tests: a scorecard, and items driven through the real lifecycle to review."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action
from relaydesk.quality.actions import (
    do_dispute_review,
    do_publish_scorecard_version,
    do_set_sampling_rule,
)
from relaydesk.quality.models import Review, Scorecard, ScorecardVersion
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, submit

# Accuracy (1-5, weight 3), privacy (yes/no, critical) and a bonus for helpful notes.
CRITERIA: list[dict[str, Any]] = [
    {
        "key": "accuracy",
        "label": "Data keyed correctly",
        "weight": 3,
        "scale": "1-5",
        "category": "Accuracy",
    },
    {
        "key": "privacy",
        "label": "No personal data exposed",
        "weight": 1,
        "scale": "binary",
        "critical": True,
        "category": "Compliance",
    },
    {"key": "notes", "label": "Helpful notes", "weight": 1, "scale": "binary", "bonus": True},
]
PASSING = {"accuracy": 5, "privacy": 1}
# 25 on accuracy, 100 on privacy: (3 * 25 + 100) / 4 = 43.75, below the pass mark of 80.
LOW = {"accuracy": 2, "privacy": 1}
# Privacy is critical: a "no" fails the review whatever else was answered.
LEAKED = {"accuracy": 5, "privacy": 0, "notes": 1}


def publish_scorecard(
    world: World, service: str | None = "data-entry", pass_mark: float = 80
) -> ScorecardVersion:
    """An active scorecard for ``service`` (``None``: any service) with :data:`CRITERIA`."""
    card = Scorecard.objects.create(
        name="Data entry QA" if service else "General QA",
        service=Service.objects.get(slug=service) if service else None,
    )
    return do_publish_scorecard_version(world.lead, card, CRITERIA, pass_mark)


def review_everything(world: World, engagement: Engagement) -> None:
    """Every finished item of the engagement goes to QA."""
    do_set_sampling_rule(world.lead, engagement, base_rate=100)


def finish(world: World, item: WorkItem, agent: User | None = None) -> WorkItem:
    """Assign the item (if it is not held already), start it and complete it."""
    agent = agent or world.agent
    item.refresh_from_db()
    if item.owner_id != agent.pk:
        do_assign(world.lead, item, agent.agent)
    do_transition(agent, item, Action.START)
    do_transition(agent, item, Action.COMPLETE)
    item.refresh_from_db()
    return item


def item_in_review(
    world: World,
    engagement: Engagement | None = None,
    *,
    agent: User | None = None,
    title: str = "Key 40 claim forms",
    service: str = "data-entry",
) -> WorkItem:
    """A new item, worked by ``agent`` (the world's agent) and waiting for review."""
    engagement = engagement or world.engagement_a
    if agent is None:
        agent = world.agent if engagement.client_id == world.client_a.pk else world.other_agent
    item = finish(
        world,
        submit(
            world.member_a if engagement.client_id == world.client_a.pk else world.member_b,
            engagement,
            service,
            title=title,
        ),
        agent,
    )
    assert item.state == "in_review", item.state
    return item


def quality_rows(world: World, items: Iterable[WorkItem]) -> None:
    """For the row-security tests: each item's engagement gets a sampling rule, and each item
    a failed review and a dispute of it, as the product makes them."""
    version = ScorecardVersion.objects.filter(scorecard__name="Row security QA").first()
    if version is None:
        card = Scorecard.objects.create(name="Row security QA")
        version = do_publish_scorecard_version(world.lead, card, CRITERIA)
    for item in items:
        do_set_sampling_rule(world.lead, item.engagement, base_rate=20, weekly_minimum=1)
        review = Review.objects.create(
            client_id=item.client_id,
            item=item,
            reviewer=world.qa,
            agent=world.agent,
            scorecard_version=version,
            answers=LOW,
            score="43.75",
            passed=False,
            comments="Re-key lines 3 to 9.",
        )
        do_dispute_review(world.agent, review, "Lines 3 to 9 were illegible in the scan.")
