"""QA pages: quality figures, the scorecard form's answer, an agent's reviews, disputing a
review, and the leads' disputes."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_denial, do_record_figures_export
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.errors import ActionRefused, Invalid
from relaydesk.permissions import roles_required
from relaydesk.quality import actions, queries
from relaydesk.quality.forms import QualityFilter
from relaydesk.web import client_ip, spreadsheet_cell
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import get_visible_item, visible_work_items

ANSWER_PREFIX = "answer-"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def scorecard_answers(form: Any) -> dict[str, int | None]:
    """The scorecard form's answers: ``answer-<key>`` is a whole number or ``na``."""
    answers: dict[str, int | None] = {}
    for name, value in form.items():
        if not name.startswith(ANSWER_PREFIX):
            continue
        key = name.removeprefix(ANSWER_PREFIX)
        if value == "na":
            answers[key] = None
        elif value.isascii() and value.isdigit():
            answers[key] = int(value)
        else:
            raise Invalid(f"The answer to '{key}' is not one of the choices.")
    return answers


def record_refusal(
    request: HttpRequest, refusal: ActionRefused, obj: Any, client_id: int | None
) -> None:
    """Write a refused request (403) to the audit trail; other refusals are only shown."""
    if refusal.status == 403:
        do_record_denial(
            _user(request),
            method=request.method or "",
            path=request.path,
            reason=refusal.message,
            obj=obj,
            client=client_id,
            source_ip=client_ip(request),
        )


def _item_page_again(request: HttpRequest, item: WorkItem, refusal: ActionRefused) -> HttpResponse:
    """The item page with the scorecard form filled in again and the refusal above it."""
    from relaydesk.work.views import item_page_context

    user = _user(request)
    fresh = get_visible_item(user, item.pk)
    if fresh is None:
        raise Http404("No such work item.")
    record_refusal(request, refusal, fresh, fresh.client_id)
    context = item_page_context(request, fresh)
    answers = {k: str(v) for k, v in request.POST.items() if k.startswith(ANSWER_PREFIX)}
    context["quality"] = queries.review_panel(
        user,
        fresh,
        answers=answers,
        comments=request.POST.get("comments", ""),
        error=refusal.message,
    )
    if context["quality"] is None or not context["quality"].can_review:
        context["error"] = refusal.message
    return render(request, "work/item_detail.html", context, status=refusal.status)


@login_required
@require_POST
def submit_review(request: HttpRequest, item_id: int) -> HttpResponse:
    """Score the item with its scorecard; it is delivered, or returned for rework."""
    user = _user(request)
    item = get_visible_item(user, item_id)
    if item is None:
        raise Http404("No such work item.")
    try:
        review = actions.do_submit_review(
            user,
            item,
            scorecard_answers(request.POST),
            request.POST.get("comments", ""),
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        return _item_page_again(request, item, refusal)
    if review.passed:
        messages.success(request, f"{item.reference} passed review ({review.score}): delivered.")
    else:
        messages.warning(
            request,
            f"{item.reference} failed review ({review.score}): returned for rework "
            "with your comments.",
        )
    return redirect("items:detail", item_id=item.pk)


@login_required
@require_POST
def dispute_review(request: HttpRequest, review_id: int) -> HttpResponse:
    """The reviewed agent disputes a review, saying why."""
    user = _user(request)
    review = queries.get_visible_review(user, review_id)
    if review is None:
        raise Http404("No such review.")
    try:
        actions.do_dispute_review(
            user, review, request.POST.get("reason", ""), source_ip=client_ip(request)
        )
    except ActionRefused as refusal:
        record_refusal(request, refusal, review, review.client_id)
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Your dispute was sent to the operations leads.")
    if request.POST.get("return_to") == "mine":
        return redirect("quality:mine")
    if get_visible_item(user, review.item_id) is None:
        return redirect("home")
    return redirect("items:detail", item_id=review.item_id)


def _disputes_page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    user = _user(request)
    context = {
        "open": [queries.shown_review(user, d.review) for d in queries.open_disputes(user)],
        "decided": queries.decided_disputes(user),
        **extra,
    }
    return render(request, "quality/disputes.html", context, status=status)


@roles_required(*roles_with(Permission.DECIDE_DISPUTES))
def disputes(request: HttpRequest) -> HttpResponse:
    """Open disputes of QA reviews, for leads to uphold or overturn, and the last decided."""
    return _disputes_page(request)


@login_required
@require_POST
def decide_dispute(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """Uphold or overturn a disputed review, with a note."""
    user = _user(request)
    dispute = queries.get_visible_dispute(user, dispute_id)
    if dispute is None:
        raise Http404("No such dispute.")
    decision = request.POST.get("decision", "")
    try:
        if decision not in ("uphold", "overturn"):
            raise Invalid("Choose to uphold the review or to overturn it.")
        actions.do_decide_dispute(
            user,
            dispute,
            decision == "uphold",
            request.POST.get("note", ""),
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        record_refusal(request, refusal, dispute, dispute.client_id)
        if refusal.status == 403:
            return render(request, "403.html", {"reason": refusal.message}, status=403)
        return _disputes_page(
            request,
            status=refusal.status,
            error=refusal.message,
            error_dispute=dispute.pk,
            note=request.POST.get("note", ""),
        )
    reference = dispute.review.item.reference
    said = "upheld" if decision == "uphold" else "overturned"
    messages.success(request, f"The review of {reference} was {said}.")
    return redirect("quality:disputes")


@roles_required(*roles_with(Permission.VIEW_QUALITY))
@require_GET
def figures(request: HttpRequest) -> HttpResponse:
    """Quality figures by engagement, service, site, agent or period; ``?format=csv`` for a
    file. A client's people see their own client's."""
    user = _user(request)
    form = QualityFilter.with_defaults(user, request.GET)
    shown: queries.QualityFigures | None = None
    if form.is_valid():
        data = form.cleaned_data
        engagement = data.get("engagement")
        service = data.get("service")
        shown = queries.quality_figures(
            user,
            start=data["start"],
            end=data["end"],
            group_by=data["group_by"],
            engagement_id=engagement.pk if engagement else None,
            service_id=service.pk if service else None,
        )
        if request.GET.get("format") == "csv":
            do_record_figures_export(user, "Quality figures", data, client_ip(request))
            return _figures_csv(shown)
    return render(
        request,
        "quality/figures.html",
        {"form": form, "figures": shown, "query": request.GET.urlencode()},
        status=200 if shown is not None else 400,
    )


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _figures_csv(figures: queries.QualityFigures) -> HttpResponse:
    """The figures as the page shows them, one row per group and the total last; one
    column per defect category (reviews with a defect in it)."""
    categories = [name for name, _, _ in figures.categories]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "group",
            "reviews",
            "passed",
            "failed",
            "auto_failed",
            "overturned",
            "quality_score",
            "pass_rate_percent",
            "accuracy_percent",
            *(spreadsheet_cell(f"defects: {name}") for name in categories),
        ]
    )
    for row in [*figures.rows, figures.total]:
        writer.writerow(
            [
                spreadsheet_cell(row.label),
                row.reviews,
                row.passed,
                row.failed,
                row.auto_failed,
                row.overturned,
                _percent(row.mean_score),
                _percent(row.pass_rate),
                _percent(row.accuracy),
                *(row.defects.get(name, 0) for name in categories),
            ]
        )
    name = f"quality-by-{figures.group_by}-{figures.start:%Y%m%d}-{figures.end:%Y%m%d}.csv"
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@roles_required(*roles_with(Permission.DISPUTE_REVIEW))
@require_GET
def my_reviews(request: HttpRequest) -> HttpResponse:
    """The reviews of one's own work, newest first, each disputable once from here (a
    delivered item no longer shows on one's work pages)."""
    user = _user(request)
    reviews = queries.reviews_of_agent(user)
    # An item stays readable only while it is in one's hands (back for rework, say).
    openable = set(
        visible_work_items(user)
        .filter(pk__in=[shown.review.item_id for shown in reviews])
        .values_list("pk", flat=True)
    )
    return render(
        request,
        "quality/my_reviews.html",
        {"shown": reviews, "summary": queries.agent_summary(reviews), "openable": openable},
    )
