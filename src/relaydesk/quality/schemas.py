"""Shapes of QA reviews and disputes in the API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from relaydesk.work.schemas import PersonOut


class ReviewIn(Schema):
    """A scored review: one answer per criterion of the service's scorecard."""

    answers: dict[str, int | None] = Field(
        description=(
            "Criterion key to answer: 0 or 1 on a yes/no criterion, 1 to 5 on a 1-5 one, "
            "null for not applicable. Bonus criteria may be left out."
        )
    )
    comments: str = Field(
        "", max_length=20_000, description="Required when the review fails: what to rework."
    )


class DisputeIn(Schema):
    """Why the agent disputes the review."""

    reason: str = Field(min_length=1, max_length=20_000)


class DisputeOut(Schema):
    """A dispute of a review and, once made, the lead's decision."""

    id: int
    review_id: int
    state: Literal["open", "upheld", "overturned"]
    reason: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str


class ScorecardRefOut(Schema):
    """The scorecard version a review was scored with."""

    name: str
    version: int
    pass_mark: float


class ReviewOut(Schema):
    """A review of a work item, for the provider's people."""

    id: int
    item_id: int
    reviewer: PersonOut
    agent: PersonOut | None
    scorecard: ScorecardRefOut
    answers: dict[str, int | None]
    score: float
    passed: bool
    auto_failed: bool
    failed_criteria: list[str]
    comments: str
    sampled_reason: str
    overturned: bool
    created_at: dt.datetime
    dispute: DisputeOut | None
