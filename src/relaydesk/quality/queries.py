"""Reads of QA data, each narrowed to what the actor may see, and the sampling decision.

Reviews are the provider's: an operations lead or provider admin sees every one, an
agent the reviews of their own work, a reviewer the reviews they wrote and those of
the items waiting for their review. A client's people see none of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.core import quality as qa
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import NotAllowed
from relaydesk.quality.models import (
    Dispute,
    DisputeState,
    Review,
    SamplingRule,
    Scorecard,
    ScorecardVersion,
)
from relaydesk.work.models import WorkItem, WorkItemEvent
from relaydesk.workforce.models import Agent

__all__ = [
    "CriterionField",
    "ReviewPanel",
    "ReviewShown",
    "agent_history",
    "get_visible_dispute",
    "get_visible_review",
    "qa_sample_decision",
    "review_panel",
    "reviews_of_item",
    "sampled_reason",
    "sampling_rule_for",
    "scorecard_for",
    "shown_review",
    "visible_disputes",
    "visible_reviews",
]

logger = logging.getLogger(__name__)


def _reviews() -> QuerySet[Review]:
    return Review.objects.select_related(
        "item", "item__client", "item__service", "reviewer", "agent", "scorecard_version__scorecard"
    )


def visible_reviews(actor: User) -> QuerySet[Review]:
    """The reviews ``actor`` may read (none for a client's people)."""
    from relaydesk.work.queries import visible_work_items

    role = actor.role_enum
    if can(role, Permission.VIEW_ALL_WORK):
        return _reviews()
    if can(role, Permission.DO_WORK):
        return _reviews().filter(agent=actor)
    if can(role, Permission.REVIEW_WORK):
        waiting = visible_work_items(actor).values("pk")
        return _reviews().filter(Q(reviewer=actor) | Q(item_id__in=waiting))
    return Review.objects.none()


def get_visible_review(actor: User, review_id: int) -> Review | None:
    """The review if ``actor`` may read it, else ``None`` (so callers answer 404)."""
    return visible_reviews(actor).filter(pk=review_id).first()


def visible_disputes(actor: User) -> QuerySet[Dispute]:
    """Disputes ``actor`` may read: every one for those who decide them, else those of the
    reviews they may read."""
    disputes = Dispute.objects.select_related(
        "review",
        "review__item",
        "review__item__client",
        "review__reviewer",
        "review__scorecard_version__scorecard",
        "agent",
        "decided_by",
    )
    if can(actor.role_enum, Permission.DECIDE_DISPUTES):
        return disputes
    return disputes.filter(review__in=visible_reviews(actor).values("pk"))


def get_visible_dispute(actor: User, dispute_id: int) -> Dispute | None:
    """The dispute if ``actor`` may read it, else ``None`` (so callers answer 404)."""
    return visible_disputes(actor).filter(pk=dispute_id).first()


def reviews_of_item(actor: User, item: WorkItem) -> list[Review]:
    """The reviews of an item ``actor`` may see, newest first; a client's people are refused
    (reviews name the provider's reviewers and hold internal comments)."""
    if actor.is_client_user:
        raise NotAllowed("Reviews are internal to the provider.")
    return list(visible_reviews(actor).filter(item=item))


def open_disputes(actor: User) -> QuerySet[Dispute]:
    """Disputes waiting for a decision, oldest first."""
    return visible_disputes(actor).filter(state=DisputeState.OPEN).order_by("created_at", "pk")


def decided_disputes(actor: User, limit: int = 20) -> list[Dispute]:
    """The last disputes decided, newest first."""
    decided = visible_disputes(actor).exclude(state=DisputeState.OPEN)
    return list(decided.order_by("-decided_at", "-pk")[:limit])


def scorecard_for(service: Service) -> ScorecardVersion | None:
    """The version reviews of ``service`` are scored with now: the latest version of the
    service's active scorecard, else of the active scorecard for any service."""
    for scope in (Q(service=service), Q(service__isnull=True)):
        card = Scorecard.objects.filter(scope, active=True).first()
        if card is not None:
            version = card.latest_version()
            if version is not None:
                return version
    return None


# --- sampling -----------------------------------------------------------------------------------


def sampling_rule_for(item: WorkItem) -> SamplingRule | None:
    """The engagement's rule for the item's service, else its engagement-wide rule."""
    rules = SamplingRule.objects.filter(engagement_id=item.engagement_id).filter(
        Q(service_id=item.service_id) | Q(service__isnull=True)
    )
    return min(rules, key=lambda rule: rule.service_id is None, default=None)


def _week(at: dt.datetime, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The ISO week (Monday to Monday) holding ``at``, in ``time_zone``."""
    local = at.astimezone(zoneinfo.ZoneInfo(time_zone))
    monday = local.date() - dt.timedelta(days=local.weekday())
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=local.tzinfo)
    return start, start + dt.timedelta(days=7)


def agent_history(agent: User | None, item: WorkItem, at: dt.datetime) -> qa.AgentHistory:
    """What sampling needs to know about ``agent``'s work in the item's engagement.

    Counts are of the engagement, so one client's figures never depend on another's:
    the agent's other items of this service they completed, the items they completed
    after their last failed review (an overturned review does not count), and their
    reviews this ISO week at their site, the ones still pending included.
    """
    if agent is None:
        return qa.AgentHistory()
    profile = Agent.objects.select_related("site").filter(user=agent).first()
    completed = (
        WorkItemEvent.objects.filter(
            kind=Action.COMPLETE.value, actor=agent, item__engagement_id=item.engagement_id
        )
        .exclude(item_id=item.pk)
        .filter(at__lte=at)
    )
    done = completed.filter(item__service_id=item.service_id).values("item_id").distinct().count()
    reviews = Review.objects.filter(agent=agent, item__engagement_id=item.engagement_id)
    last_fail = (
        reviews.filter(passed=False, overturned=False, created_at__lte=at)
        .order_by("-created_at")
        .first()
    )
    since = None
    if last_fail is not None:
        after = completed.filter(at__gt=last_fail.created_at)
        since = after.values("item_id").distinct().count()
    start, end = _week(at, profile.site.time_zone if profile else "UTC")
    this_week = reviews.filter(created_at__gte=start, created_at__lt=end).count()
    pending = (
        WorkItem.objects.filter(
            engagement_id=item.engagement_id, owner=agent, state=State.IN_REVIEW.value
        )
        .exclude(pk=item.pk)
        .count()
    )
    return qa.AgentHistory(
        on_probation=bool(profile and profile.on_probation),
        items_done_in_service=done,
        items_since_last_fail=since,
        reviews_this_week=this_week + pending,
    )


def qa_sample_decision(item: WorkItem, *, at: dt.datetime | None = None) -> qa.SampleDecision:
    """Whether the item, being completed now, goes to QA, and why in words.

    For services whose review policy is "sampled". The engagement's sampling rule
    decides (or, without one, the service's rate); the key is the item's QA seed and
    how many times it was completed before, so the same item, round, rule and
    history always give the same answer.
    """
    at = at or timezone.now()
    base = qa.SamplingPolicy(base_rate=item.service.qa_sample_rate)
    rule = sampling_rule_for(item)
    policy = base
    if rule is not None:
        try:
            policy = rule.policy()
        except ValueError:
            logger.warning("Sampling rule %s is not valid; using the service's rate.", rule.pk)
    rounds = item.events.filter(kind=Action.COMPLETE.value).count()
    history = agent_history(item.owner, item, at)
    return qa.sample_decision(policy, history, f"{item.qa_seed}:{rounds}")


# --- the item page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionField:
    """One scorecard question as the review form shows it."""

    key: str
    label: str
    category: str
    scale: str
    choices: tuple[tuple[str, str], ...]
    critical: bool
    bonus: bool
    threshold: int | None
    selected: str = ""

    @property
    def name(self) -> str:
        """The form field's name."""
        return f"answer-{self.key}"


@dataclass(frozen=True)
class CriterionAnswer:
    """One answered question of a stored review."""

    label: str
    answer: str
    failed: bool = False


@dataclass(frozen=True)
class ReviewShown:
    """A stored review as the item page shows it to the provider's people."""

    review: Review
    answers: tuple[CriterionAnswer, ...]
    failure_reasons: tuple[str, ...]
    can_dispute: bool
    dispute: Dispute | None


@dataclass(frozen=True)
class ReviewPanel:
    """The item page's QA section: the scorecard form for its reviewer, and its reviews."""

    can_review: bool
    version: ScorecardVersion | None
    fields: tuple[CriterionField, ...]
    reviews: tuple[ReviewShown, ...]
    sampled_reason: str = ""
    comments: str = ""
    error: str = ""
    pass_mark: str = ""


def _choices(criterion: qa.Criterion) -> tuple[tuple[str, str], ...]:
    if criterion.scale is qa.Scale.BINARY:
        return (("1", "Yes"), ("0", "No"))
    return tuple((str(n), str(n)) for n in range(criterion.scale.maximum, 0, -1))


def _answer_label(criterion: qa.Criterion | None, value: object) -> str:
    if value is None:
        return "N/A"
    if criterion is not None and criterion.scale is qa.Scale.BINARY:
        return "Yes" if value == 1 else "No"
    return f"{value} of 5"


def shown_review(user: User, review: Review) -> ReviewShown:
    """A review with its answers in words and why it failed, as pages show it to ``user``."""
    try:
        card = review.scorecard_version.to_core()
    except ValueError:
        card = None
    by_key = {c.key: c for c in card.criteria} if card else {}
    answers = tuple(
        CriterionAnswer(
            label=by_key[key].label if key in by_key else key,
            answer=_answer_label(by_key.get(key), value),
            failed=key in review.failed_criteria,
        )
        for key, value in review.answers.items()
    )
    reasons: tuple[str, ...] = ()
    if card is not None and review.auto_failed:
        try:
            reasons = qa.score_review(card, review.answers).failure_reasons
        except ValueError:
            reasons = ()
    dispute = Dispute.objects.filter(review=review).select_related("decided_by").first()
    return ReviewShown(
        review=review,
        answers=answers,
        failure_reasons=reasons,
        can_dispute=(
            dispute is None
            and review.agent_id == user.pk
            and can(user.role_enum, Permission.DISPUTE_REVIEW)
        ),
        dispute=dispute,
    )


def sampled_reason(item: WorkItem) -> str:
    """Why the item is in review, from its last sampling decision on the timeline."""
    from relaydesk.work.actions import QA_SAMPLING_EVENT

    last = item.events.filter(kind=QA_SAMPLING_EVENT).order_by("-at", "-pk").first()
    reason = last.note[:1].lower() + last.note[1:] if last is not None else ""
    if not reason and item.service.review_policy == "mandatory":
        reason = "review is mandatory for this service"
    return reason


def review_panel(
    user: User,
    item: WorkItem,
    *,
    answers: dict[str, str] | None = None,
    comments: str = "",
    error: str = "",
) -> ReviewPanel | None:
    """The QA section of the item page for ``user``, or ``None`` when there is nothing to show
    (a client's people never see it). ``answers``, ``comments`` and ``error`` fill the form
    again after a refused review."""
    from relaydesk.work.actions import may_give_verdict

    if user.is_client_user:
        return None
    shown = tuple(shown_review(user, r) for r in visible_reviews(user).filter(item=item))
    can_review = may_give_verdict(user, item)
    version = scorecard_for(item.service) if can_review else None
    fields: tuple[CriterionField, ...] = ()
    if version is not None:
        try:
            card = version.to_core()
        except ValueError:
            card = None
        if card is not None:
            given = answers or {}
            fields = tuple(
                CriterionField(
                    key=c.key,
                    label=c.label,
                    category=c.category.strip(),
                    scale=c.scale.label,
                    choices=_choices(c),
                    critical=c.critical,
                    bonus=c.bonus,
                    threshold=c.pass_threshold if c.critical else None,
                    selected=given.get(f"answer-{c.key}", "na" if c.bonus else ""),
                )
                for c in card.criteria
            )
    if not shown and not can_review:
        return None
    return ReviewPanel(
        can_review=can_review,
        version=version,
        fields=fields,
        reviews=shown,
        sampled_reason=sampled_reason(item) if can_review else "",
        comments=comments,
        error=error,
        pass_mark=f"{float(version.pass_mark):g}" if version is not None else "",
    )
