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
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.core import quality as qa
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import NotAllowed
from relaydesk.figures import (
    UtcMonth,
    UtcWeek,
    check_figures_request,
    key_text,
    label_text,
    utc_bounds,
)
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
    "QualityFigures",
    "QualityRow",
    "ReviewPanel",
    "ReviewShown",
    "agent_history",
    "agent_summary",
    "criterion_fields",
    "get_visible_dispute",
    "get_visible_review",
    "qa_sample_decision",
    "quality_figures",
    "review_panel",
    "reviews_of_agent",
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
    # The dispute comes along (one to one), so a list of reviews is one query.
    return Review.objects.select_related(
        "item",
        "item__client",
        "item__service",
        "reviewer",
        "agent",
        "scorecard_version__scorecard",
        "dispute",
        "dispute__decided_by",
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


def reviews_of_agent(agent: User, limit: int = 100) -> list[ReviewShown]:
    """The last reviews of ``agent``'s own work, newest first, as pages show them."""
    return [shown_review(agent, r) for r in _reviews().filter(agent=agent)[:limit]]


def agent_summary(shown: list[ReviewShown]) -> QualityRow:
    """The figures of an agent's reviews as :func:`quality_figures` counts them."""
    reviews = [s.review for s in shown]
    return _row_of("mine", "Your reviews", reviews)


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


def answer_choices(criterion: qa.Criterion) -> tuple[tuple[str, str], ...]:
    """The choices the scorecard form offers for ``criterion``, as (value, label)."""
    if criterion.scale is qa.Scale.BINARY:
        return (("1", "Yes"), ("0", "No"))
    return tuple((str(n), str(n)) for n in range(criterion.scale.maximum, 0, -1))


def criterion_fields(card: qa.Scorecard, given: dict[str, str]) -> tuple[CriterionField, ...]:
    """The scorecard's questions as its form shows them, with the answers ``given`` (form
    field name to value) selected again; bonus questions start at "not applicable"."""
    return tuple(
        CriterionField(
            key=c.key,
            label=c.label,
            category=c.category.strip(),
            scale=c.scale.label,
            choices=answer_choices(c),
            critical=c.critical,
            bonus=c.bonus,
            threshold=c.pass_threshold if c.critical else None,
            selected=given.get(f"answer-{c.key}", "na" if c.bonus else ""),
        )
        for c in card.criteria
    )


def answer_label(criterion: qa.Criterion | None, value: object) -> str:
    """A stored answer in words: "Yes", "3 of 5", "N/A"."""
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
            answer=answer_label(by_key.get(key), value),
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
    try:
        dispute: Dispute | None = review.dispute
    except Dispute.DoesNotExist:
        dispute = None
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
            fields = criterion_fields(card, answers or {})
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


# --- quality figures ----------------------------------------------------------------------------


def _one_decimal(value: Decimal) -> float:
    """Rounded half up to one decimal, as every quality figure is."""
    return float(value.quantize(Decimal("0.1"), ROUND_HALF_UP))


def _share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in per cent to one decimal; None when there is nothing to share."""
    return _one_decimal(Decimal(part * 100) / Decimal(whole)) if whole else None


@dataclass(frozen=True, slots=True)
class QualityRow:
    """The reviews of one group (an engagement, a service, a site, an agent, a month …).

    ``reviews`` counts the standing reviews: an overturned review counts in no figure
    but ``overturned``. ``score_total`` is the sum of their scores, so the mean is
    exact; ``counted`` and ``at_full_marks`` are the scored criteria (bonus ones left
    out) and those given full marks, whose ratio is the accuracy; ``defects`` counts,
    per category, the reviews with at least one criterion below full marks in it.
    """

    key: str
    label: str
    reviews: int
    passed: int
    auto_failed: int
    overturned: int
    score_total: Decimal
    counted: int
    at_full_marks: int
    defects: dict[str, int]

    @property
    def failed(self) -> int:
        """The standing reviews that failed."""
        return self.reviews - self.passed

    @property
    def mean_score(self) -> float | None:
        """The internal quality score: the mean review score, to one decimal."""
        if not self.reviews:
            return None
        return _one_decimal(self.score_total / self.reviews)

    @property
    def pass_rate(self) -> float | None:
        """Passed reviews in per cent of the standing ones, to one decimal."""
        return _share(self.passed, self.reviews)

    @property
    def accuracy(self) -> float | None:
        """Scored criteria given full marks, in per cent, to one decimal."""
        return _share(self.at_full_marks, self.counted)

    def defect_share(self, category: str) -> float | None:
        """Reviews with a defect in ``category``, in per cent of the standing reviews."""
        return _share(self.defects.get(category, 0), self.reviews)

    @property
    def top_defect(self) -> str:
        """The category with most defects (ties by name), or "" without any."""
        return min(self.defects, key=lambda c: (-self.defects[c], c), default="")


def _row_of(key: str, label: str, reviews: list[Review]) -> QualityRow:
    """One row counted from reviews already read (the figures' definition, in Python)."""
    standing = [r for r in reviews if not r.overturned]
    defects: dict[str, int] = {}
    for review in standing:
        for category in review.defect_categories:
            defects[category] = defects.get(category, 0) + 1
    return QualityRow(
        key=key,
        label=label,
        reviews=len(standing),
        passed=sum(r.passed for r in standing),
        auto_failed=sum(r.auto_failed for r in standing),
        overturned=len(reviews) - len(standing),
        score_total=sum((r.score for r in standing), Decimal(0)),
        counted=sum(r.counted_criteria for r in standing),
        at_full_marks=sum(r.full_marks_criteria for r in standing),
        defects=defects,
    )


@dataclass(frozen=True, slots=True)
class QualityFigures:
    """QA figures over a period, by one grouping, with the total and its defect categories."""

    group_by: str
    start: dt.date
    end: dt.date
    rows: list[QualityRow]
    total: QualityRow

    @property
    def categories(self) -> list[tuple[str, int, float | None]]:
        """Each defect category of the total, most frequent first: name, reviews, share."""
        ranked = sorted(self.total.defects.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(name, count, self.total.defect_share(name)) for name, count in ranked]


_QUALITY_GROUPS = {
    "engagement": ("item__engagement_id", "item__engagement__name"),
    "service": ("item__service_id", "item__service__name"),
    "site": ("agent__agent__site_id", "agent__agent__site__name"),
    "agent": ("agent_id", "agent__full_name"),
    "month": ("bucket", "bucket"),
    "week": ("bucket", "bucket"),
}


def quality_figures(
    actor: User,
    *,
    start: dt.date,
    end: dt.date,
    group_by: str = "engagement",
    engagement_id: int | None = None,
    service_id: int | None = None,
) -> QualityFigures:
    """QA figures for ``actor``: the reviews written from ``start`` to ``end`` (UTC days,
    ``end`` included), grouped by ``group_by``.

    The one definition the *Quality* page, its CSV and the API use: the internal
    quality score (mean review score), the pass rate, auto-fails, accuracy (scored
    criteria at full marks) and defects per category, as
    :func:`relaydesk.core.quality.quality_summary` defines them. A review counts on
    the day it was written, for the engagement and service of its item and the site
    and agent whose work it was. An overturned review counts only as overturned. A
    client's people see their own client's figures; the provider's people every
    client's. Counted by the database (the defect categories are tallied from the
    reviews that found a defect). A request no figures answer is refused by
    :func:`relaydesk.figures.check_figures_request`.
    """
    if not can(actor.role_enum, Permission.VIEW_QUALITY):
        raise NotAllowed("Your role does not see quality figures.")
    check_figures_request(
        actor, start=start, end=end, group_by=group_by, engagement_id=engagement_id
    )
    begin, finish = utc_bounds(start, end)
    reviews = Review.objects.filter(created_at__gte=begin, created_at__lt=finish)
    if actor.is_client_user:
        reviews = reviews.filter(client_id=actor.client_id or 0)
    if engagement_id is not None:
        reviews = reviews.filter(item__engagement_id=engagement_id)
    if service_id is not None:
        reviews = reviews.filter(item__service_id=service_id)
    if group_by == "month":
        reviews = reviews.annotate(bucket=UtcMonth("created_at"))
    elif group_by == "week":
        reviews = reviews.annotate(bucket=UtcWeek("created_at"))
    key, label = _QUALITY_GROUPS[group_by]
    standing = Q(overturned=False)
    counted = (
        reviews.values(key, label)
        .annotate(
            # Named apart from the model's fields, which they count.
            n_reviews=Count("pk", filter=standing),
            n_passed=Count("pk", filter=standing & Q(passed=True)),
            n_auto_failed=Count("pk", filter=standing & Q(auto_failed=True)),
            n_overturned=Count("pk", filter=Q(overturned=True)),
            score_sum=Sum("score", filter=standing),
            n_counted=Sum("counted_criteria", filter=standing),
            n_full_marks=Sum("full_marks_criteria", filter=standing),
        )
        .order_by(key)
    )
    defects: dict[str, dict[str, int]] = {}
    found = reviews.filter(standing, full_marks_criteria__lt=F("counted_criteria"))
    for group, categories in found.values_list(key, "defect_categories"):
        tally = defects.setdefault(key_text(group), {})
        for category in categories:
            tally[category] = tally.get(category, 0) + 1
    rows = []
    for row in counted:
        group = key_text(row[key])
        rows.append(
            QualityRow(
                key=group,
                label=label_text(group_by, row[label]),
                reviews=row["n_reviews"],
                passed=row["n_passed"],
                auto_failed=row["n_auto_failed"],
                overturned=row["n_overturned"],
                score_total=Decimal(row["score_sum"] or 0),
                counted=row["n_counted"] or 0,
                at_full_marks=row["n_full_marks"] or 0,
                defects=defects.get(group, {}),
            )
        )
    all_defects: dict[str, int] = {}
    for row in rows:
        for category, count in row.defects.items():
            all_defects[category] = all_defects.get(category, 0) + count
    total = QualityRow(
        key="total",
        label="All",
        reviews=sum(r.reviews for r in rows),
        passed=sum(r.passed for r in rows),
        auto_failed=sum(r.auto_failed for r in rows),
        overturned=sum(r.overturned for r in rows),
        score_total=sum((r.score_total for r in rows), Decimal(0)),
        counted=sum(r.counted for r in rows),
        at_full_marks=sum(r.at_full_marks for r in rows),
        defects=all_defects,
    )
    return QualityFigures(group_by=group_by, start=start, end=end, rows=rows, total=total)
