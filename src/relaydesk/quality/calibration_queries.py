"""Reads of calibration sessions, each narrowed to what the actor may see, and their figures.

Calibration is the provider's: whoever may run sessions (operations leads, provider
admins) sees every one; a reviewer sees the sessions they are invited to. A client's
people see none. Scores are blind while a session is open: everyone reads only their
own, and the lead only how far each person has got. Once it is closed, everyone who
sees the session reads every score and the figures of
:func:`relaydesk.core.quality.calibration`.

Reviewers read the items of a session through the session (:func:`session_item`);
this never widens what they see elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core import quality as qa
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.quality.models import (
    CalibrationItem,
    CalibrationParticipant,
    CalibrationScore,
    CalibrationSession,
)
from relaydesk.quality.queries import CriterionField, answer_label, criterion_fields
from relaydesk.work.models import Attachment, Comment, WorkItem, WorkItemEvent

__all__ = [
    "CANDIDATE_LIMIT",
    "AlignmentRow",
    "CalibrationFigures",
    "CalibrationItemPage",
    "Candidate",
    "CriterionAgreement",
    "ScorerProgress",
    "SessionPage",
    "SessionRow",
    "SpreadRow",
    "and_list",
    "calibration_candidates",
    "calibration_figures",
    "calibration_item_page",
    "calibration_reviewers",
    "close_blocker",
    "core_calibration",
    "get_visible_session",
    "scores_here",
    "session_item",
    "session_items",
    "session_page",
    "session_rows",
    "visible_calibration_scores",
    "visible_calibration_sessions",
    "workers_by_item",
]

CANDIDATE_LIMIT = 30
"""How many recently finished items (in review, reviewed or delivered) the lead picks from."""

_FINISHED = (State.IN_REVIEW.value, State.DELIVERED.value, State.ACCEPTED.value)


def _sessions() -> QuerySet[CalibrationSession]:
    return CalibrationSession.objects.select_related(
        "client", "engagement", "scorecard_version__scorecard", "created_by"
    )


def visible_calibration_sessions(actor: User) -> QuerySet[CalibrationSession]:
    """The sessions ``actor`` may open: all for those who run them, else those they are invited
    to (none for a client's people)."""
    role = actor.role_enum
    if actor.is_client_user or not actor.is_active:
        return CalibrationSession.objects.none()
    if can(role, Permission.RUN_CALIBRATION):
        return _sessions()
    if can(role, Permission.TAKE_PART_IN_CALIBRATION):
        invited = CalibrationParticipant.objects.filter(reviewer=actor).values("session_id")
        return _sessions().filter(pk__in=invited)
    return CalibrationSession.objects.none()


def get_visible_session(actor: User, session_id: int) -> CalibrationSession | None:
    """The session if ``actor`` may open it, else ``None`` (so callers answer 404)."""
    return visible_calibration_sessions(actor).filter(pk=session_id).first()


def visible_calibration_scores(
    actor: User, session: CalibrationSession
) -> QuerySet[CalibrationScore]:
    """The scores of ``session`` that ``actor`` may read: only their own while it is open
    (scoring is blind), every one once it is closed."""
    if get_visible_session(actor, session.pk) is None:
        return CalibrationScore.objects.none()
    scores = CalibrationScore.objects.filter(session=session).select_related("scorer")
    if session.is_open:
        return scores.filter(scorer=actor)
    return scores


def session_item(actor: User, session: CalibrationSession, item_id: int) -> WorkItem | None:
    """An item of ``session``, read through the session by someone who may open it."""
    if get_visible_session(actor, session.pk) is None:
        return None
    in_session = CalibrationItem.objects.filter(session=session).values("item_id")
    return (
        WorkItem.objects.select_related("client", "engagement", "service", "service__line")
        .filter(pk=item_id, pk__in=in_session)
        .first()
    )


def scores_here(actor: User, session: CalibrationSession) -> bool:
    """True when ``actor`` scores this session: its lead (the benchmark) or an invited reviewer."""
    if session.created_by_id == actor.pk:
        return can(actor.role_enum, Permission.RUN_CALIBRATION)
    return (
        can(actor.role_enum, Permission.TAKE_PART_IN_CALIBRATION)
        and CalibrationParticipant.objects.filter(session=session, reviewer=actor).exists()
    )


# --- choosing items and reviewers ---------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A finished item the lead may put in a session, with who worked on it."""

    item: WorkItem
    workers: tuple[str, ...]
    reviewed: bool


def workers_by_item(items: Iterable[WorkItem]) -> dict[int, set[int]]:
    """Everyone who worked on each item: its owner and whoever started or completed it (the
    rule reviews follow, read for many items at once)."""
    found: dict[int, set[int]] = {}
    for item in items:
        found[item.pk] = {item.owner_id} if item.owner_id is not None else set()
    worked = WorkItemEvent.objects.filter(
        item_id__in=list(found),
        kind__in=(Action.START.value, Action.COMPLETE.value),
        actor__isnull=False,
    ).values_list("item_id", "actor_id")
    for item_id, actor_id in worked:
        found[item_id].add(actor_id)
    return found


def calibration_candidates(
    actor: User, engagement: Engagement, service_id: int | None = None
) -> list[Candidate]:
    """The engagement's last :data:`CANDIDATE_LIMIT` finished items (in review, reviewed or
    delivered), most recently changed first; only those of one service when it is given."""
    from relaydesk.work.queries import visible_work_items

    if not can(actor.role_enum, Permission.RUN_CALIBRATION):
        return []
    finished = visible_work_items(actor).filter(engagement=engagement)
    if service_id is not None:
        finished = finished.filter(service_id=service_id)
    items = list(
        finished.filter(Q(state__in=_FINISHED) | Q(reviews__isnull=False))
        .exclude(state=State.CANCELLED.value)
        .distinct()
        .order_by("-updated_at", "-pk")[:CANDIDATE_LIMIT]
    )
    workers = workers_by_item(items)
    names = dict(
        User.objects.filter(pk__in={w for ids in workers.values() for w in ids}).values_list(
            "pk", "full_name"
        )
    )
    reviewed = set(
        WorkItem.objects.filter(pk__in=[i.pk for i in items], reviews__isnull=False).values_list(
            "pk", flat=True
        )
    )
    return [
        Candidate(
            item=item,
            workers=tuple(sorted(names[w] for w in workers[item.pk] if w in names)),
            reviewed=item.pk in reviewed,
        )
        for item in items
    ]


def calibration_reviewers(actor: User) -> list[User]:
    """Active provider staff who may take part in calibration, other than ``actor``."""
    roles = sorted(role.value for role in roles_with(Permission.TAKE_PART_IN_CALIBRATION))
    return list(
        User.objects.filter(is_active=True, client__isnull=True, role__in=roles)
        .exclude(pk=actor.pk)
        .order_by("full_name", "email")
    )


# --- the list of sessions -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScorerProgress:
    """How many of a session's items one person has scored (never what they scored)."""

    name: str
    scored: int
    total: int
    is_benchmark: bool = False

    @property
    def finished(self) -> bool:
        """True when every item is scored."""
        return self.scored >= self.total


@dataclass(frozen=True)
class SessionRow:
    """A session in the list: how far it has got, as the actor may know it."""

    session: CalibrationSession
    items: int
    reviewers: int
    finished_reviewers: int
    benchmark_scored: int
    mine: int | None


def _counts(
    sessions: list[CalibrationSession],
) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """Items per session, and scores per (session, scorer)."""
    ids = [s.pk for s in sessions]
    items: dict[int, int] = {}
    for session_id in CalibrationItem.objects.filter(session_id__in=ids).values_list(
        "session_id", flat=True
    ):
        items[session_id] = items.get(session_id, 0) + 1
    scored: dict[tuple[int, int], int] = {}
    for session_id, scorer_id in CalibrationScore.objects.filter(session_id__in=ids).values_list(
        "session_id", "scorer_id"
    ):
        scored[(session_id, scorer_id)] = scored.get((session_id, scorer_id), 0) + 1
    return items, scored


def session_rows(actor: User) -> list[SessionRow]:
    """The sessions ``actor`` may open, open ones first (newest first within each)."""
    sessions = list(visible_calibration_sessions(actor).order_by("-state", "-created_at", "-pk"))
    # "open" sorts after "closed", so descending puts the open sessions first.
    items, scored = _counts(sessions)
    invited: dict[int, list[int]] = {}
    for session_id, reviewer_id in CalibrationParticipant.objects.filter(
        session_id__in=[s.pk for s in sessions]
    ).values_list("session_id", "reviewer_id"):
        invited.setdefault(session_id, []).append(reviewer_id)
    rows = []
    for session in sessions:
        total = items.get(session.pk, 0)
        reviewers = invited.get(session.pk, [])
        takes_part = session.created_by_id == actor.pk or actor.pk in reviewers
        rows.append(
            SessionRow(
                session=session,
                items=total,
                reviewers=len(reviewers),
                finished_reviewers=sum(
                    1 for r in reviewers if scored.get((session.pk, r), 0) >= total
                ),
                benchmark_scored=scored.get((session.pk, session.created_by_id), 0),
                mine=scored.get((session.pk, actor.pk), 0) if takes_part else None,
            )
        )
    return rows


# --- figures of a closed session ----------------------------------------------------------------


@dataclass(frozen=True)
class SpreadRow:
    """One item's spread: the reviewers' scores drawn on a 0-100 line with the benchmark."""

    item: WorkItem
    spread: qa.ItemSpread | None
    marks: tuple[float, ...] = ()

    @property
    def range_width(self) -> float:
        """The width of the min-max bar on the 0-100 line (a sliver when everyone agreed)."""
        if self.spread is None:
            return 0.0
        return max(self.spread.spread, 0.6)


@dataclass(frozen=True)
class AlignmentRow:
    """One reviewer's alignment with the benchmark, and its bar on the chart's scale."""

    name: str
    alignment: qa.ReviewerAlignment | None
    scale: float

    @property
    def aligned(self) -> bool:
        """True when within the tolerance (never for a reviewer who scored nothing)."""
        return self.alignment is not None and self.alignment.aligned

    @property
    def leaning(self) -> str:
        """Harsher or more lenient than the lead, in words."""
        if self.alignment is None or self.alignment.mean_difference is None:
            return ""
        difference = self.alignment.mean_difference
        if abs(difference) < 0.005:
            return "level with the benchmark"
        way = "harsher" if difference < 0 else "more lenient"
        return f"{way} by {abs(difference):.2f} points on average"

    @property
    def bar_width(self) -> float:
        """The mean absolute difference on the chart (0-100 of its width)."""
        if self.alignment is None or self.alignment.mean_abs_difference is None:
            return 0.0
        return min(100.0, self.alignment.mean_abs_difference / self.scale * 100)

    @property
    def tolerance_at(self) -> float:
        """Where the tolerance line sits on the chart (0-100 of its width)."""
        if self.alignment is None:
            return 0.0
        return min(100.0, self.alignment.tolerance / self.scale * 100)


@dataclass(frozen=True)
class CriterionAgreement:
    """How often reviewers gave the benchmark's answer to one criterion."""

    key: str
    label: str
    agreed: int
    compared: int
    differed_on: tuple[str, ...] = ()

    @property
    def share(self) -> float | None:
        """The share (0 to 1) of reviewers' answers that matched the benchmark."""
        return self.agreed / self.compared if self.compared else None

    @property
    def percent(self) -> float:
        """The share as a percentage, for the bar."""
        return 100 * (self.share or 0.0)


@dataclass(frozen=True)
class CalibrationFigures:
    """A closed session's results: spread per item, alignment per reviewer, agreement per
    criterion (most disagreement first)."""

    result: qa.CalibrationResult
    items: tuple[SpreadRow, ...]
    reviewers: tuple[AlignmentRow, ...]
    criteria: tuple[CriterionAgreement, ...]
    scale: float
    aligned: int = 0

    @property
    def compared(self) -> int:
        """How many reviewers scored at least one item."""
        return sum(1 for row in self.reviewers if row.alignment is not None)


def _float(score: Decimal) -> float:
    return float(score)


def core_calibration(
    session: CalibrationSession, scores: Iterable[CalibrationScore]
) -> qa.CalibrationResult | None:
    """The core's figures from stored scores (reviewers keyed by user id, items by item id);
    ``None`` while there is no benchmark or no reviewer's score."""
    by_reviewer: dict[str, dict[str, float]] = {}
    benchmark: dict[str, float] = {}
    for score in scores:
        if score.is_benchmark:
            benchmark[str(score.item_id)] = _float(score.score)
        else:
            by_reviewer.setdefault(str(score.scorer_id), {})[str(score.item_id)] = _float(
                score.score
            )
    if not by_reviewer or not benchmark:
        return None
    return qa.calibration(by_reviewer, benchmark, float(session.tolerance))


def _chart_scale(result: qa.CalibrationResult) -> float:
    """Points across the alignment chart: room for the largest difference and the tolerance."""
    largest = max(
        [r.mean_abs_difference or 0.0 for r in result.reviewers.values()] + [result.tolerance]
    )
    steps = int(largest * 1.2 // 5) + 1
    return float(max(10, steps * 5))


def _agreement(
    card: qa.Scorecard, scores: list[CalibrationScore], references: dict[int, str]
) -> tuple[CriterionAgreement, ...]:
    benchmark = {s.item_id: s.answers for s in scores if s.is_benchmark}
    rows = []
    for order, criterion in enumerate(card.criteria):
        agreed = compared = 0
        differed: list[int] = []
        for score in scores:
            if score.is_benchmark or score.item_id not in benchmark:
                continue
            compared += 1
            # Not applicable and left out read the same: no answer.
            if score.answers.get(criterion.key) == benchmark[score.item_id].get(criterion.key):
                agreed += 1
            elif score.item_id not in differed:
                differed.append(score.item_id)
        rows.append(
            (
                order,
                CriterionAgreement(
                    key=criterion.key,
                    label=criterion.label,
                    agreed=agreed,
                    compared=compared,
                    differed_on=tuple(references[i] for i in sorted(differed) if i in references),
                ),
            )
        )
    rows.sort(key=lambda pair: (1.0 if pair[1].share is None else pair[1].share, pair[0]))
    return tuple(row for _, row in rows)


def calibration_figures(actor: User, session: CalibrationSession) -> CalibrationFigures | None:
    """The results of a closed session for someone who may open it; ``None`` while it is open
    (scores are blind until the lead closes it) or when there is nothing to compare."""
    if session.is_open or get_visible_session(actor, session.pk) is None:
        return None
    scores = list(visible_calibration_scores(actor, session))
    result = core_calibration(session, scores)
    if result is None:
        return None
    items = [
        ci.item
        for ci in CalibrationItem.objects.filter(session=session).select_related(
            "item", "item__service"
        )
    ]
    references = {item.pk: item.reference for item in items}
    marks: dict[int, list[float]] = {}
    for score in scores:
        if not score.is_benchmark:
            marks.setdefault(score.item_id, []).append(_float(score.score))
    spread = tuple(
        SpreadRow(
            item=item,
            spread=result.items.get(str(item.pk)),
            marks=tuple(sorted(marks.get(item.pk, []))),
        )
        for item in items
    )
    scale = _chart_scale(result)
    invited = CalibrationParticipant.objects.filter(session=session).select_related("reviewer")
    reviewers = tuple(
        AlignmentRow(
            name=p.reviewer.full_name or p.reviewer.email,
            alignment=result.reviewers.get(str(p.reviewer_id)),
            scale=scale,
        )
        for p in invited
    )
    try:
        card = session.scorecard_version.to_core()
    except ValueError:
        criteria: tuple[CriterionAgreement, ...] = ()
    else:
        criteria = _agreement(card, scores, references)
    return CalibrationFigures(
        result=result,
        items=spread,
        reviewers=reviewers,
        criteria=criteria,
        scale=scale,
        aligned=sum(1 for row in reviewers if row.aligned),
    )


# --- the session page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionItemRow:
    """An item of the session with the actor's own score of it, if any."""

    item: WorkItem
    mine: CalibrationScore | None


@dataclass(frozen=True)
class SessionPage:
    """What the session page shows the actor, blind while the session is open."""

    session: CalibrationSession
    items: tuple[SessionItemRow, ...]
    is_lead: bool
    scores_here: bool
    progress: tuple[ScorerProgress, ...]
    figures: CalibrationFigures | None
    close_blocker: str = ""

    @property
    def scored_by_me(self) -> int:
        """How many items the actor has scored."""
        return sum(1 for row in self.items if row.mine is not None)

    @property
    def next_to_score(self) -> WorkItem | None:
        """The first item the actor has not scored yet."""
        return next((row.item for row in self.items if row.mine is None), None)


def session_items(session: CalibrationSession) -> list[WorkItem]:
    """The session's items, in the order its reviewers go through them."""
    return [
        ci.item
        for ci in CalibrationItem.objects.filter(session=session).select_related(
            "item", "item__service", "item__client"
        )
    ]


def close_blocker(session: CalibrationSession, items: list[WorkItem]) -> str:
    """Why the lead cannot close the session yet; empty when they can."""
    scores = CalibrationScore.objects.filter(session=session)
    benchmarked = set(scores.filter(is_benchmark=True).values_list("item_id", flat=True))
    missing = [item.reference for item in items if item.pk not in benchmarked]
    if missing:
        return (
            f"Score the benchmark for {and_list(missing)} first: every reviewer is compared "
            "with it."
        )
    if not scores.filter(is_benchmark=False).exists():
        return "No reviewer has scored an item yet; close the session once at least one has."
    return ""


def and_list(words: list[str]) -> str:
    """Words as a sentence lists them: "RD-1, RD-2 and RD-3"."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def session_page(actor: User, session: CalibrationSession) -> SessionPage:
    """The session as ``actor`` sees it: their own scores, progress counts for those who run
    sessions, and the figures once it is closed."""
    items = session_items(session)
    mine = {s.item_id: s for s in visible_calibration_scores(actor, session).filter(scorer=actor)}
    progress: tuple[ScorerProgress, ...] = ()
    if can(actor.role_enum, Permission.RUN_CALIBRATION):
        counts: dict[int, int] = {}
        for scorer_id in CalibrationScore.objects.filter(session=session).values_list(
            "scorer_id", flat=True
        ):
            counts[scorer_id] = counts.get(scorer_id, 0) + 1
        lead = session.created_by
        progress = (
            ScorerProgress(
                name=f"{lead.full_name} (benchmark)",
                scored=counts.get(lead.pk, 0),
                total=len(items),
                is_benchmark=True,
            ),
            *(
                ScorerProgress(
                    name=p.reviewer.full_name or p.reviewer.email,
                    scored=counts.get(p.reviewer_id, 0),
                    total=len(items),
                )
                for p in CalibrationParticipant.objects.filter(session=session).select_related(
                    "reviewer"
                )
            ),
        )
    is_lead = session.created_by_id == actor.pk
    return SessionPage(
        session=session,
        items=tuple(SessionItemRow(item=item, mine=mine.get(item.pk)) for item in items),
        is_lead=is_lead,
        scores_here=scores_here(actor, session),
        progress=progress,
        figures=calibration_figures(actor, session),
        close_blocker=close_blocker(session, items) if is_lead and session.is_open else "",
    )


# --- the scoring page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerCompared:
    """One criterion of a closed session's item: the benchmark's answer and everyone's."""

    label: str
    benchmark: str
    answers: tuple[tuple[str, str, bool], ...]


@dataclass(frozen=True)
class ScoreShown:
    """Someone's score of the item, shown once the session is closed."""

    name: str
    score: CalibrationScore
    differs: int


@dataclass(frozen=True)
class CalibrationItemPage:
    """One item of a session: what was asked and delivered, and the scorecard form."""

    session: CalibrationSession
    item: WorkItem
    number: int
    total: int
    previous: WorkItem | None
    following: WorkItem | None
    comments: tuple[Comment, ...]
    attachments: tuple[Attachment, ...]
    scores_here: bool
    as_benchmark: bool
    fields: tuple[CriterionField, ...]
    mine: CalibrationScore | None
    pass_mark: str
    comments_text: str = ""
    error: str = ""
    compared: tuple[AnswerCompared, ...] = ()
    scores: tuple[ScoreShown, ...] = ()

    @property
    def can_score(self) -> bool:
        """True while the session is open, for its lead and its invited reviewers."""
        return self.scores_here and self.session.is_open


def _as_form(answers: dict[str, int | None]) -> dict[str, str]:
    return {f"answer-{k}": "na" if v is None else str(v) for k, v in answers.items()}


def _compared(
    card: qa.Scorecard, scores: list[CalibrationScore]
) -> tuple[tuple[AnswerCompared, ...], tuple[ScoreShown, ...]]:
    bench = next((s for s in scores if s.is_benchmark), None)
    reviewers = [s for s in scores if not s.is_benchmark]
    if bench is None:
        return (), ()

    def name(score: CalibrationScore) -> str:
        return score.scorer.full_name or score.scorer.email

    compared = tuple(
        AnswerCompared(
            label=c.label,
            benchmark=answer_label(c, bench.answers.get(c.key)),
            answers=tuple(
                (
                    name(s),
                    answer_label(c, s.answers.get(c.key)),
                    s.answers.get(c.key) != bench.answers.get(c.key),
                )
                for s in reviewers
            ),
        )
        for c in card.criteria
    )
    shown = tuple(
        ScoreShown(
            name=name(s),
            score=s,
            differs=sum(
                1 for c in card.criteria if s.answers.get(c.key) != bench.answers.get(c.key)
            ),
        )
        for s in [bench, *reviewers]
    )
    return compared, shown


def calibration_item_page(
    actor: User,
    session: CalibrationSession,
    item: WorkItem,
    *,
    answers: dict[str, str] | None = None,
    comments: str | None = None,
    error: str = "",
) -> CalibrationItemPage:
    """The scoring page of one item of the session for ``actor``. ``answers``, ``comments``
    and ``error`` fill the form again after a refused score."""
    items = session_items(session)
    at = next(i for i, each in enumerate(items) if each.pk == item.pk)
    visible = list(visible_calibration_scores(actor, session).filter(item=item))
    mine = next((s for s in visible if s.scorer_id == actor.pk), None)
    try:
        card: qa.Scorecard | None = session.scorecard_version.to_core()
    except ValueError:
        card = None
    given = answers if answers is not None else (_as_form(mine.answers) if mine else {})
    compared: tuple[AnswerCompared, ...] = ()
    shown: tuple[ScoreShown, ...] = ()
    if card is not None and not session.is_open:
        compared, shown = _compared(card, visible)
    return CalibrationItemPage(
        session=session,
        item=item,
        number=at + 1,
        total=len(items),
        previous=items[at - 1] if at > 0 else None,
        following=items[at + 1] if at + 1 < len(items) else None,
        comments=tuple(item.comments.select_related("author")),
        attachments=tuple(item.attachments.select_related("uploaded_by")),
        scores_here=scores_here(actor, session),
        as_benchmark=session.created_by_id == actor.pk,
        fields=criterion_fields(card, given) if card is not None else (),
        mine=mine,
        pass_mark=f"{float(session.scorecard_version.pass_mark):g}",
        comments_text=comments if comments is not None else (mine.comments if mine else ""),
        error=error,
        compared=compared,
        scores=shown,
    )
