"""Shapes of QA reviews, disputes and quality figures in the API."""

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


class DefectOut(Schema):
    """Reviews that found a defect (a criterion below full marks) in one category."""

    category: str
    reviews: int
    percent: float | None = Field(description="In per cent of the group's standing reviews.")


class QualityRowOut(Schema):
    """The reviews of one group; an overturned review counts only in ``overturned``."""

    key: str
    label: str
    reviews: int
    passed: int
    failed: int
    auto_failed: int
    overturned: int
    quality_score: float | None = Field(description="The mean review score, 0 to 100.")
    pass_rate_percent: float | None
    accuracy_percent: float | None = Field(
        description="Scored criteria (bonus ones left out) given full marks, in per cent."
    )
    defects: list[DefectOut]


class QualityFiguresOut(Schema):
    """Quality figures over a period (UTC days, both ends included), grouped, with the total."""

    group_by: str
    start: dt.date
    end: dt.date
    rows: list[QualityRowOut]
    total: QualityRowOut
