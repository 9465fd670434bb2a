"""Calibration pages: the sessions, opening one, scoring its items blind, closing it and its
results."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.core import quality as qa
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.errors import ActionRefused, Invalid
from relaydesk.permissions import roles_required
from relaydesk.quality import calibration_actions as actions
from relaydesk.quality import calibration_queries as queries
from relaydesk.quality.models import CalibrationSession
from relaydesk.quality.views import ANSWER_PREFIX, record_refusal, scorecard_answers
from relaydesk.web import client_ip
from relaydesk.work.downloads import attachment_response
from relaydesk.work.models import WorkItem

# "RD-123", "rd123" or "123", separated by commas, semicolons, spaces or new lines.
_REFERENCE = re.compile(r"(?:RD-?)?(\d{1,12})", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;]+")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _session_or_404(request: HttpRequest, calibration_id: int) -> CalibrationSession:
    session = queries.get_visible_session(_user(request), calibration_id)
    if session is None:
        raise Http404("No such calibration session.")
    return session


def _item_or_404(request: HttpRequest, session: CalibrationSession, item_id: int) -> WorkItem:
    item = queries.session_item(_user(request), session, item_id)
    if item is None:
        raise Http404("No such item in this session.")
    return item


def parse_references(text: str) -> list[int]:
    """Item numbers from typed references such as ``RD-12, RD-40``; Invalid names a bad one."""
    numbers = []
    for token in _SEPARATORS.split(text.strip()):
        if not token:
            continue
        match = _REFERENCE.fullmatch(token)
        if match is None:
            raise Invalid(f"'{token[:40]}' is not an item reference; write them like RD-123.")
        numbers.append(int(match.group(1)))
    return numbers


def _ids(values: list[str], what: str) -> list[int]:
    if not all(value.isascii() and value.isdigit() for value in values):
        raise Invalid(f"One of the chosen {what} is not on the list; choose again.")
    return [int(value) for value in values]


# --- the list and a new session -----------------------------------------------------------------


@roles_required(*roles_with(Permission.TAKE_PART_IN_CALIBRATION))
@require_GET
def calibration_list(request: HttpRequest) -> HttpResponse:
    """The calibration sessions one may open, open ones first, with how far each has got."""
    user = _user(request)
    return render(
        request,
        "quality/calibration_list.html",
        {
            "rows": queries.session_rows(user),
            "can_run": can(user.role_enum, Permission.RUN_CALIBRATION),
        },
    )


def _chosen_engagement(user: User, raw: str) -> Engagement | None:
    if not raw.isascii() or not raw.isdigit():
        return None
    return visible_engagements(user).filter(pk=int(raw)).first()


def _chosen_service(engagement: Engagement | None, raw: str) -> int | None:
    if engagement is None or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw) if engagement.services.filter(pk=int(raw)).exists() else None


def _new_page(
    request: HttpRequest,
    engagement: Engagement | None,
    *,
    service_id: int | None = None,
    typed: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    typed = typed or {}
    context = {
        "engagements": visible_engagements(user).order_by("client__name", "name"),
        "engagement": engagement,
        "services": engagement.services.order_by("name") if engagement else [],
        "service_id": service_id,
        "candidates": (
            queries.calibration_candidates(user, engagement, service_id) if engagement else []
        ),
        "candidate_limit": queries.CANDIDATE_LIMIT,
        "reviewers": queries.calibration_reviewers(user),
        "title": typed.get("title", ""),
        "references": typed.get("references", ""),
        "checked_items": set(typed.get("items", [])),
        "checked_reviewers": set(typed.get("reviewers", [])),
        "tolerance": typed.get("tolerance", f"{qa.ALIGNMENT_TOLERANCE:g}"),
        "error": error,
    }
    return render(request, "quality/calibration_new.html", context, status=status)


@roles_required(*roles_with(Permission.RUN_CALIBRATION))
def calibration_new(request: HttpRequest) -> HttpResponse:
    """Open a session: title, engagement, items from its recent finished work (or typed
    references), the reviewers to invite, and the tolerance."""
    user = _user(request)
    if request.method != "POST":
        engagement = _chosen_engagement(user, request.GET.get("engagement", ""))
        service_id = _chosen_service(engagement, request.GET.get("service", ""))
        return _new_page(request, engagement, service_id=service_id)
    form = request.POST
    title, references, tolerance = (
        form.get("title", ""),
        form.get("references", ""),
        form.get("tolerance", ""),
    )
    chosen_items, chosen_reviewers = form.getlist("items"), form.getlist("reviewers")
    typed = {
        "title": title,
        "references": references,
        "items": chosen_items,
        "reviewers": chosen_reviewers,
        "tolerance": tolerance,
    }
    engagement = _chosen_engagement(user, form.get("engagement", ""))
    try:
        if engagement is None:
            raise Invalid("Choose the engagement whose items you calibrate.")
        session = actions.do_open_calibration(
            user,
            engagement,
            title=title,
            item_ids=_ids(chosen_items, "items") + parse_references(references),
            reviewer_ids=_ids(chosen_reviewers, "reviewers"),
            tolerance=tolerance or qa.ALIGNMENT_TOLERANCE,
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        # Opening a session is the provider's business: the refusal stays off the client's trail.
        record_refusal(request, refusal, engagement, None)
        return _new_page(
            request,
            engagement,
            service_id=_chosen_service(engagement, form.get("service", "")),
            typed=typed,
            error=refusal.message,
            status=refusal.status,
        )
    messages.success(
        request,
        f"'{session.title}' is open. The reviewers see it under Calibration; score the "
        "benchmark for each item yourself.",
    )
    return redirect("quality:calibration_session", calibration_id=session.pk)


# --- one session --------------------------------------------------------------------------------


def _session_page(
    request: HttpRequest, session: CalibrationSession, *, error: str = "", status: int = 200
) -> HttpResponse:
    page = queries.session_page(_user(request), session)
    return render(
        request,
        "quality/calibration_session.html",
        {"page": page, "session": session, "error": error},
        status=status,
    )


@login_required
@require_GET
def calibration_session(request: HttpRequest, calibration_id: int) -> HttpResponse:
    """A session: its items and one's own scores (blind while open), progress for the lead,
    and the results once it is closed."""
    return _session_page(request, _session_or_404(request, calibration_id))


@login_required
@require_POST
def calibration_close(request: HttpRequest, calibration_id: int) -> HttpResponse:
    """The lead closes the session: the scores freeze and the results show."""
    session = _session_or_404(request, calibration_id)
    try:
        actions.do_close_calibration(_user(request), session, source_ip=client_ip(request))
    except ActionRefused as refusal:
        record_refusal(request, refusal, session, session.client_id)
        fresh = _session_or_404(request, calibration_id)
        return _session_page(request, fresh, error=refusal.message, status=refusal.status)
    messages.success(request, f"'{session.title}' is closed; the results are below.")
    return redirect("quality:calibration_session", calibration_id=session.pk)


# --- one item of a session ----------------------------------------------------------------------


def _item_page(
    request: HttpRequest,
    session: CalibrationSession,
    item: WorkItem,
    *,
    refusal: ActionRefused | None = None,
) -> HttpResponse:
    user = _user(request)
    if refusal is None:
        page = queries.calibration_item_page(user, session, item)
        return render(request, "quality/calibration_item.html", {"page": page})
    typed = request.method == "POST"
    page = queries.calibration_item_page(
        user,
        session,
        item,
        answers=(
            {k: str(v) for k, v in request.POST.items() if k.startswith(ANSWER_PREFIX)}
            if typed
            else None
        ),
        comments=request.POST.get("comments", "") if typed else None,
        error=refusal.message,
    )
    return render(request, "quality/calibration_item.html", {"page": page}, status=refusal.status)


@login_required
@require_GET
def calibration_item(request: HttpRequest, calibration_id: int, item_id: int) -> HttpResponse:
    """One item of a session: what was asked and delivered, and the scorecard form."""
    session = _session_or_404(request, calibration_id)
    return _item_page(request, session, _item_or_404(request, session, item_id))


@login_required
@require_POST
def calibration_score(request: HttpRequest, calibration_id: int, item_id: int) -> HttpResponse:
    """Score the item (or change one's score) while the session is open."""
    user = _user(request)
    session = _session_or_404(request, calibration_id)
    item = _item_or_404(request, session, item_id)
    try:
        score = actions.do_score_calibration_item(
            user,
            session,
            item,
            scorecard_answers(request.POST),
            request.POST.get("comments", ""),
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        record_refusal(request, refusal, session, session.client_id)
        fresh = _session_or_404(request, calibration_id)
        return _item_page(request, fresh, item, refusal=refusal)
    what = "Benchmark" if score.is_benchmark else "Your score"
    outcome = "passes" if score.passed else "fails"
    messages.success(request, f"{what} for {item.reference} saved: {score.score} ({outcome}).")
    following = queries.session_page(user, session).next_to_score
    if following is not None:
        return redirect("quality:calibration_item", calibration_id=session.pk, item_id=following.pk)
    return redirect("quality:calibration_session", calibration_id=session.pk)


@login_required
@require_GET
def calibration_file(
    request: HttpRequest, calibration_id: int, item_id: int, attachment_id: int
) -> HttpResponseBase:
    """Download a file of an item of the session (audited), for those in the session."""
    session = _session_or_404(request, calibration_id)
    item = _item_or_404(request, session, item_id)
    attachment = item.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such file.")
    try:
        return attachment_response(_user(request), attachment, client_ip(request))
    except ActionRefused as refusal:
        return _item_page(request, session, item, refusal=refusal)
