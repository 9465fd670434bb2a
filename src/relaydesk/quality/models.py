"""Quality assurance: scorecards and their versions, sampling rules, reviews, disputes and
calibration sessions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from relaydesk.core import quality as qa


class Scorecard(models.Model):
    """A named scorecard the provider's reviewers answer, for one service or for any.

    The criteria live in :class:`ScorecardVersion` rows: a scorecard is changed by
    publishing a new version (``do_publish_scorecard_version``), so a review always
    keeps the exact version it was scored with. At most one active scorecard per
    service, and one for "any service", which covers services without their own.
    """

    name = models.CharField(max_length=120)
    service = models.ForeignKey(
        "catalog.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every service that has no scorecard of its own.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                name="scorecard_one_active_per_service",
                condition=Q(active=True, service__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["active"],
                name="scorecard_one_active_for_any_service",
                condition=Q(active=True, service__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> ScorecardVersion | None:
        """The version reviews are scored with now (the highest number)."""
        return self.versions.order_by("-version").first()


class ScorecardVersion(models.Model):
    """One published version of a scorecard: its criteria and pass mark, never edited.

    ``criteria`` is a list of dicts with the fields of
    :class:`relaydesk.core.quality.Criterion` (key, label, weight, scale, critical,
    threshold, bonus, category). Once a review uses a version it cannot change;
    publish a new one instead.
    """

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    pass_mark = models.DecimalField(max_digits=5, decimal_places=2, default=80)
    criteria = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scorecard", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "version"], name="scorecard_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scorecard.name} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse to change a version a review or a calibration session already used."""
        if self.pk is not None and (
            Review.objects.filter(scorecard_version_id=self.pk).exists()
            or CalibrationSession.objects.filter(scorecard_version_id=self.pk).exists()
        ):
            raise ValidationError(
                f"{self} is used by reviews or calibration and cannot change; "
                "publish a new version."
            )
        super().save(*args, **kwargs)

    def to_core(self) -> qa.Scorecard:
        """The version as the core's scorecard (raises ValueError if the stored data is bad)."""
        return scorecard_from(self.scorecard.name, self.version, self.criteria, self.pass_mark)


def scorecard_from(name: str, version: int, criteria: object, pass_mark: object) -> qa.Scorecard:
    """Build the core's scorecard from stored or typed data; ValueError says what is wrong."""
    if not isinstance(criteria, list) or not all(isinstance(c, dict) for c in criteria):
        raise ValueError("The criteria must be a list of objects, one per criterion.")
    built = []
    for number, fields in enumerate(criteria, start=1):
        known = {"key", "label", "weight", "scale", "critical", "threshold", "bonus", "category"}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(
                f"Criterion {number} has unknown fields: {', '.join(unknown)}; "
                f"use {', '.join(sorted(known))}."
            )
        missing = sorted({"key", "label", "weight", "scale"} - set(fields))
        if missing:
            raise ValueError(f"Criterion {number} needs: {', '.join(missing)}.")
        built.append(qa.Criterion(**fields))
    try:
        mark = float(pass_mark)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(
            f"The pass mark must be a number from 0 to 100, got {pass_mark!r}."
        ) from None
    return qa.Scorecard(name=name, version=version, criteria=tuple(built), pass_mark=mark)


def _percent(help_text: str, default: int) -> models.PositiveSmallIntegerField[int, int]:
    return models.PositiveSmallIntegerField(
        default=default, validators=[MaxValueValidator(100)], help_text=help_text
    )


class SamplingRule(models.Model):
    """How much of an engagement's finished work goes to QA, beyond the service's base rate.

    A rule covers one service of the engagement, or all of them; the rule for the
    service wins over the engagement-wide one, and without either the service's own
    ``qa_sample_rate`` applies. Only services whose review policy is "sampled" use it.
    See :func:`relaydesk.core.quality.sample_decision` for the order of the rules.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.CASCADE, related_name="sampling_rules"
    )
    service = models.ForeignKey(
        "catalog.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every service of the engagement.",
    )
    base_rate = _percent("Percentage of finished items reviewed.", 10)
    probation_full = models.BooleanField(
        default=True, help_text="Review every item of an agent on probation."
    )
    first_items_full = models.PositiveSmallIntegerField(
        default=0, help_text="Review every one of an agent's first N items of the service."
    )
    raised_rate = _percent("Percentage reviewed after a failed review.", 0)
    raised_for = models.PositiveSmallIntegerField(
        default=0, help_text="How many items after a failed review are sampled at the raised rate."
    )
    weekly_minimum = models.PositiveSmallIntegerField(
        default=0, help_text="The least number of reviews each agent gets per week."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "service"],
                name="sampling_rule_one_per_service",
                condition=Q(service__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["engagement"],
                name="sampling_rule_one_default",
                condition=Q(service__isnull=True),
            ),
            models.CheckConstraint(
                condition=Q(base_rate__lte=100) & Q(raised_rate__lte=100),
                name="sampling_rule_rates_percent",
            ),
        ]

    def __str__(self) -> str:
        service = self.service.name if self.service else "every service"
        return f"{self.engagement}: {service}"

    def policy(self) -> qa.SamplingPolicy:
        """The rule as the core's sampling policy."""
        return qa.SamplingPolicy(
            base_rate=self.base_rate,
            probation_full=self.probation_full,
            first_items_full=self.first_items_full,
            raised_rate=self.raised_rate,
            raised_for=self.raised_for,
            weekly_minimum=self.weekly_minimum,
        )

    def clean(self) -> None:
        """Check the figures with the core, and that the service is the engagement's."""
        try:
            self.policy()
        except ValueError as problem:
            raise ValidationError(str(problem)) from None
        if (
            self.service_id
            and self.engagement_id
            and not self.engagement.services.filter(pk=self.service_id).exists()
        ):
            raise ValidationError({"service": "The engagement does not include this service."})


class Review(models.Model):
    """One reviewer's scored review of one item, against one scorecard version.

    ``agent`` is whose work it was (the item's owner when it was completed);
    ``sampled_reason`` says why the item went to review. ``failed_criteria`` holds
    the keys of the critical criteria that failed it. An ``overturned`` review was
    disputed successfully: it no longer counts in any figure. ``counted_criteria``,
    ``full_marks_criteria`` and ``defect_categories`` are the scored review's accuracy
    and defects (see :class:`relaydesk.core.quality.ReviewScore`), kept so the
    quality figures are counted by the database.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("work.WorkItem", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    scorecard_version = models.ForeignKey(
        ScorecardVersion, on_delete=models.PROTECT, related_name="reviews"
    )
    answers = models.JSONField(default=dict)
    score = models.DecimalField(max_digits=5, decimal_places=2)
    passed = models.BooleanField()
    auto_failed = models.BooleanField(default=False)
    failed_criteria = models.JSONField(default=list, blank=True)
    counted_criteria = models.PositiveSmallIntegerField(default=0)
    full_marks_criteria = models.PositiveSmallIntegerField(default=0)
    defect_categories = models.JSONField(default=list, blank=True)
    comments = models.TextField(blank=True)
    sampled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    overturned = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "created_at"], name="review_agent_time"),
            models.Index(fields=["item", "created_at"], name="review_item_time"),
            models.Index(fields=["created_at"], name="review_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(passed=True) | ~Q(comments=""), name="review_failed_has_comments"
            )
        ]

    def __str__(self) -> str:
        outcome = "passed" if self.passed else "failed"
        return f"Review of RD-{self.item_id}: {self.score} ({outcome})"

    @property
    def counts_as_failed(self) -> bool:
        """True when the review failed and was not overturned on dispute."""
        return not self.passed and not self.overturned

    @property
    def outcome(self) -> str:
        """Passed, failed, auto-failed or overturned, as a person reads it."""
        if self.overturned:
            return "Overturned on dispute"
        if self.passed:
            return "Passed"
        return "Auto-failed" if self.auto_failed else "Failed"


class DisputeState(models.TextChoices):
    """Where a dispute stands."""

    OPEN = "open", "Open"
    UPHELD = "upheld", "Review upheld"
    OVERTURNED = "overturned", "Review overturned"


class Dispute(models.Model):
    """An agent's objection to a review of their work, and the lead's decision on it.

    Each review can be disputed once. Upholding keeps the review as it was;
    overturning marks the review overturned, so it no longer counts as failed.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="dispute")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    state = models.CharField(max_length=12, choices=DisputeState.choices, default=DisputeState.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "created_at"], name="dispute_state_time")]

    def __str__(self) -> str:
        return f"Dispute of review {self.review_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        """True until a lead decides it."""
        return self.state == DisputeState.OPEN


# --- calibration ----------------------------------------------------------------------------


class CalibrationState(models.TextChoices):
    """Whether a calibration session still takes scores."""

    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class CalibrationSession(models.Model):
    """Several reviewers score the same items blind, against the lead's benchmark.

    The lead who runs it (``created_by``) picks finished items of one engagement that
    one scorecard applies to, and invites reviewers; everyone scores each item with
    ``scorecard_version`` (the version current for the items' service when the
    session opened). While the session is open each person sees only their own
    scores. Closing freezes the scores and shows the spread per item and each
    reviewer's alignment with the benchmark (``relaydesk.core.quality.calibration``):
    a reviewer is aligned when their mean absolute difference from the benchmark is
    at most ``tolerance`` points.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="calibration_sessions"
    )
    scorecard_version = models.ForeignKey(
        ScorecardVersion, on_delete=models.PROTECT, related_name="calibration_sessions"
    )
    title = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    tolerance = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(str(qa.ALIGNMENT_TOLERANCE)),
        help_text="How many points (mean absolute difference) a reviewer may be from the "
        "benchmark and still be aligned.",
    )
    state = models.CharField(
        max_length=8, choices=CalibrationState.choices, default=CalibrationState.OPEN
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "-created_at"], name="calibration_state_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(tolerance__gte=0) & Q(tolerance__lte=100),
                name="calibration_tolerance_points",
            ),
            models.CheckConstraint(
                condition=Q(state=CalibrationState.OPEN, closed_at__isnull=True)
                | Q(state=CalibrationState.CLOSED, closed_at__isnull=False),
                name="calibration_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        """True until the lead closes the session; scores can change until then."""
        return self.state == CalibrationState.OPEN


class CalibrationItem(models.Model):
    """One work item of a calibration session, in the order the reviewers go through them."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(CalibrationSession, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey("work.WorkItem", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["session", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "item"], name="calibration_item_once")
        ]

    def __str__(self) -> str:
        return f"RD-{self.item_id} in {self.session_id}"


class CalibrationParticipant(models.Model):
    """A reviewer invited to score a calibration session's items (the lead is not one)."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(
        CalibrationSession, on_delete=models.CASCADE, related_name="participants"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "reviewer"], name="calibration_participant_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} in {self.session_id}"


class CalibrationScore(models.Model):
    """One person's score of one item in a calibration session.

    ``is_benchmark`` marks the lead's scores, which the reviewers are compared with.
    A score can be changed (``updated_at``) until the session closes.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(CalibrationSession, on_delete=models.CASCADE, related_name="scores")
    item = models.ForeignKey("work.WorkItem", on_delete=models.CASCADE, related_name="+")
    scorer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answers = models.JSONField(default=dict)
    score = models.DecimalField(max_digits=5, decimal_places=2)
    passed = models.BooleanField()
    auto_failed = models.BooleanField(default=False)
    is_benchmark = models.BooleanField(default=False)
    comments = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "item", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "item", "scorer"], name="calibration_score_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.score} for RD-{self.item_id} in {self.session_id}"
