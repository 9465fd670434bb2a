"""Every write of QA: publishing scorecards, sampling rules, reviews and disputes.

Each ``do_*`` function checks who may act, changes state in one transaction and
writes the audit record there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core import quality as qa
from relaydesk.core.lifecycle import Action, IllegalTransition, NotPermitted, decide
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.quality.models import (
    Dispute,
    DisputeState,
    Review,
    SamplingRule,
    Scorecard,
    ScorecardVersion,
    scorecard_from,
)
from relaydesk.quality.queries import (
    get_visible_dispute,
    get_visible_review,
    sampled_reason,
    scorecard_for,
)
from relaydesk.work.actions import actor_facts, do_transition, item_facts
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import can_see_item

__all__ = [
    "do_decide_dispute",
    "do_dispute_review",
    "do_publish_scorecard_version",
    "do_set_sampling_rule",
    "do_submit_review",
]

MAX_TEXT = 20_000
_WORKED_KINDS = (Action.START.value, Action.COMPLETE.value)


def do_publish_scorecard_version(
    actor: User,
    scorecard: Scorecard,
    criteria: list[dict[str, Any]],
    pass_mark: float | Decimal = qa.DEFAULT_PASS_MARK,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> ScorecardVersion:
    """Publish the next version of ``scorecard`` with these criteria and pass mark.

    The criteria are checked by :class:`relaydesk.core.quality.Scorecard`; a problem
    raises :class:`Invalid` with the core's message. Earlier versions stay as they
    were, so every review keeps the version it was scored with.
    """
    if not can(actor.role_enum, Permission.CONFIGURE_QUALITY):
        raise NotAllowed("Only an operations lead or a provider admin can publish scorecards.")
    at = at or timezone.now()
    with transaction.atomic():
        locked = Scorecard.objects.select_for_update().filter(pk=scorecard.pk).first()
        if locked is None:
            raise NotFound("No such scorecard.")
        latest = locked.versions.aggregate(top=Max("version"))["top"] or 0
        try:
            core = scorecard_from(locked.name, latest + 1, criteria, pass_mark)
        except ValueError as problem:
            raise Invalid(str(problem)) from problem
        version = ScorecardVersion.objects.create(
            scorecard=locked,
            version=core.version,
            pass_mark=Decimal(str(core.pass_mark)).quantize(Decimal("0.01")),
            criteria=list(criteria),
            created_at=at,
        )
        record(
            actor=actor,
            action="quality.scorecard_publish",
            obj=version,
            source_ip=source_ip,
            at=at,
            detail={
                "scorecard": locked.name,
                "version": version.version,
                "criteria": len(core.criteria),
                "pass_mark": core.pass_mark,
            },
        )
    return version


def do_set_sampling_rule(
    actor: User,
    engagement: Engagement,
    *,
    service: Service | None = None,
    base_rate: int = 10,
    probation_full: bool = True,
    first_items_full: int = 0,
    raised_rate: int = 0,
    raised_for: int = 0,
    weekly_minimum: int = 0,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> SamplingRule:
    """Set the engagement's sampling rule for one service (or all of them), replacing any."""
    if not can(actor.role_enum, Permission.CONFIGURE_QUALITY):
        raise NotAllowed("Only an operations lead or a provider admin can set sampling rules.")
    if service is not None and not engagement.services.filter(pk=service.pk).exists():
        raise Invalid(f"The engagement '{engagement.name}' does not include '{service.name}'.")
    figures = {
        "base_rate": base_rate,
        "probation_full": probation_full,
        "first_items_full": first_items_full,
        "raised_rate": raised_rate,
        "raised_for": raised_for,
        "weekly_minimum": weekly_minimum,
    }
    try:
        qa.SamplingPolicy(**figures)  # type: ignore[arg-type]
    except ValueError as problem:
        raise Invalid(str(problem)) from problem
    at = at or timezone.now()
    with transaction.atomic():
        rule, _ = SamplingRule.objects.update_or_create(
            engagement=engagement,
            service=service,
            defaults={"client_id": engagement.client_id, "updated_at": at, **figures},
        )
        record(
            actor=actor,
            action="quality.sampling_rule",
            obj=rule,
            client=engagement.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": engagement.pk,
                "service": service.slug if service else "",
                **figures,
            },
        )
    return rule


def _lock_item(actor: User, item: WorkItem, at: dt.datetime) -> WorkItem:
    """Re-read the item under a row lock; 404 when ``actor`` may not see it."""
    locked = (
        WorkItem.objects.select_for_update(of=("self",))
        .select_related("client", "engagement", "service", "owner")
        .filter(pk=item.pk)
        .first()
    )
    if locked is None or not can_see_item(actor, locked, on=timezone.localdate(at)):
        raise NotFound("No such work item.")
    return locked


def _workers(item: WorkItem) -> set[int]:
    """Everyone who worked on the item: its owner and whoever started or completed it."""
    worked = item.events.filter(kind__in=_WORKED_KINDS, actor__isnull=False)
    ids = set(worked.values_list("actor_id", flat=True))
    if item.owner_id is not None:
        ids.add(item.owner_id)
    return ids


def do_submit_review(
    reviewer: User,
    item: WorkItem,
    answers: Mapping[str, int | None],
    comments: str = "",
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Review:
    """Score an item in review with its service's scorecard, and deliver it or send it back.

    Only a reviewer whose role the lifecycle lets approve this item may, and never
    someone who worked on it. A passed review delivers the item; a failed one (the
    comments then say why) returns it for rework with the comments as the note. The
    review, the item's move and both audit records are one transaction.
    """
    comments = comments.strip()
    if len(comments) > MAX_TEXT:
        raise Invalid("Comments are limited to 20,000 characters.")
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock_item(reviewer, item, at)
        try:
            decide(Action.APPROVE, actor_facts(reviewer, locked), item_facts(locked))
        except NotPermitted as refusal:
            raise NotAllowed(refusal.message) from refusal
        except IllegalTransition as refusal:
            raise Conflict(refusal.message) from refusal
        if not qa.may_review(reviewer.pk, _workers(locked)):
            raise NotAllowed("You worked on this item, so someone else must review it.")
        version = scorecard_for(locked.service)
        if version is None:
            raise Invalid(
                f"There is no scorecard for this service ({locked.service.name}); "
                "a provider admin publishes one in the back office."
            )
        try:
            scored = qa.score_review(version.to_core(), dict(answers))
        except ValueError as problem:
            raise Invalid(str(problem)) from problem
        if not scored.passed and not comments:
            raise Invalid(
                f"The review fails ({scored.display} against a pass mark of "
                f"{scored.pass_mark:g}): say in the comments what must be reworked."
            )
        review = Review.objects.create(
            client_id=locked.client_id,
            item=locked,
            reviewer=reviewer,
            agent_id=locked.owner_id,
            scorecard_version=version,
            answers={key: answers[key] for key in answers},
            score=Decimal(scored.display),
            passed=scored.passed,
            auto_failed=scored.auto_failed,
            failed_criteria=list(scored.failed_criteria),
            counted_criteria=scored.counted,
            full_marks_criteria=scored.at_full_marks,
            defect_categories=list(qa.defects(scored)),
            comments=comments,
            sampled_reason=sampled_reason(locked),
            created_at=at,
        )
        action = Action.APPROVE if scored.passed else Action.RETURN_FOR_REWORK
        do_transition(
            reviewer,
            locked,
            action,
            note="" if scored.passed else comments,
            source_ip=source_ip,
            at=at,
            # A failed review is the provider's business: the client sees the item back in work.
            internal=not scored.passed,
            scored=True,
        )
        record(
            actor=reviewer,
            action="quality.review",
            obj=review,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "item": locked.pk,
                "scorecard": version.scorecard.name,
                "version": version.version,
                "score": scored.display,
                "passed": scored.passed,
                "auto_failed": scored.auto_failed,
                "failed_criteria": list(scored.failed_criteria),
            },
        )
    return review


def do_dispute_review(
    agent: User,
    review: Review,
    reason: str,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Dispute:
    """The reviewed agent disputes a review of their work, once, saying why."""
    if get_visible_review(agent, review.pk) is None:
        raise NotFound("No such review.")
    if not can(agent.role_enum, Permission.DISPUTE_REVIEW) or review.agent_id != agent.pk:
        raise NotAllowed("Only the agent whose work was reviewed can dispute the review.")
    reason = reason.strip()
    if not reason:
        raise Invalid("Say why you dispute the review.")
    if len(reason) > MAX_TEXT:
        raise Invalid("The reason is limited to 20,000 characters.")
    at = at or timezone.now()
    with transaction.atomic():
        locked = Review.objects.select_for_update().filter(pk=review.pk).first()
        if locked is None:
            raise NotFound("No such review.")
        if not qa.may_dispute(Dispute.objects.filter(review=locked).count()):
            raise Conflict("You already disputed this review; each review can be disputed once.")
        dispute = Dispute.objects.create(
            client_id=locked.client_id, review=locked, agent=agent, reason=reason, created_at=at
        )
        record(
            actor=agent,
            action="quality.dispute",
            obj=dispute,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"review": locked.pk, "item": locked.item_id},
        )
    return dispute


def do_decide_dispute(
    lead: User,
    dispute: Dispute,
    uphold: bool,
    note: str,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Dispute:
    """An operations lead or provider admin upholds the disputed review or overturns it.

    Overturning marks the review overturned: it no longer counts as failed (in
    sampling and in figures). Either way the note says why.
    """
    if get_visible_dispute(lead, dispute.pk) is None:
        raise NotFound("No such dispute.")
    if not can(lead.role_enum, Permission.DECIDE_DISPUTES):
        raise NotAllowed("Only an operations lead or a provider admin decides disputes.")
    note = note.strip()
    if not note:
        raise Invalid("Say why you decide so; the agent and the reviewer read it.")
    if len(note) > MAX_TEXT:
        raise Invalid("The note is limited to 20,000 characters.")
    at = at or timezone.now()
    with transaction.atomic():
        locked = Dispute.objects.select_for_update().filter(pk=dispute.pk).first()
        if locked is None:
            raise NotFound("No such dispute.")
        if locked.state != DisputeState.OPEN:
            raise Conflict(f"This dispute was already decided: {locked.get_state_display()}.")
        locked.state = DisputeState.UPHELD if uphold else DisputeState.OVERTURNED
        locked.decided_by = lead
        locked.decided_at = at
        locked.decision_note = note
        locked.save()
        if not uphold:
            Review.objects.filter(pk=locked.review_id).update(overturned=True)
        record(
            actor=lead,
            action="quality.dispute_decide",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"review": locked.review_id, "decision": locked.state},
        )
    return locked
