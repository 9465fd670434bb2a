"""Quality assurance: scorecards, QA sampling, disputes, calibration and summaries.

Everything here is plain data in and out; the ``quality`` app stores scorecards and
reviews and calls these functions.

Scorecards
    A :class:`Scorecard` is a versioned list of :class:`Criterion`. A reviewer answers
    each criterion on its scale (binary 0/1 or 1 to 5) or marks it not applicable
    (``None``). :func:`score_review` turns the answers into a :class:`ReviewScore`:

    - a criterion's score is ``(selected - min) / (max - min) * 100``, so on the
      1-5 scale a 4 is 75.0 and on the binary scale 1 is 100.0;
    - the base score is the weighted mean of the applicable non-bonus criteria;
    - a bonus criterion that was answered adds ``weight * score / W`` points, where
      ``W`` is the total weight of the applicable non-bonus criteria (the same
      denominator as the mean, so a bonus of weight 1 at full marks is worth as
      much as a regular criterion of weight 1 at full marks). Bonus points can only
      add, and the total is capped at 100. A bonus criterion left unanswered or
      answered ``None`` adds nothing;
    - a critical criterion answered below its threshold fails the review
      automatically: the score is 0 whatever else was answered, bonus included,
      and the review says which criteria failed and why. A critical criterion
      marked not applicable cannot fail;
    - the review passes when it did not auto-fail and its score, rounded to two
      decimals as shown, reaches the scorecard's pass mark.

    Arithmetic is exact (fractions) until the final score, so hand-computed
    figures come out as written.

Sampling
    :func:`sample_decision` decides whether a finished item goes to QA and says why.
    The rules are checked in this order and the first that samples the item wins:

    1. mandatory review (a role such as a supervising attorney must review it);
    2. probation (every item while the agent is on probation, if the policy says so);
    3. the agent's first N items of the service;
    4. the weekly minimum: every item is sampled while the agent has had fewer
       reviews this week than the minimum (count the reviews already pending too,
       so that one busy hour does not send every item to QA);
    5. the raised rate for the K items after a failed review;
    6. the base rate.

    Rates are decided by :func:`relaydesk.core.lifecycle.sampled_for_qa` on the
    item key, so the same key, policy and history always give the same answer.
    The raised rate is never below the base rate, and an item in the sample at a
    rate is in the sample at every higher rate.

Disputes and reviewers
    An agent may dispute a review once (:func:`may_dispute`); a reviewer never
    reviews work they did themselves (:func:`may_review`).

Calibration
    :func:`calibration` compares several reviewers' scores of the same items with
    the lead's benchmark: the spread per item and each reviewer's alignment.

Reporting
    :func:`quality_summary` rolls reviews up into count, mean score, pass rate,
    auto-fails, accuracy and defect counts per category.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from relaydesk.core.lifecycle import sampled_for_qa

__all__ = [
    "ALIGNMENT_TOLERANCE",
    "DEFAULT_PASS_MARK",
    "MAX_DISPUTES",
    "UNCATEGORISED",
    "AgentHistory",
    "CalibrationResult",
    "Criterion",
    "CriterionResult",
    "CriticalFailure",
    "ItemSpread",
    "MandatoryReview",
    "QualitySummary",
    "ReviewScore",
    "ReviewerAlignment",
    "SampleDecision",
    "SampleRule",
    "SamplingPolicy",
    "Scale",
    "Scorecard",
    "calibration",
    "defects",
    "defects_by_category",
    "may_dispute",
    "may_review",
    "quality_summary",
    "sample_decision",
    "score_review",
    "weekly_minimum_at_risk",
]

DEFAULT_PASS_MARK = 80.0
"""The pass mark of a scorecard that names none."""

UNCATEGORISED = "Uncategorised"
"""The category shown for criteria that have none."""

MAX_DISPUTES = 1
"""How many times an agent may dispute one review."""

ALIGNMENT_TOLERANCE = 5.0
"""How far (mean absolute points) a reviewer may be from the benchmark and still be aligned."""

# Score comparisons against a tolerance allow for the last bits of float noise.
_EPSILON = 1e-9


# --- scorecards -----------------------------------------------------------------------------


class Scale(StrEnum):
    """The answers a criterion takes: binary (0 or 1) or one to five."""

    BINARY = "binary"
    ONE_TO_FIVE = "1-5"

    @property
    def minimum(self) -> int:
        """The lowest answer on the scale (scores 0)."""
        return 0 if self is Scale.BINARY else 1

    @property
    def maximum(self) -> int:
        """The highest answer on the scale (scores 100)."""
        return 1 if self is Scale.BINARY else 5

    @property
    def default_threshold(self) -> int:
        """The lowest answer that passes a critical criterion unless it names its own."""
        return 1 if self is Scale.BINARY else 3

    @property
    def label(self) -> str:
        """The scale as a person reads it."""
        return "yes/no (0 or 1)" if self is Scale.BINARY else "1 to 5"

    def score(self, selected: int) -> Fraction:
        """The 0-100 score of an answer: ``(selected - min) / (max - min) * 100``."""
        return Fraction(selected - self.minimum, self.maximum - self.minimum) * 100


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One question on a scorecard.

    ``weight`` is its share of the review score (any positive number; only the
    ratios matter). A ``critical`` criterion answered below ``threshold`` fails the
    whole review; its threshold defaults to 1 on the binary scale and 3 on the 1-5
    scale. A ``bonus`` criterion can only add to the score (see the module notes)
    and so can be neither critical nor a defect. ``category`` groups criteria for
    the per-category scores and the defect report ("Compliance", "Soft skills").
    """

    key: str
    label: str
    weight: float
    scale: Scale
    critical: bool = False
    threshold: int | None = None
    bonus: bool = False
    category: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ValueError(f"Every criterion needs a key (got {self.key!r}).")
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError(f"Criterion '{self.key}' needs a label a reviewer can read.")
        try:
            object.__setattr__(self, "scale", Scale(self.scale))
        except ValueError:
            raise ValueError(
                f"{self.name}: the scale must be 'binary' or '1-5', got {self.scale!r}."
            ) from None
        if not _is_number(self.weight) or not math.isfinite(self.weight) or self.weight <= 0:
            raise ValueError(
                f"{self.name}: the weight must be a number above 0, got {self.weight!r}."
            )
        if self.bonus and self.critical:
            raise ValueError(
                f"{self.name}: a bonus criterion can only add points, so it cannot also be "
                "critical; make it one or the other."
            )
        if self.threshold is not None:
            if not self.critical:
                raise ValueError(
                    f"{self.name}: only a critical criterion has a pass threshold; "
                    "mark it critical or remove the threshold."
                )
            low, high = self.scale.minimum, self.scale.maximum
            if not isinstance(self.threshold, int) or isinstance(self.threshold, bool):
                raise ValueError(f"{self.name}: the threshold must be a whole number.")
            if not low < self.threshold <= high:
                raise ValueError(
                    f"{self.name}: the threshold {self.threshold} does not fit the "
                    f"{self.scale.label} scale; choose {low + 1} to {high} (the lowest "
                    "answer that still passes)."
                )
        if not isinstance(self.category, str):
            raise ValueError(f"{self.name}: the category must be text.")

    @property
    def name(self) -> str:
        """The criterion as named in messages: ``criterion 'greeting' (Greeting)``."""
        return f"Criterion '{self.key}' ({self.label})"

    @property
    def pass_threshold(self) -> int:
        """The lowest answer that passes, when the criterion is critical."""
        return self.scale.default_threshold if self.threshold is None else self.threshold

    @property
    def category_name(self) -> str:
        """The category as shown in reports; :data:`UNCATEGORISED` when it has none."""
        return self.category.strip() or UNCATEGORISED


@dataclass(frozen=True, slots=True)
class Scorecard:
    """A named, versioned set of criteria and the score a review needs to pass.

    A review is scored against the exact version it was done with; change a
    scorecard by publishing a new version.
    """

    name: str
    version: int
    criteria: tuple[Criterion, ...]
    pass_mark: float = DEFAULT_PASS_MARK

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("A scorecard needs a name.")
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 1:
            raise ValueError(
                f"Scorecard '{self.name}': the version must be a whole number from 1, "
                f"got {self.version!r}."
            )
        object.__setattr__(self, "criteria", tuple(self.criteria))
        if not self.criteria:
            raise ValueError(f"{self.title} has no criteria; add at least one.")
        for criterion in self.criteria:
            if not isinstance(criterion, Criterion):
                raise ValueError(f"{self.title}: {criterion!r} is not a criterion.")
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.key in seen:
                raise ValueError(
                    f"{self.title}: the key '{criterion.key}' is used by more than one "
                    "criterion; give each criterion its own key."
                )
            seen.add(criterion.key)
        if all(c.bonus for c in self.criteria):
            raise ValueError(
                f"{self.title} has only bonus criteria; add at least one criterion that "
                "is not a bonus, since bonus points only add to a score."
            )
        mark = self.pass_mark
        if not _is_number(mark) or not math.isfinite(mark) or not 0 <= mark <= 100:
            raise ValueError(f"{self.title}: the pass mark must be from 0 to 100, got {mark!r}.")

    @property
    def title(self) -> str:
        """The scorecard as named in messages: ``Scorecard 'Voice support' v2``."""
        return f"Scorecard '{self.name}' v{self.version}"

    def criterion(self, key: str) -> Criterion:
        """The criterion with this key; :class:`KeyError` when there is none."""
        for criterion in self.criteria:
            if criterion.key == key:
                return criterion
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """How one answered criterion scored in a review."""

    key: str
    label: str
    category: str
    selected: int
    score: float
    weight: float
    critical: bool = False
    bonus: bool = False

    @property
    def full_marks(self) -> bool:
        """True when the highest answer on the scale was given."""
        return self.score >= 100


@dataclass(frozen=True, slots=True)
class CriticalFailure:
    """A critical criterion answered below its threshold, which fails the review."""

    key: str
    label: str
    selected: int
    threshold: int

    @property
    def reason(self) -> str:
        """Why the review failed, in words for the agent and their lead."""
        return (
            f"'{self.label}' is critical and was scored {self.selected}, below its pass "
            f"threshold of {self.threshold}, so the review fails automatically."
        )


@dataclass(frozen=True, slots=True)
class ReviewScore:
    """The outcome of one review against one scorecard version.

    ``score`` is kept exact (0 to 100); :attr:`display` is what a person reads.
    ``results`` holds the answered criteria in scorecard order; ``not_applicable``
    the keys of those marked not applicable (and of bonus criteria left out).
    """

    scorecard_name: str
    scorecard_version: int
    score: float
    base_score: float
    bonus_points: float
    pass_mark: float
    results: tuple[CriterionResult, ...]
    not_applicable: tuple[str, ...] = ()
    failures: tuple[CriticalFailure, ...] = ()

    @property
    def auto_failed(self) -> bool:
        """True when a critical criterion was answered below its threshold."""
        return bool(self.failures)

    @property
    def failed_criteria(self) -> tuple[str, ...]:
        """The keys of the critical criteria that failed the review."""
        return tuple(failure.key for failure in self.failures)

    @property
    def failure_reasons(self) -> tuple[str, ...]:
        """One sentence per failed critical criterion."""
        return tuple(failure.reason for failure in self.failures)

    @property
    def display(self) -> str:
        """The score as shown: two decimals, e.g. ``"87.50"``."""
        return f"{self.score:.2f}"

    @property
    def passed(self) -> bool:
        """True when the review did not auto-fail and the shown score reaches the pass mark."""
        return not self.auto_failed and round(self.score, 2) >= self.pass_mark

    @property
    def counted(self) -> int:
        """How many answered criteria count towards accuracy (bonus criteria do not)."""
        return sum(1 for result in self.results if not result.bonus)

    @property
    def at_full_marks(self) -> int:
        """How many of the :attr:`counted` criteria got full marks."""
        return sum(1 for result in self.results if not result.bonus and result.full_marks)

    @property
    def per_criterion(self) -> dict[str, float]:
        """Each answered criterion's 0-100 score, by key (bonus criteria included)."""
        return {result.key: result.score for result in self.results}

    @property
    def per_category(self) -> dict[str, float]:
        """The weighted mean score of each category's answered non-bonus criteria."""
        sums: dict[str, tuple[Fraction, Fraction]] = {}
        for result in self.results:
            if result.bonus:
                continue
            total, weights = sums.get(result.category, (Fraction(0), Fraction(0)))
            weight = Fraction(result.weight)
            sums[result.category] = (total + weight * Fraction(result.score), weights + weight)
        return {category: float(total / weights) for category, (total, weights) in sums.items()}


def _check_answer(criterion: Criterion, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise ValueError(
            f"{criterion.name} must be answered with a whole number on the "
            f"{criterion.scale.label} scale (or None for not applicable); got {value!r}."
        )
    low, high = criterion.scale.minimum, criterion.scale.maximum
    if not low <= value <= high:
        raise ValueError(
            f"{criterion.name} is scored {low} to {high} ({criterion.scale.label}); got {value}."
        )
    return int(value)


def score_review(scorecard: Scorecard, answers: Mapping[str, int | None]) -> ReviewScore:
    """Score one review's answers on ``scorecard``; see the module notes for the rules.

    Every non-bonus criterion must be answered, with a value on its scale or
    ``None`` for not applicable; bonus criteria may be left out. Raises
    :class:`ValueError` naming the criterion for an unknown key, a missing answer,
    a value off the scale, or when every non-bonus criterion is not applicable.
    """
    known = {criterion.key for criterion in scorecard.criteria}
    unknown = sorted(key for key in answers if key not in known)
    if unknown:
        listed = ", ".join(f"'{key}'" for key in unknown)
        raise ValueError(f"{scorecard.title} has no criterion {listed}; remove that answer.")

    results: list[CriterionResult] = []
    not_applicable: list[str] = []
    failures: list[CriticalFailure] = []
    total = Fraction(0)
    weights = Fraction(0)
    bonus_total = Fraction(0)
    for criterion in scorecard.criteria:
        if criterion.key not in answers and not criterion.bonus:
            raise ValueError(
                f"{criterion.name} has no answer; answer it, or mark it not applicable (None)."
            )
        selected = _check_answer(criterion, answers.get(criterion.key))
        if selected is None:
            not_applicable.append(criterion.key)
            continue
        score = criterion.scale.score(selected)
        weight = Fraction(criterion.weight)
        results.append(
            CriterionResult(
                key=criterion.key,
                label=criterion.label,
                category=criterion.category_name,
                selected=selected,
                score=float(score),
                weight=criterion.weight,
                critical=criterion.critical,
                bonus=criterion.bonus,
            )
        )
        if criterion.bonus:
            bonus_total += weight * score
            continue
        total += weight * score
        weights += weight
        if criterion.critical and selected < criterion.pass_threshold:
            failures.append(
                CriticalFailure(criterion.key, criterion.label, selected, criterion.pass_threshold)
            )
    if not weights:
        raise ValueError(
            f"{scorecard.title}: every criterion that counts towards the score is marked not "
            "applicable; answer at least one."
        )
    base = total / weights
    bonus = bonus_total / weights
    final = Fraction(0) if failures else min(Fraction(100), base + bonus)
    return ReviewScore(
        scorecard_name=scorecard.name,
        scorecard_version=scorecard.version,
        score=float(final),
        base_score=float(base),
        bonus_points=float(bonus),
        pass_mark=float(scorecard.pass_mark),
        results=tuple(results),
        not_applicable=tuple(not_applicable),
        failures=tuple(failures),
    )


def defects_by_category(review: ReviewScore) -> dict[str, tuple[str, ...]]:
    """The non-bonus criteria answered below full marks, by category, in scorecard order."""
    grouped: dict[str, list[str]] = {}
    for result in review.results:
        if not result.bonus and not result.full_marks:
            grouped.setdefault(result.category, []).append(result.key)
    return {category: tuple(keys) for category, keys in grouped.items()}


def defects(review: ReviewScore) -> tuple[str, ...]:
    """The categories in which the review found a defect (a criterion below full marks).

    Criteria marked not applicable and bonus criteria are never defects.
    """
    return tuple(defects_by_category(review))


# --- sampling -------------------------------------------------------------------------------


class SampleRule(StrEnum):
    """The sampling rule that decided, in the order the rules are checked."""

    MANDATORY = "mandatory"
    PROBATION = "probation"
    FIRST_ITEMS = "first_items"
    WEEKLY_MINIMUM = "weekly_minimum"
    RAISED = "raised"
    BASE = "base"


def _check_count(owner: str, name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{owner}: {name} must be a whole number from 0, got {value!r}.")


def _check_rate(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise ValueError(
            f"Sampling policy: the {name} must be a whole percentage from 0 to 100, got {value!r}."
        )


@dataclass(frozen=True, slots=True)
class SamplingPolicy:
    """How much of one service's work in one engagement goes to QA.

    ``base_rate`` and ``raised_rate`` are whole percentages. After a failed review
    the agent's next ``raised_for`` items are sampled at ``raised_rate``, which may
    not be below the base rate. ``first_items_full`` reviews every one of an
    agent's first N items of the service; ``probation_full`` every item while the
    agent is on probation; ``weekly_minimum`` is the least number of reviews each
    agent gets per week.
    """

    base_rate: int
    probation_full: bool = True
    first_items_full: int = 0
    raised_rate: int = 0
    raised_for: int = 0
    weekly_minimum: int = 0

    def __post_init__(self) -> None:
        _check_rate("base rate", self.base_rate)
        _check_rate("raised rate", self.raised_rate)
        _check_count("Sampling policy", "the number of first items reviewed", self.first_items_full)
        _check_count("Sampling policy", "the number of items at the raised rate", self.raised_for)
        _check_count("Sampling policy", "the weekly minimum", self.weekly_minimum)
        if self.raised_for and self.raised_rate < self.base_rate:
            raise ValueError(
                f"Sampling policy: the raised rate ({self.raised_rate} %) after a failed review "
                f"must not be below the base rate ({self.base_rate} %)."
            )


@dataclass(frozen=True, slots=True)
class AgentHistory:
    """What sampling needs to know about the agent who did the item.

    ``items_done_in_service`` counts the agent's items of this service before this
    one. ``items_since_last_fail`` counts the items they finished after their last
    failed review and before this one (``None``: no failed review, or none recent
    enough to matter). ``reviews_this_week`` counts this week's reviews, done or
    pending. ``items_left_this_week_estimate`` is only used by
    :func:`weekly_minimum_at_risk`, not by the sampling decision.
    """

    on_probation: bool = False
    items_done_in_service: int = 0
    items_since_last_fail: int | None = None
    reviews_this_week: int = 0
    items_left_this_week_estimate: int | None = None

    def __post_init__(self) -> None:
        _check_count("Agent history", "items done in the service", self.items_done_in_service)
        _check_count("Agent history", "reviews this week", self.reviews_this_week)
        if self.items_since_last_fail is not None:
            _check_count(
                "Agent history", "items since the last failed review", self.items_since_last_fail
            )
        if self.items_left_this_week_estimate is not None:
            _check_count(
                "Agent history",
                "the estimate of items left this week",
                self.items_left_this_week_estimate,
            )


@dataclass(frozen=True, slots=True)
class MandatoryReview:
    """Work that is always reviewed by a given role.

    ``role_label`` is the role inside a sentence ("a supervising attorney", "a senior
    analyst"); ``why`` says why, e.g. "legal drafting is filed with the court".
    """

    role_label: str
    why: str

    def __post_init__(self) -> None:
        if not self.role_label.strip():
            raise ValueError("A mandatory review must name the role that reviews.")
        if not self.why.strip():
            raise ValueError("A mandatory review must say why the work is always reviewed.")


@dataclass(frozen=True, slots=True)
class SampleDecision:
    """Whether an item goes to QA, the rule that decided and the reason in words."""

    sampled: bool
    reason: str
    rule: str


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def sample_decision(
    policy: SamplingPolicy,
    history: AgentHistory,
    item_key: str,
    mandatory: MandatoryReview | None = None,
) -> SampleDecision:
    """Decide whether the item with ``item_key`` goes to QA, and explain why.

    The rules are checked in the order of :class:`SampleRule` (see the module
    notes); the first one that samples the item decides. An item that no rule
    samples is explained by the last rate it was checked against. The decision
    depends only on the arguments.
    """
    if not item_key:
        raise ValueError("Sampling needs the item's key.")
    if mandatory is not None:
        return SampleDecision(
            True,
            f"sampled because review by {mandatory.role_label} is mandatory: {mandatory.why}",
            SampleRule.MANDATORY,
        )
    if policy.probation_full and history.on_probation:
        return SampleDecision(
            True, "sampled because the agent is on probation (100 %)", SampleRule.PROBATION
        )
    done = history.items_done_in_service
    if done < policy.first_items_full:
        return SampleDecision(
            True,
            f"sampled because this is the agent's {_ordinal(done + 1)} item of this service "
            f"(the first {policy.first_items_full} are all reviewed)",
            SampleRule.FIRST_ITEMS,
        )
    if history.reviews_this_week < policy.weekly_minimum:
        return SampleDecision(
            True,
            f"sampled because the agent has had {history.reviews_this_week} of the "
            f"{policy.weekly_minimum} weekly minimum reviews",
            SampleRule.WEEKLY_MINIMUM,
        )
    since = history.items_since_last_fail
    if since is not None and since < policy.raised_for:
        when = (
            "the agent failed a review and has finished no item since"
            if since == 0
            else f"the agent failed a review {_plural(since, 'item')} ago"
        )
        rate = policy.raised_rate
        if sampled_for_qa(item_key, rate):
            return SampleDecision(
                True, f"sampled because {when} (raised rate {rate} %)", SampleRule.RAISED
            )
        return SampleDecision(
            False, f"not sampled: outside the raised rate of {rate} % ({when})", SampleRule.RAISED
        )
    if sampled_for_qa(item_key, policy.base_rate):
        return SampleDecision(
            True, f"sampled at the base rate of {policy.base_rate} %", SampleRule.BASE
        )
    return SampleDecision(
        False, f"not sampled: outside the base rate of {policy.base_rate} %", SampleRule.BASE
    )


def weekly_minimum_at_risk(policy: SamplingPolicy, history: AgentHistory) -> bool:
    """True when the agent's estimated items left this week cannot reach the weekly minimum.

    Answers False when there is no estimate or no minimum. A lead uses it to
    schedule a review by hand; it does not change :func:`sample_decision`.
    """
    left = history.items_left_this_week_estimate
    if left is None or not policy.weekly_minimum:
        return False
    return history.reviews_this_week + left < policy.weekly_minimum


# --- disputes and reviewers -----------------------------------------------------------------


def may_dispute(disputes_so_far: int) -> bool:
    """True when an agent may still dispute a review: each review can be disputed once.

    ``disputes_so_far`` counts the disputes already raised on this review.
    """
    _check_count("Dispute", "the number of disputes so far", disputes_so_far)
    return disputes_so_far < MAX_DISPUTES


def may_review(reviewer_id: Hashable, worker_ids: Iterable[Hashable]) -> bool:
    """True unless the reviewer worked on the item: nobody reviews their own work.

    ``worker_ids`` are everyone who worked on the item (after a handoff, more than one).
    """
    return all(reviewer_id != worker for worker in worker_ids)


# --- calibration ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemSpread:
    """How far apart the reviewers' scores of one calibration item are.

    ``stdev`` is the population standard deviation of the reviewers' scores
    (0 with one reviewer); ``benchmark`` is the lead's score, when there is one.
    """

    item_key: str
    count: int
    minimum: float
    maximum: float
    mean: float
    stdev: float
    benchmark: float | None = None

    @property
    def spread(self) -> float:
        """The highest score minus the lowest."""
        return self.maximum - self.minimum


@dataclass(frozen=True, slots=True)
class ReviewerAlignment:
    """How close one reviewer's scores are to the lead's benchmark.

    Only items the reviewer scored and the lead benchmarked count (``compared``).
    ``mean_difference`` is signed: below 0 the reviewer scores harsher than the
    lead, above 0 more leniently. With nothing compared both figures are ``None``
    and the reviewer is not aligned.
    """

    reviewer: str
    compared: int
    mean_abs_difference: float | None
    mean_difference: float | None
    tolerance: float

    @property
    def aligned(self) -> bool:
        """True when the mean absolute difference is within the tolerance."""
        if self.mean_abs_difference is None:
            return False
        return self.mean_abs_difference <= self.tolerance + _EPSILON


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """A calibration session: the spread per item and each reviewer's alignment."""

    items: dict[str, ItemSpread] = field(hash=False)
    reviewers: dict[str, ReviewerAlignment] = field(hash=False)
    tolerance: float

    @property
    def misaligned(self) -> tuple[str, ...]:
        """The reviewers who are not aligned with the benchmark."""
        return tuple(name for name, result in self.reviewers.items() if not result.aligned)


def _check_score(where: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
        return float(value)
    raise ValueError(f"{where}: a score must be a number from 0 to 100, got {value!r}.")


def calibration(
    scores_by_reviewer: Mapping[str, Mapping[str, float]],
    benchmark: Mapping[str, float],
    tolerance: float = ALIGNMENT_TOLERANCE,
) -> CalibrationResult:
    """Compare reviewers' scores of the same items with each other and with the lead's.

    ``scores_by_reviewer`` maps each reviewer to their score per item key;
    ``benchmark`` maps item keys to the lead's score. A reviewer is aligned when
    their mean absolute difference from the benchmark is at most ``tolerance``
    points. Items a reviewer did not score are left out of their figures, and
    items nobody scored have no spread. Raises :class:`ValueError` when there
    are no reviewers, a reviewer scored nothing, the benchmark is empty, a score
    is not from 0 to 100, or the tolerance is negative.
    """
    if not scores_by_reviewer:
        raise ValueError("Calibration needs at least one reviewer's scores.")
    if not benchmark:
        raise ValueError("Calibration needs the lead's benchmark scores.")
    if not _is_number(tolerance) or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"The alignment tolerance must be 0 points or more, got {tolerance!r}.")
    lead = {item: _check_score(f"Benchmark for '{item}'", s) for item, s in benchmark.items()}

    by_item: dict[str, list[float]] = {}
    reviewers: dict[str, ReviewerAlignment] = {}
    for reviewer, scores in scores_by_reviewer.items():
        if not scores:
            raise ValueError(f"Reviewer '{reviewer}' scored no item; leave them out.")
        differences: list[Fraction] = []
        for item, raw in scores.items():
            score = _check_score(f"Reviewer '{reviewer}', item '{item}'", raw)
            by_item.setdefault(item, []).append(score)
            if item in lead:
                differences.append(Fraction(score) - Fraction(lead[item]))
        compared = len(differences)
        reviewers[reviewer] = ReviewerAlignment(
            reviewer=reviewer,
            compared=compared,
            mean_abs_difference=(
                float(sum((abs(d) for d in differences), Fraction(0)) / compared)
                if compared
                else None
            ),
            mean_difference=(float(sum(differences, Fraction(0)) / compared) if compared else None),
            tolerance=float(tolerance),
        )
    items = {
        item: ItemSpread(
            item_key=item,
            count=len(scores),
            minimum=min(scores),
            maximum=max(scores),
            mean=float(statistics.fmean(scores)),
            stdev=float(statistics.pstdev(scores)),
            benchmark=lead.get(item),
        )
        for item, scores in by_item.items()
    }
    return CalibrationResult(items=items, reviewers=reviewers, tolerance=float(tolerance))


# --- reporting ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """Reviews rolled up for a report.

    ``pass_rate`` and ``accuracy`` are shares from 0 to 1; ``accuracy`` is the
    share of answered non-bonus criteria that got full marks. ``defect_counts``
    counts, per category, the reviews with at least one defect in it. With no
    reviews the mean, pass rate and accuracy are ``None``.
    """

    count: int
    mean_score: float | None
    pass_rate: float | None
    auto_fail_count: int
    accuracy: float | None
    defect_counts: dict[str, int] = field(hash=False)


def quality_summary(reviews: Iterable[ReviewScore]) -> QualitySummary:
    """Summarise reviews: count, mean score, pass rate, auto-fails, accuracy, defects."""
    count = passed = auto_failed = answered = at_full = 0
    total = 0.0
    defect_counts: dict[str, int] = {}
    for review in reviews:
        count += 1
        total += review.score
        passed += review.passed
        auto_failed += review.auto_failed
        answered += review.counted
        at_full += review.at_full_marks
        for category in defects(review):
            defect_counts[category] = defect_counts.get(category, 0) + 1
    return QualitySummary(
        count=count,
        mean_score=total / count if count else None,
        pass_rate=passed / count if count else None,
        auto_fail_count=auto_failed,
        accuracy=at_full / answered if answered else None,
        defect_counts=dict(sorted(defect_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
