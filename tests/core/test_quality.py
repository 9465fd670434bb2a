"""Quality assurance as reviewers, agents and leads meet it.

Given a scorecard and a reviewer's answers, the review scores as hand-computed;
given an agent's history, an item is sampled for QA (or not) with a reason a lead
can read; calibration and the quality summary give the figures a lead works out
on paper.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.core.lifecycle import sampled_for_qa
from relaydesk.core.quality import (
    UNCATEGORISED,
    AgentHistory,
    Criterion,
    MandatoryReview,
    SampleRule,
    SamplingPolicy,
    Scale,
    Scorecard,
    calibration,
    defects,
    defects_by_category,
    may_dispute,
    may_review,
    quality_summary,
    sample_decision,
    score_review,
    weekly_minimum_at_risk,
)
from relaydesk.core.roles import Role

BINARY = Scale.BINARY
FIVE = Scale.ONE_TO_FIVE

# --- a voice-support scorecard --------------------------------------------------------------

VOICE = Scorecard(
    "Voice support",
    3,
    (
        Criterion("greeting", "Greeting", 1, BINARY, category="Soft skills"),
        Criterion("empathy", "Empathy", 2, FIVE, category="Soft skills"),
        Criterion("resolution", "Resolution", 3, FIVE, category="Resolution"),
        Criterion("identity", "Verified identity", 2, BINARY, critical=True, category="Compliance"),
        Criterion(
            "disclosure",
            "Recording disclosure",
            2,
            FIVE,
            critical=True,
            threshold=4,
            category="Compliance",
        ),
        Criterion("upsell", "Offered the upgrade", 1, FIVE, bonus=True, category="Sales"),
    ),
)
PERFECT = {"greeting": 1, "empathy": 5, "resolution": 5, "identity": 1, "disclosure": 5}
# greeting 100 x1, empathy 75 x2, resolution 50 x3, identity 100 x2, disclosure 100 x2
# = (100 + 150 + 150 + 200 + 200) / 10 = 80.0
TYPICAL = {"greeting": 1, "empathy": 4, "resolution": 3, "identity": 1, "disclosure": 5}


def single(scale: Scale, selected: int) -> float:
    card = Scorecard("One", 1, (Criterion("q", "Question", 1, scale),))
    return score_review(card, {"q": selected}).score


# --- category score formula -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "selected", "expected"),
    [
        (FIVE, 1, 0.0),
        (FIVE, 2, 25.0),
        (FIVE, 3, 50.0),
        (FIVE, 4, 75.0),
        (FIVE, 5, 100.0),
        (BINARY, 0, 0.0),
        (BINARY, 1, 100.0),
    ],
)
def test_a_criterion_scores_its_place_between_the_lowest_and_highest_answer(
    scale, selected, expected
):
    assert single(scale, selected) == expected


# --- weighted mean, categories, N/A, bonus --------------------------------------------------


def test_the_review_score_is_the_weighted_mean_of_the_criteria():
    review = score_review(VOICE, TYPICAL)

    assert review.score == 80.0
    assert review.display == "80.00"
    assert review.passed
    assert not review.auto_failed
    assert review.per_criterion == {
        "greeting": 100.0,
        "empathy": 75.0,
        "resolution": 50.0,
        "identity": 100.0,
        "disclosure": 100.0,
    }


def test_each_category_gets_the_weighted_mean_of_its_own_criteria():
    review = score_review(VOICE, TYPICAL)

    # Soft skills: (100 x 1 + 75 x 2) / 3
    assert review.per_category["Soft skills"] == pytest.approx(250 / 3)
    assert review.per_category["Resolution"] == 50.0
    assert review.per_category["Compliance"] == 100.0
    assert "Sales" not in review.per_category  # the bonus was not answered


def test_a_score_below_the_pass_mark_fails_without_auto_failing():
    review = score_review(VOICE, {**TYPICAL, "resolution": 2})

    # (800 - 3 x 25) / 10
    assert review.score == 72.5
    assert not review.passed
    assert not review.auto_failed


def test_a_scorecard_can_set_its_own_pass_mark():
    strict = Scorecard("Voice support", 4, VOICE.criteria, pass_mark=90)

    assert not score_review(strict, TYPICAL).passed
    assert score_review(strict, PERFECT).passed


@pytest.mark.parametrize(
    ("lead_weight", "shown", "passed"), [(79.996, "80.00", True), (79.994, "79.99", False)]
)
def test_the_pass_mark_is_judged_on_the_score_as_shown(lead_weight, shown, passed):
    card = Scorecard(
        "Tight",
        1,
        (
            Criterion("met", "Met", lead_weight, BINARY),
            Criterion("missed", "Missed", 100 - lead_weight, BINARY),
        ),
    )

    review = score_review(card, {"met": 1, "missed": 0})

    assert review.display == shown
    assert review.passed is passed


def test_not_applicable_criteria_are_left_out_of_the_mean():
    review = score_review(VOICE, {**TYPICAL, "resolution": None})

    # (100 + 150 + 200 + 200) / 7
    assert review.score == pytest.approx(650 / 7)
    assert review.display == "92.86"
    assert review.not_applicable == ("resolution", "upsell")
    assert "resolution" not in review.per_criterion
    assert "Resolution" not in review.per_category


def test_a_critical_criterion_marked_not_applicable_cannot_fail_the_review():
    review = score_review(VOICE, {**PERFECT, "identity": None})

    assert review.score == 100.0
    assert not review.auto_failed


@pytest.mark.parametrize(("upsell", "expected"), [(5, 90.0), (3, 85.0), (1, 80.0)])
def test_an_answered_bonus_adds_weight_times_score_over_the_scored_weight(upsell, expected):
    review = score_review(VOICE, {**TYPICAL, "upsell": upsell})

    # the bonus has weight 1 against 10 of scored weight: up to 10 points
    assert review.base_score == 80.0
    assert review.score == expected
    assert review.per_criterion["upsell"] == (upsell - 1) * 25


def test_bonus_points_never_lift_a_review_above_100():
    review = score_review(VOICE, {**PERFECT, "upsell": 5})

    assert review.bonus_points == 10.0
    assert review.score == 100.0


def test_bonus_points_are_measured_against_the_applicable_weight_only():
    review = score_review(VOICE, {**TYPICAL, "resolution": None, "empathy": None, "upsell": 5})

    # scored weight left: greeting 1 + identity 2 + disclosure 2 = 5; bonus 1 x 100 / 5
    assert review.bonus_points == 20.0
    assert review.score == 100.0


# --- auto-fail ------------------------------------------------------------------------------


def test_a_critical_criterion_below_its_threshold_fails_an_otherwise_perfect_review():
    review = score_review(VOICE, {**PERFECT, "disclosure": 3, "upsell": 5})

    assert review.score == 0.0
    assert review.display == "0.00"
    assert review.auto_failed
    assert not review.passed
    assert review.failed_criteria == ("disclosure",)
    assert review.failure_reasons == (
        "'Recording disclosure' is critical and was scored 3, below its pass threshold of 4, "
        "so the review fails automatically.",
    )
    # The answers themselves are still there for the agent's feedback.
    # (1000 - 2 x 50) / 10
    assert review.base_score == 90.0
    assert review.per_criterion["disclosure"] == 50.0


def test_a_binary_critical_criterion_fails_on_no_and_every_failure_is_named():
    review = score_review(VOICE, {**PERFECT, "identity": 0, "disclosure": 1})

    assert review.score == 0.0
    assert review.failed_criteria == ("identity", "disclosure")
    assert "threshold of 1" in review.failure_reasons[0]


def test_a_critical_criterion_at_its_threshold_passes():
    review = score_review(VOICE, {**PERFECT, "disclosure": 4})

    assert not review.auto_failed
    assert review.score == 95.0


def test_a_critical_one_to_five_criterion_passes_at_three_by_default():
    card = Scorecard("Chat", 1, (Criterion("tone", "Tone", 1, FIVE, critical=True),))

    assert score_review(card, {"tone": 3}).score == 50.0
    assert score_review(card, {"tone": 2}).auto_failed


# --- defects --------------------------------------------------------------------------------


def test_defects_are_the_categories_with_a_criterion_below_full_marks():
    review = score_review(VOICE, {**TYPICAL, "upsell": 1})

    assert defects(review) == ("Soft skills", "Resolution")
    assert defects_by_category(review) == {
        "Soft skills": ("empathy",),
        "Resolution": ("resolution",),
    }


def test_a_perfect_review_has_no_defects_and_not_applicable_is_not_a_defect():
    assert defects(score_review(VOICE, PERFECT)) == ()
    assert defects(score_review(VOICE, {**PERFECT, "empathy": None})) == ()


def test_criteria_without_a_category_are_reported_as_uncategorised():
    card = Scorecard("Data entry", 1, (Criterion("fields", "All fields", 1, BINARY),))

    review = score_review(card, {"fields": 0})

    assert defects(review) == (UNCATEGORISED,)
    assert review.per_category == {UNCATEGORISED: 0.0}


# --- scorecard validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Criterion("greeting", "Greeting", 0, BINARY),
            "Criterion 'greeting' (Greeting): the weight must be a number above 0, got 0.",
        ),
        (
            lambda: Criterion("greeting", "Greeting", -2.5, BINARY),
            "the weight must be a number above 0, got -2.5",
        ),
        (
            lambda: Criterion("greeting", "Greeting", math.nan, BINARY),
            "the weight must be a number above 0",
        ),
        (
            lambda: Criterion("greeting", "Greeting", 1, "1-10"),  # type: ignore[arg-type]
            "the scale must be 'binary' or '1-5', got '1-10'",
        ),
        (
            lambda: Criterion("id", "Identity", 1, BINARY, critical=True, threshold=2),
            "the threshold 2 does not fit the yes/no (0 or 1) scale; choose 1 to 1",
        ),
        (
            lambda: Criterion("tone", "Tone", 1, FIVE, critical=True, threshold=6),
            "Criterion 'tone' (Tone): the threshold 6 does not fit the 1 to 5 scale; choose 2 to 5",
        ),
        (
            lambda: Criterion("tone", "Tone", 1, FIVE, critical=True, threshold=1),
            "choose 2 to 5",
        ),
        (
            lambda: Criterion("tone", "Tone", 1, FIVE, threshold=3),
            "only a critical criterion has a pass threshold",
        ),
        (
            lambda: Criterion("tone", "Tone", 1, FIVE, critical=True, bonus=True),
            "a bonus criterion can only add points, so it cannot also be critical",
        ),
        (lambda: Criterion("", "Tone", 1, FIVE), "Every criterion needs a key"),
        (lambda: Criterion("tone", " ", 1, FIVE), "Criterion 'tone' needs a label"),
        (lambda: Scorecard("Voice", 1, ()), "Scorecard 'Voice' v1 has no criteria"),
        (
            lambda: Scorecard(
                "Voice",
                2,
                (Criterion("tone", "Tone", 1, FIVE), Criterion("tone", "Tone again", 1, BINARY)),
            ),
            "Scorecard 'Voice' v2: the key 'tone' is used by more than one criterion",
        ),
        (
            lambda: Scorecard("Voice", 1, (Criterion("up", "Upsell", 1, FIVE, bonus=True),)),
            "Scorecard 'Voice' v1 has only bonus criteria",
        ),
        (
            lambda: Scorecard("Voice", 1, VOICE.criteria, pass_mark=120),
            "the pass mark must be from 0 to 100, got 120",
        ),
        (lambda: Scorecard("Voice", 0, VOICE.criteria), "the version must be a whole number"),
        (lambda: Scorecard("", 1, VOICE.criteria), "A scorecard needs a name"),
    ],
)
def test_a_scorecard_an_admin_gets_wrong_is_refused_with_a_message_that_says_what_to_fix(
    build, message
):
    with pytest.raises(ValueError, match="^.*" + _escaped(message)):
        build()


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_a_criterion_accepts_its_scale_by_name():
    assert Criterion("q", "Q", 1, "1-5").scale is FIVE  # type: ignore[arg-type]


# --- answer validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({**PERFECT, "courtesy": 1}, "Scorecard 'Voice support' v3 has no criterion 'courtesy'"),
        (
            {k: v for k, v in PERFECT.items() if k != "empathy"},
            "Criterion 'empathy' (Empathy) has no answer; answer it, or mark it not applicable",
        ),
        (
            {**PERFECT, "empathy": 6},
            "Criterion 'empathy' (Empathy) is scored 1 to 5 (1 to 5); got 6",
        ),
        ({**PERFECT, "empathy": 0}, "Criterion 'empathy' (Empathy) is scored 1 to 5"),
        ({**PERFECT, "greeting": 2}, "Criterion 'greeting' (Greeting) is scored 0 to 1"),
        (
            {**PERFECT, "empathy": 4.5},
            "Criterion 'empathy' (Empathy) must be answered with a whole",
        ),
        ({**PERFECT, "upsell": 9}, "Criterion 'upsell' (Offered the upgrade) is scored 1 to 5"),
        (
            dict.fromkeys(PERFECT),
            "every criterion that counts towards the score is marked not applicable",
        ),
    ],
)
def test_answers_that_do_not_fit_the_scorecard_are_refused_naming_the_criterion(answers, message):
    with pytest.raises(ValueError, match=_escaped(message)):
        score_review(VOICE, answers)


# --- property: the score stays in range and auto-fail is absolute ---------------------------


@st.composite
def scorecards_and_answers(draw: st.DrawFn) -> tuple[Scorecard, dict[str, int | None]]:
    criteria = []
    answers: dict[str, int | None] = {}
    for index in range(draw(st.integers(1, 6))):
        scale = draw(st.sampled_from(Scale))
        bonus = index > 0 and draw(st.booleans())
        critical = not bonus and draw(st.booleans())
        threshold = (
            draw(st.none() | st.integers(scale.minimum + 1, scale.maximum)) if critical else None
        )
        weight = draw(st.floats(0.01, 50, allow_nan=False))
        key = f"c{index}"
        criteria.append(Criterion(key, key.upper(), weight, scale, critical, threshold, bonus))
        answer = draw(st.none() | st.integers(scale.minimum, scale.maximum))
        if index == 0 and answer is None:
            answer = scale.maximum
        if not (bonus and answer is None and draw(st.booleans())):
            answers[key] = answer
    return Scorecard("Generated", 1, tuple(criteria), draw(st.floats(0, 100))), answers


@settings(max_examples=400, deadline=None)
@given(scorecards_and_answers())
def test_the_score_is_always_0_to_100_and_0_whenever_a_critical_criterion_fails(generated):
    card, answers = generated

    review = score_review(card, answers)

    assert 0.0 <= review.score <= 100.0
    below = [
        c.key
        for c in card.criteria
        if c.critical and answers.get(c.key) is not None and answers[c.key] < c.pass_threshold
    ]
    if below:
        assert review.score == 0.0
        assert review.auto_failed
        assert not review.passed
        assert review.failed_criteria == tuple(below)
    else:
        assert not review.auto_failed
        assert review.score >= review.base_score - 1e-9  # a bonus can only add


# --- sampling -------------------------------------------------------------------------------

POLICY = SamplingPolicy(
    base_rate=10, first_items_full=5, raised_rate=50, raised_for=5, weekly_minimum=2
)
SETTLED = AgentHistory(on_probation=False, items_done_in_service=40, reviews_this_week=2)
ATTORNEY = MandatoryReview(
    Role.SUPERVISING_ATTORNEY.noun, "court filings are signed off before they are e-filed"
)


def key_where(*, at: int, outside: int | None = None) -> str:
    """The first generated item key inside the sample at ``at`` % and outside it at ``outside``."""
    for n in range(10_000):
        key = f"item-{n}"
        if sampled_for_qa(key, at) and (outside is None or not sampled_for_qa(key, outside)):
            return key
    raise AssertionError("no such key")


def key_outside(rate: int) -> str:
    return next(f"item-{n}" for n in range(10_000) if not sampled_for_qa(f"item-{n}", rate))


def test_mandatory_review_always_samples_and_names_the_role():
    decision = sample_decision(
        SamplingPolicy(base_rate=0, probation_full=False), SETTLED, key_outside(99), ATTORNEY
    )

    assert decision.sampled
    assert decision.rule == SampleRule.MANDATORY
    assert decision.reason == (
        "sampled because review by a supervising attorney is mandatory: "
        "court filings are signed off before they are e-filed"
    )


def test_mandatory_review_is_checked_before_probation():
    history = AgentHistory(on_probation=True)

    decision = sample_decision(
        POLICY, history, "item-1", MandatoryReview("a senior analyst", "KPO valuation")
    )

    assert decision.rule == "mandatory"
    assert "a senior analyst" in decision.reason


def test_an_agent_on_probation_has_every_item_reviewed():
    history = AgentHistory(on_probation=True, items_done_in_service=2, reviews_this_week=0)

    decision = sample_decision(POLICY, history, key_outside(99))

    assert decision.sampled
    assert decision.rule == "probation"
    assert decision.reason == "sampled because the agent is on probation (100 %)"


def test_probation_samples_nothing_extra_when_the_policy_turns_it_off():
    policy = SamplingPolicy(base_rate=10, probation_full=False)
    history = AgentHistory(on_probation=True, items_done_in_service=40)

    decision = sample_decision(policy, history, key_outside(10))

    assert not decision.sampled
    assert decision.rule == "base"


def test_an_agents_first_items_of_a_service_are_all_reviewed():
    history = AgentHistory(items_done_in_service=2, reviews_this_week=0)

    decision = sample_decision(POLICY, history, key_outside(99))

    assert decision.sampled
    assert decision.rule == "first_items"
    assert decision.reason == (
        "sampled because this is the agent's 3rd item of this service "
        "(the first 5 are all reviewed)"
    )


def test_the_item_after_the_first_n_is_no_longer_reviewed_in_full():
    history = AgentHistory(items_done_in_service=5, reviews_this_week=2)

    decision = sample_decision(POLICY, history, key_outside(10))

    assert not decision.sampled
    assert decision.rule == "base"


@pytest.mark.parametrize(
    ("done", "ordinal"),
    [
        (0, "1st"),
        (1, "2nd"),
        (3, "4th"),
        (10, "11th"),
        (11, "12th"),
        (12, "13th"),
        (20, "21st"),
        (21, "22nd"),
        (22, "23rd"),
        (100, "101st"),
        (110, "111th"),
    ],
)
def test_the_first_items_reason_counts_in_ordinals(done, ordinal):
    policy = SamplingPolicy(base_rate=10, first_items_full=200)

    decision = sample_decision(policy, AgentHistory(items_done_in_service=done), "item-1")

    assert f"this is the agent's {ordinal} item of this service" in decision.reason


def test_an_agent_short_of_the_weekly_minimum_is_sampled():
    history = AgentHistory(items_done_in_service=40, reviews_this_week=0)

    decision = sample_decision(POLICY, history, key_outside(99))

    assert decision.sampled
    assert decision.rule == "weekly_minimum"
    assert decision.reason == "sampled because the agent has had 0 of the 2 weekly minimum reviews"


def test_an_agent_who_reached_the_weekly_minimum_is_back_to_the_base_rate():
    decision = sample_decision(POLICY, SETTLED, key_outside(10))

    assert not decision.sampled
    assert decision.reason == "not sampled: outside the base rate of 10 %"


def test_after_a_failed_review_the_next_items_are_sampled_at_the_raised_rate():
    history = AgentHistory(items_done_in_service=40, items_since_last_fail=2, reviews_this_week=2)

    decision = sample_decision(POLICY, history, key_where(at=50, outside=10))

    assert decision.sampled
    assert decision.rule == "raised"
    assert decision.reason == (
        "sampled because the agent failed a review 2 items ago (raised rate 50 %)"
    )


@pytest.mark.parametrize(
    ("since", "when"),
    [
        (0, "the agent failed a review and has finished no item since"),
        (1, "the agent failed a review 1 item ago"),
        (4, "the agent failed a review 4 items ago"),
    ],
)
def test_the_raised_rate_reason_says_how_long_ago_the_review_failed(since, when):
    history = AgentHistory(
        items_done_in_service=40, items_since_last_fail=since, reviews_this_week=2
    )

    sampled = sample_decision(POLICY, history, key_where(at=50, outside=10))
    skipped = sample_decision(POLICY, history, key_outside(50))

    assert sampled.reason == f"sampled because {when} (raised rate 50 %)"
    assert not skipped.sampled
    assert skipped.rule == "raised"
    assert skipped.reason == f"not sampled: outside the raised rate of 50 % ({when})"


def test_the_raised_rate_ends_after_the_set_number_of_items():
    history = AgentHistory(items_done_in_service=40, items_since_last_fail=5, reviews_this_week=2)

    decision = sample_decision(POLICY, history, key_where(at=50, outside=10))

    assert not decision.sampled
    assert decision.rule == "base"


def test_an_item_is_sampled_at_the_base_rate():
    decision = sample_decision(POLICY, SETTLED, key_where(at=10))

    assert decision.sampled
    assert decision.rule == "base"
    assert decision.reason == "sampled at the base rate of 10 %"


@pytest.mark.parametrize(
    ("history", "rule"),
    [
        (
            AgentHistory(on_probation=True, items_done_in_service=0, items_since_last_fail=0),
            "probation",
        ),
        (AgentHistory(items_done_in_service=0, items_since_last_fail=0), "first_items"),
        (AgentHistory(items_done_in_service=40, items_since_last_fail=0), "weekly_minimum"),
    ],
)
def test_when_several_rules_apply_the_earlier_one_gives_the_reason(history, rule):
    assert sample_decision(POLICY, history, "item-7").rule == rule


def test_the_same_item_and_history_always_get_the_same_decision():
    history = AgentHistory(items_done_in_service=40, items_since_last_fail=1, reviews_this_week=2)
    keys = [f"claim-{n}" for n in range(500)]

    first = [sample_decision(POLICY, history, key) for key in keys]
    again = [sample_decision(POLICY, history, key) for key in keys]

    assert first == again
    assert len({d.sampled for d in first}) == 2  # both answers occur


@pytest.mark.parametrize("rate", [10, 25])
def test_the_base_rate_samples_its_share_of_10000_items(rate):
    policy = SamplingPolicy(base_rate=rate)
    sampled = sum(
        sample_decision(policy, SETTLED, f"engagement-7:item-{n}").sampled for n in range(10_000)
    )

    assert abs(sampled / 10_000 - rate / 100) <= 0.02


def test_the_raised_rate_samples_its_share_and_keeps_every_base_rate_item():
    history = AgentHistory(items_done_in_service=40, items_since_last_fail=0, reviews_this_week=2)
    keys = [f"engagement-7:item-{n}" for n in range(10_000)]

    raised = {k for k in keys if sample_decision(POLICY, history, k).sampled}
    base = {k for k in keys if sample_decision(POLICY, SETTLED, k).sampled}

    assert abs(len(raised) / 10_000 - 0.50) <= 0.02
    assert base <= raised


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: SamplingPolicy(base_rate=101),
            "the base rate must be a whole percentage from 0 to 100",
        ),
        (lambda: SamplingPolicy(base_rate=-1), "the base rate must be a whole percentage"),
        (
            lambda: SamplingPolicy(base_rate=10, raised_rate=5, raised_for=3),
            "the raised rate (5 %) after a failed review must not be below the base rate (10 %)",
        ),
        (
            lambda: SamplingPolicy(base_rate=10, weekly_minimum=-1),
            "the weekly minimum must be a whole number from 0",
        ),
        (lambda: AgentHistory(items_done_in_service=-1), "items done in the service must be"),
        (lambda: AgentHistory(items_since_last_fail=-3), "items since the last failed review"),
        (lambda: MandatoryReview("", "filings"), "must name the role"),
        (lambda: MandatoryReview("a supervising attorney", " "), "must say why"),
    ],
)
def test_sampling_settings_that_make_no_sense_are_refused(build, message):
    with pytest.raises(ValueError, match=_escaped(message)):
        build()


def test_a_zero_base_rate_samples_nothing_but_the_rules_still_apply():
    policy = SamplingPolicy(base_rate=0, first_items_full=1)

    later = sample_decision(policy, AgentHistory(items_done_in_service=3), key_where(at=99))
    first = sample_decision(policy, AgentHistory(items_done_in_service=0), key_outside(99))

    assert not later.sampled
    assert later.reason == "not sampled: outside the base rate of 0 %"
    assert first.sampled


def test_the_weekly_minimum_is_at_risk_when_too_few_items_are_left():
    policy = SamplingPolicy(base_rate=10, weekly_minimum=3)

    assert weekly_minimum_at_risk(
        policy, AgentHistory(reviews_this_week=1, items_left_this_week_estimate=1)
    )
    assert not weekly_minimum_at_risk(
        policy, AgentHistory(reviews_this_week=1, items_left_this_week_estimate=2)
    )
    assert not weekly_minimum_at_risk(policy, AgentHistory(reviews_this_week=0))


# --- disputes and reviewers -----------------------------------------------------------------


def test_an_agent_may_dispute_a_review_once():
    assert may_dispute(0)
    assert not may_dispute(1)
    assert not may_dispute(2)
    with pytest.raises(ValueError, match="from 0"):
        may_dispute(-1)


def test_a_reviewer_never_reviews_work_they_did():
    assert not may_review(7, [3, 7])
    assert not may_review("anna", ("anna",))
    assert may_review(7, [3, 4])
    assert may_review(7, [])


# --- calibration ----------------------------------------------------------------------------

SESSION = {
    "alice": {"i1": 80, "i2": 90, "i3": 70},
    "bob": {"i1": 60, "i2": 100},
    "cara": {"i1": 85, "i3": 72},
}
LEAD_SCORES = {"i1": 82, "i2": 94, "i3": 70}


def test_calibration_reports_the_spread_of_each_items_scores():
    result = calibration(SESSION, LEAD_SCORES)

    i1, i2, i3 = result.items["i1"], result.items["i2"], result.items["i3"]
    assert (i1.count, i1.minimum, i1.maximum, i1.spread, i1.mean) == (3, 60, 85, 25, 75)
    # deviations from 75: 5, -15, 10 -> variance 350 / 3
    assert i1.stdev == pytest.approx(math.sqrt(350 / 3))
    assert (i2.spread, i2.stdev) == (10, 5)
    assert (i3.spread, i3.stdev) == (2, 1)
    assert i1.benchmark == 82


def test_calibration_measures_each_reviewer_against_the_lead():
    result = calibration(SESSION, LEAD_SCORES)

    alice, bob, cara = (result.reviewers[name] for name in ("alice", "bob", "cara"))
    # alice: -2, -4, 0
    assert (alice.compared, alice.mean_abs_difference, alice.mean_difference) == (3, 2.0, -2.0)
    assert alice.aligned
    # bob: -22, +6 (he did not score i3)
    assert (bob.compared, bob.mean_abs_difference, bob.mean_difference) == (2, 14.0, -8.0)
    assert not bob.aligned
    # cara: +3, +2
    assert (cara.compared, cara.mean_abs_difference, cara.mean_difference) == (2, 2.5, 2.5)
    assert cara.aligned
    assert result.misaligned == ("bob",)


@pytest.mark.parametrize(("score", "aligned"), [(87, True), (87.5, False), (77, True)])
def test_a_reviewer_exactly_at_the_tolerance_is_aligned(score, aligned):
    result = calibration({"dan": {"i1": score}}, {"i1": 82})

    assert result.reviewers["dan"].aligned is aligned


def test_the_tolerance_can_be_tightened():
    result = calibration(SESSION, LEAD_SCORES, tolerance=2.0)

    assert result.misaligned == ("bob", "cara")


def test_a_reviewer_with_nothing_benchmarked_cannot_be_called_aligned():
    result = calibration({**SESSION, "dave": {"i4": 50}}, LEAD_SCORES)

    dave = result.reviewers["dave"]
    assert (dave.compared, dave.mean_abs_difference, dave.aligned) == (0, None, False)
    assert result.items["i4"].benchmark is None
    assert result.items["i4"].spread == 0


@pytest.mark.parametrize(
    ("scores", "benchmark", "message"),
    [
        ({}, LEAD_SCORES, "at least one reviewer"),
        (SESSION, {}, "the lead's benchmark"),
        ({"eve": {}}, LEAD_SCORES, "Reviewer 'eve' scored no item"),
        (
            {"eve": {"i1": 120}},
            LEAD_SCORES,
            "Reviewer 'eve', item 'i1': a score must be a number from 0 to 100",
        ),
        (SESSION, {"i1": -1}, "Benchmark for 'i1'"),
    ],
)
def test_calibration_without_usable_scores_is_refused(scores, benchmark, message):
    with pytest.raises(ValueError, match=_escaped(message)):
        calibration(scores, benchmark)


# --- quality summary ------------------------------------------------------------------------


def test_the_quality_summary_rolls_reviews_up():
    reviews = [
        score_review(VOICE, TYPICAL),  # 80, passed, defects: Soft skills, Resolution
        score_review(VOICE, {**PERFECT, "disclosure": 3}),  # auto-fail, defect: Compliance
        score_review(VOICE, {**PERFECT, "upsell": 1}),  # 100, a missed bonus is no defect
    ]

    summary = quality_summary(reviews)

    assert summary.count == 3
    assert summary.mean_score == 60.0
    assert summary.pass_rate == pytest.approx(2 / 3)
    assert summary.auto_fail_count == 1
    # full marks on 3 + 4 + 5 of 15 answered scored criteria
    assert summary.accuracy == pytest.approx(12 / 15)
    assert summary.defect_counts == {"Compliance": 1, "Resolution": 1, "Soft skills": 1}


def test_defect_counts_count_reviews_per_category_most_frequent_first():
    reviews = [
        score_review(VOICE, TYPICAL),
        score_review(VOICE, {**PERFECT, "resolution": 4}),
    ]

    summary = quality_summary(reviews)

    assert list(summary.defect_counts.items()) == [("Resolution", 2), ("Soft skills", 1)]


def test_an_empty_period_has_no_averages():
    summary = quality_summary([])

    assert (summary.count, summary.mean_score, summary.pass_rate, summary.accuracy) == (
        0,
        None,
        None,
        None,
    )
    assert summary.auto_fail_count == 0
    assert summary.defect_counts == {}
