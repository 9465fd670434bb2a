"""The QA API: quality figures, score a work item in review, read its reviews, dispute a
review."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from relaydesk.accounts.models import User
from relaydesk.errors import NotFound
from relaydesk.figures import default_period
from relaydesk.quality import actions, queries
from relaydesk.quality.models import Dispute, Review
from relaydesk.quality.schemas import (
    DefectOut,
    DisputeIn,
    DisputeOut,
    QualityFiguresOut,
    QualityRowOut,
    ReviewIn,
    ReviewOut,
    ScorecardRefOut,
)
from relaydesk.web import client_ip
from relaydesk.work.api import ERRORS
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import get_visible_item
from relaydesk.work.schemas import ErrorOut, PersonOut

router = Router(tags=["quality"])

READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
FIGURE_ERRORS = {400: ErrorOut, **READ_ERRORS}


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def _item(request: HttpRequest, item_id: int) -> WorkItem:
    item = get_visible_item(_user(request), item_id)
    if item is None:
        raise NotFound(f"No work item {item_id}.")
    return item


def dispute_out(dispute: Dispute) -> DisputeOut:
    """A dispute as the API shows it."""
    return DisputeOut(
        id=dispute.pk,
        review_id=dispute.review_id,
        state=dispute.state,  # type: ignore[arg-type]
        reason=dispute.reason,
        created_at=dispute.created_at,
        decided_at=dispute.decided_at,
        decision_note=dispute.decision_note,
    )


def review_out(review: Review) -> ReviewOut:
    """A review as the API shows it to the provider's people."""
    version = review.scorecard_version
    try:
        dispute: Dispute | None = review.dispute
    except Dispute.DoesNotExist:
        dispute = None
    return ReviewOut(
        id=review.pk,
        item_id=review.item_id,
        reviewer=PersonOut(id=review.reviewer.pk, full_name=review.reviewer.full_name),
        agent=(
            PersonOut(id=review.agent.pk, full_name=review.agent.full_name)
            if review.agent
            else None
        ),
        scorecard=ScorecardRefOut(
            name=version.scorecard.name, version=version.version, pass_mark=float(version.pass_mark)
        ),
        answers=review.answers,
        score=float(review.score),
        passed=review.passed,
        auto_failed=review.auto_failed,
        failed_criteria=list(review.failed_criteria),
        comments=review.comments,
        sampled_reason=review.sampled_reason,
        overturned=review.overturned,
        created_at=review.created_at,
        dispute=dispute_out(dispute) if dispute else None,
    )


@router.post(
    "/work-items/{item_id}/reviews",
    response={201: ReviewOut, **ERRORS},
    summary="Review a work item with its scorecard",
)
def submit_review(request: HttpRequest, item_id: int, payload: ReviewIn) -> Status[ReviewOut]:
    """Score an item waiting for your review with its service's scorecard: 201 with the
    review. A passed review delivers the item; a failed one (a critical criterion below its
    threshold fails it whatever the score) returns it for rework with your comments, which are
    then required. 403 if your role does not review this item or you worked on it; 409 if the
    item is not in review; 422 for a missing or off-scale answer, or when the service has no
    scorecard."""
    user = _user(request)
    review = actions.do_submit_review(
        user,
        _item(request, item_id),
        payload.answers,
        payload.comments,
        source_ip=client_ip(request),
    )
    shown = queries.get_visible_review(user, review.pk)
    assert shown is not None
    return Status(201, review_out(shown))


@router.get(
    "/work-items/{item_id}/reviews",
    response={200: list[ReviewOut], **READ_ERRORS},
    summary="The reviews of a work item",
)
def list_reviews(request: HttpRequest, item_id: int) -> list[ReviewOut]:
    """The item's reviews you may read, newest first: every one for operations leads and
    provider admins, your own work's for an agent, and for a reviewer those of items waiting
    for them and those they wrote. 403 for a client's people (reviews are internal)."""
    user = _user(request)
    return [review_out(r) for r in queries.reviews_of_item(user, _item(request, item_id))]


@router.post(
    "/reviews/{review_id}/dispute",
    response={201: DisputeOut, **ERRORS},
    summary="Dispute a review of your work",
)
def dispute_review(request: HttpRequest, review_id: int, payload: DisputeIn) -> Status[DisputeOut]:
    """The agent whose work was reviewed disputes the review, saying why: 201 with the
    dispute, which an operations lead decides. Each review can be disputed once (409 the
    second time); 403 for anyone but the reviewed agent; a review you may not see is 404."""
    user = _user(request)
    review = queries.get_visible_review(user, review_id)
    if review is None:
        raise NotFound(f"No review {review_id}.")
    dispute = actions.do_dispute_review(user, review, payload.reason, source_ip=client_ip(request))
    return Status(201, dispute_out(dispute))


class QualityQuery(Schema):
    """Which figures: the period (UTC days; the last 30 by default) and the grouping."""

    group_by: Literal["engagement", "service", "site", "agent", "month", "week"] = "engagement"
    start: dt.date | None = None
    end: dt.date | None = None
    engagement_id: int | None = None
    service_id: int | None = None


def _quality_row_out(row: queries.QualityRow) -> QualityRowOut:
    return QualityRowOut(
        key=row.key,
        label=row.label,
        reviews=row.reviews,
        passed=row.passed,
        failed=row.failed,
        auto_failed=row.auto_failed,
        overturned=row.overturned,
        quality_score=row.mean_score,
        pass_rate_percent=row.pass_rate,
        accuracy_percent=row.accuracy,
        defects=[
            DefectOut(category=name, reviews=count, percent=row.defect_share(name))
            for name, count in sorted(row.defects.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    )


@router.get(
    "/quality/figures",
    response={200: QualityFiguresOut, **FIGURE_ERRORS},
    summary="Quality figures",
)
def quality_figures(request: HttpRequest, query: Query[QualityQuery]) -> QualityFiguresOut:
    """Reviews, internal quality score (mean review score), pass rate, auto-fails, accuracy
    and defects per category, by engagement, service, site, agent (the provider only), month
    or week — the figures the *Quality* page and its CSV show. An overturned review counts
    only as overturned. A client's people get their own client's figures; 403 for roles that
    see no quality figures, 404 for an engagement you cannot see."""
    start, end = default_period(query.start, query.end)
    figures = queries.quality_figures(
        _user(request),
        start=start,
        end=end,
        group_by=query.group_by,
        engagement_id=query.engagement_id,
        service_id=query.service_id,
    )
    return QualityFiguresOut(
        group_by=figures.group_by,
        start=figures.start,
        end=figures.end,
        rows=[_quality_row_out(row) for row in figures.rows],
        total=_quality_row_out(figures.total),
    )
