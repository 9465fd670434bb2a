"""Every write of calibration: opening a session, scoring its items, closing it.

Each ``do_*`` function checks who may act, changes state in one transaction and
writes the audit record there. See :mod:`relaydesk.quality.calibration_queries`
for who sees what.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.dateformat import format as date_format

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Engagement
from relaydesk.core import quality as qa
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.quality.calibration_queries import (
    and_list,
    close_blocker,
    core_calibration,
    get_visible_session,
    session_items,
    workers_by_item,
)
from relaydesk.quality.models import (
    CalibrationItem,
    CalibrationParticipant,
    CalibrationScore,
    CalibrationSession,
    CalibrationState,
    ScorecardVersion,
)
from relaydesk.quality.queries import scorecard_for
from relaydesk.work.models import WorkItem

__all__ = [
    "MAX_ITEMS",
    "MIN_ITEMS",
    "MIN_REVIEWERS",
    "do_close_calibration",
    "do_open_calibration",
    "do_score_calibration_item",
]

MIN_ITEMS = 2
MAX_ITEMS = 30
MIN_REVIEWERS = 2
MAX_TITLE = 200
MAX_TEXT = 20_000


def _tolerance(value: Decimal | float | str) -> Decimal:
    try:
        points = Decimal(str(value).strip())
    except InvalidOperation:
        points = Decimal("NaN")
    if not points.is_finite() or not 0 <= points <= 100:
        raise Invalid(
            "The tolerance is a number of points from 0 to 100 (how far a reviewer's mean "
            f"may be from the benchmark), e.g. {qa.ALIGNMENT_TOLERANCE:g}."
        )
    return points.quantize(Decimal("0.01"))


def _items(lead: User, engagement: Engagement, item_ids: Sequence[int]) -> list[WorkItem]:
    """The chosen items, in the order given, each checked to be finished work of the
    engagement."""
    from relaydesk.work.queries import visible_work_items

    wanted = list(dict.fromkeys(item_ids))
    if len(wanted) < MIN_ITEMS:
        raise Invalid(
            f"Choose at least {MIN_ITEMS} items: calibration compares scores of the same items."
        )
    if len(wanted) > MAX_ITEMS:
        raise Invalid(
            f"Choose at most {MAX_ITEMS} items ({len(wanted)} chosen); split a larger set "
            "into several sessions."
        )
    found = {
        item.pk: item
        for item in visible_work_items(lead).filter(pk__in=wanted, engagement=engagement)
    }
    outside = [f"RD-{pk}" for pk in wanted if pk not in found]
    if outside:
        verb = "is not an item" if len(outside) == 1 else "are not items"
        raise Invalid(
            f"{and_list(outside)} {verb} of {engagement.name} ({engagement.client}); "
            "a session calibrates items of one engagement."
        )
    items = [found[pk] for pk in wanted]
    completed = set(
        WorkItem.objects.filter(pk__in=wanted, events__kind=Action.COMPLETE.value).values_list(
            "pk", flat=True
        )
    )
    unfinished = [
        item.reference
        for item in items
        if item.pk not in completed or item.state == State.CANCELLED.value
    ]
    if unfinished:
        verb = "has" if len(unfinished) == 1 else "have"
        raise Invalid(
            f"{and_list(unfinished)} {verb} no finished work to score yet; choose items that "
            "were completed (reviewed or delivered)."
        )
    return items


def _scorecard(items: list[WorkItem]) -> ScorecardVersion:
    """The one scorecard version the items are scored with now."""
    versions: dict[int, tuple[ScorecardVersion, list[str]]] = {}
    for item in items:
        version = scorecard_for(item.service)
        if version is None:
            raise Invalid(
                f"There is no scorecard for {item.service.name} ({item.reference}); a provider "
                "admin publishes one in the back office."
            )
        versions.setdefault(version.pk, (version, []))[1].append(item.reference)
    if len(versions) > 1:
        parts = [f"{and_list(refs)} with {version}" for version, refs in versions.values()]
        raise Invalid(
            "These items are scored with different scorecards: "
            + "; ".join(parts)
            + ". Choose items that one scorecard applies to."
        )
    return next(iter(versions.values()))[0]


def _reviewers(lead: User, reviewer_ids: Sequence[int]) -> list[User]:
    """The invited reviewers, each an active member of staff who may take part."""
    wanted = list(dict.fromkeys(reviewer_ids))
    if lead.pk in wanted:
        raise Invalid("You score the benchmark yourself; invite other reviewers.")
    if len(wanted) < MIN_REVIEWERS:
        raise Invalid(
            f"Invite at least {MIN_REVIEWERS} reviewers: calibration compares reviewers with "
            "each other and with your benchmark."
        )
    found = {user.pk: user for user in User.objects.filter(pk__in=wanted)}
    roles = roles_with(Permission.TAKE_PART_IN_CALIBRATION)
    who = ", ".join(sorted(role.label.lower() for role in roles))
    reviewers = []
    for pk in wanted:
        user = found.get(pk)
        if user is None or user.is_client_user or not user.is_active:
            raise Invalid("One of the chosen reviewers is not active staff any more; choose again.")
        if user.role_enum not in roles:
            raise Invalid(
                f"{user.full_name} cannot take part in calibration as "
                f"{user.role_enum.label.lower()}; invite a {who}."
            )
        reviewers.append(user)
    return reviewers


def do_open_calibration(
    lead: User,
    engagement: Engagement,
    *,
    title: str,
    item_ids: Sequence[int],
    reviewer_ids: Sequence[int],
    tolerance: Decimal | float | str = qa.ALIGNMENT_TOLERANCE,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> CalibrationSession:
    """Open a calibration session: these items of the engagement, scored blind by these
    reviewers and by ``lead``, whose scores are the benchmark.

    The items must be finished work of the engagement that one scorecard applies to (its
    current version is the session's); the reviewers must be active staff who may take
    part, and none of them may have worked on any of the items. A refusal says which
    item or reviewer is wrong and stores nothing.
    """
    from relaydesk.clients.queries import visible_engagements

    if not can(lead.role_enum, Permission.RUN_CALIBRATION):
        raise NotAllowed("Only an operations lead or a provider admin runs calibration sessions.")
    if not visible_engagements(lead).filter(pk=engagement.pk).exists():
        raise NotFound("No such engagement.")
    title = title.strip()
    if not title:
        raise Invalid("Give the session a title, e.g. 'Claim forms, March'.")
    if len(title) > MAX_TITLE:
        raise Invalid(f"The title is limited to {MAX_TITLE} characters.")
    points = _tolerance(tolerance)
    items = _items(lead, engagement, item_ids)
    reviewers = _reviewers(lead, reviewer_ids)
    workers = workers_by_item(items)
    for item in items:
        for reviewer in reviewers:
            if not qa.may_review(reviewer.pk, workers[item.pk]):
                raise Invalid(
                    f"{reviewer.full_name} worked on {item.reference}, so they cannot calibrate "
                    "it; leave out the item or the reviewer."
                )
    version = _scorecard(items)
    at = at or timezone.now()
    with transaction.atomic():
        session = CalibrationSession.objects.create(
            client_id=engagement.client_id,
            engagement=engagement,
            scorecard_version=version,
            title=title,
            created_by=lead,
            tolerance=points,
            created_at=at,
        )
        CalibrationItem.objects.bulk_create(
            CalibrationItem(client_id=engagement.client_id, session=session, item=item, position=n)
            for n, item in enumerate(items, start=1)
        )
        CalibrationParticipant.objects.bulk_create(
            CalibrationParticipant(client_id=engagement.client_id, session=session, reviewer=r)
            for r in reviewers
        )
        record(
            actor=lead,
            action="quality.calibration_open",
            obj=session,
            client=engagement.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": engagement.pk,
                "scorecard": version.scorecard.name,
                "version": version.version,
                "items": [item.pk for item in items],
                "reviewers": [reviewer.pk for reviewer in reviewers],
                "tolerance": str(points),
            },
        )
    return session


def _lock(session: CalibrationSession) -> CalibrationSession:
    locked = (
        CalibrationSession.objects.select_for_update(of=("self",))
        .select_related("scorecard_version__scorecard", "created_by")
        .filter(pk=session.pk)
        .first()
    )
    if locked is None:
        raise NotFound("No such calibration session.")
    return locked


def _closed(session: CalibrationSession) -> Conflict:
    day = date_format(timezone.localtime(session.closed_at), "M j, H:i T")
    return Conflict(f"This session was closed on {day}; its scores are frozen.")


def do_score_calibration_item(
    scorer: User,
    session: CalibrationSession,
    item: WorkItem,
    answers: Mapping[str, int | None],
    comments: str = "",
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> CalibrationScore:
    """Score one item of an open session with its scorecard, or change one's score of it.

    The session's lead scores the benchmark; invited reviewers score blind. Nobody else
    may, and nobody once the session is closed.
    """
    if get_visible_session(scorer, session.pk) is None:
        raise NotFound("No such calibration session.")
    comments = comments.strip()
    if len(comments) > MAX_TEXT:
        raise Invalid("Comments are limited to 20,000 characters.")
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(session)
        benchmark = locked.created_by_id == scorer.pk
        if benchmark:
            allowed = can(scorer.role_enum, Permission.RUN_CALIBRATION)
        else:
            allowed = (
                can(scorer.role_enum, Permission.TAKE_PART_IN_CALIBRATION)
                and CalibrationParticipant.objects.filter(session=locked, reviewer=scorer).exists()
            )
        if not allowed:
            raise NotAllowed(
                "Only the reviewers invited to this session and the lead who runs it score "
                "its items."
            )
        if not locked.is_open:
            raise _closed(locked)
        if not CalibrationItem.objects.filter(session=locked, item_id=item.pk).exists():
            raise NotFound("No such item in this session.")
        try:
            scored = qa.score_review(locked.scorecard_version.to_core(), dict(answers))
        except ValueError as problem:
            raise Invalid(str(problem)) from problem
        figures = {
            "answers": {key: answers[key] for key in answers},
            "score": Decimal(scored.display),
            "passed": scored.passed,
            "auto_failed": scored.auto_failed,
            "comments": comments,
            "updated_at": at,
        }
        score = (
            CalibrationScore.objects.select_for_update()
            .filter(session=locked, item_id=item.pk, scorer=scorer)
            .first()
        )
        changed = score is not None
        if score is None:
            score = CalibrationScore.objects.create(
                client_id=locked.client_id,
                session=locked,
                item_id=item.pk,
                scorer=scorer,
                is_benchmark=benchmark,
                created_at=at,
                **figures,
            )
        else:
            for name, value in figures.items():
                setattr(score, name, value)
            score.save(update_fields=[*figures])
        record(
            actor=scorer,
            action="quality.calibration_score",
            obj=score,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            # No score while the session is open: scoring is blind, and provider admins
            # read the audit trail. The scores are in the session once it closes.
            detail={
                "session": locked.pk,
                "item": item.pk,
                "benchmark": benchmark,
                "changed": changed,
            },
        )
    return score


def do_close_calibration(
    lead: User,
    session: CalibrationSession,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> CalibrationSession:
    """The lead closes the session: its scores freeze and everyone in it sees the results.

    The benchmark must be complete (the lead scored every item) and at least one
    reviewer must have scored.
    """
    if get_visible_session(lead, session.pk) is None:
        raise NotFound("No such calibration session.")
    if not can(lead.role_enum, Permission.RUN_CALIBRATION) or session.created_by_id != lead.pk:
        raise NotAllowed(
            f"Only the lead who runs this session ({session.created_by.full_name}) closes it."
        )
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(session)
        if not locked.is_open:
            raise _closed(locked)
        blocker = close_blocker(locked, session_items(locked))
        if blocker:
            raise Conflict(blocker)
        locked.state = CalibrationState.CLOSED
        locked.closed_at = at
        locked.save(update_fields=["state", "closed_at"])
        result = core_calibration(locked, CalibrationScore.objects.filter(session=locked))
        assert result is not None  # the blocker above guarantees a benchmark and a reviewer
        record(
            actor=lead,
            action="quality.calibration_close",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "reviewers_compared": len(result.reviewers),
                "misaligned": sorted(int(pk) for pk in result.misaligned),
                "tolerance": str(locked.tolerance),
            },
        )
    return locked
