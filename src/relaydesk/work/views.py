"""Pages for work items: the client portal, the agent workspace, operations and item detail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_denial
from relaydesk.clients.queries import visible_clients
from relaydesk.core.eligibility import Exclusion, first_exclusion
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.errors import ActionRefused
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip
from relaydesk.work import actions, queries
from relaydesk.work.downloads import attachment_response
from relaydesk.work.forms import AttachmentForm, CommentForm, ItemFilterForm, SubmitWorkItemForm
from relaydesk.work.models import PAST_TENSE, WorkItem, WorkItemEvent
from relaydesk.workforce.models import Agent
from relaydesk.workforce.queries import agent_profile, visible_agents

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to where their work is."""
    role = _user(request).role_enum
    if can(role, Permission.VIEW_CLIENT_WORK):
        return redirect("portal:items")
    if can(role, Permission.VIEW_HELD_AND_OFFERED_WORK):
        return redirect("workspace:home")
    if can(role, Permission.VIEW_REVIEW_QUEUE):
        return redirect("workspace:reviews")
    return redirect("ops:items")


def _listing(
    request: HttpRequest, items: QuerySet[WorkItem], template: str, extra: dict[str, Any]
) -> HttpResponse:
    """A filtered, paginated list; HTMX filter changes get only the table back."""
    services = sorted(
        {(i.service.slug, str(i.service)) for i in items.select_related("service__line")[:2000]},
        key=lambda pair: pair[1],
    )
    form = ItemFilterForm(request.GET or None, services=services)
    wanted = {"search": "", "state": "", "service": ""}
    if form.is_valid():
        wanted.update({k: v for k, v in form.cleaned_data.items() if v})
    filtered = queries.filter_items(
        items,
        search=wanted["search"],
        state=wanted["state"],
        service=wanted["service"],
        client=request.GET.get("client", ""),
        owner=request.GET.get("owner", ""),
    )
    page = Paginator(filtered, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), **extra}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, f"{template}#results", context)
    return render(request, template, context)


@roles_required(*roles_with(Permission.VIEW_CLIENT_WORK))
def portal_items(request: HttpRequest) -> HttpResponse:
    """The client's requests, with filters."""
    user = _user(request)
    return _listing(
        request,
        queries.visible_work_items(user),
        "work/portal_items.html",
        {"title": f"{user.client} requests"},
    )


@roles_required(*roles_with(Permission.SUBMIT_WORK))
def portal_submit(request: HttpRequest) -> HttpResponse:
    """Submit a new request, with attachments."""
    user = _user(request)
    form = SubmitWorkItemForm(request.POST or None, request.FILES or None, actor=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                item, _ = actions.do_submit_work_item(
                    user,
                    form.request(),
                    files=form.cleaned_data["attachments"],
                    source_ip=client_ip(request),
                )
            except ActionRefused as refusal:
                form.add_error(None, refusal.message)
                status = refusal.status
            else:
                messages.success(request, f"{item.reference} received and queued.")
                return redirect("items:detail", item_id=item.pk)
        else:
            status = 422
    return render(request, "work/portal_submit.html", {"form": form}, status=status)


@roles_required(*roles_with(Permission.VIEW_HELD_AND_OFFERED_WORK))
def workspace_home(request: HttpRequest) -> HttpResponse:
    """An agent's items in hand and the queued items they may take."""
    user = _user(request)
    visible = queries.visible_work_items(user)
    mine = (
        visible.filter(owner=user)
        .exclude(state__in=[State.ACCEPTED.value, State.CANCELLED.value, State.DELIVERED.value])
        .order_by("-priority", "created_at")
    )
    queue = visible.filter(state=State.QUEUED.value).order_by("-priority", "created_at")[:50]
    # Finished items leave the agent's sight; they see how much they completed, not the items.
    completed_this_week = WorkItemEvent.objects.filter(
        actor=user, kind=Action.COMPLETE.value, at__gte=timezone.now() - dt.timedelta(days=7)
    ).count()
    agent = Agent.objects.filter(user=user).select_related("site").first()
    profile = agent_profile(agent) if agent else None
    return render(
        request,
        "work/workspace_home.html",
        {
            "mine": mine,
            "queue": queue,
            "completed_this_week": completed_this_week,
            "agent": agent,
            "profile": profile,
        },
    )


@roles_required(*roles_with(Permission.VIEW_REVIEW_QUEUE))
def workspace_reviews(request: HttpRequest) -> HttpResponse:
    """Items waiting for this reviewer's role, and their recent reviews."""
    user = _user(request)
    visible = queries.visible_work_items(user)
    waiting = visible.filter(state=State.IN_REVIEW.value).order_by("-priority", "updated_at")
    done = visible.filter(reviewer=user).exclude(state=State.IN_REVIEW.value)
    return render(
        request,
        "work/workspace_reviews.html",
        {"waiting": waiting, "done": done.order_by("-updated_at")[:20]},
    )


@roles_required(*roles_with(Permission.VIEW_ALL_WORK))
def ops_items(request: HttpRequest) -> HttpResponse:
    """Every item, with filters; the operations lead assigns from here."""
    user = _user(request)
    items = queries.visible_work_items(user)
    counts = {
        s: items.filter(state=s.value).count()
        for s in (
            State.QUEUED,
            State.ASSIGNED,
            State.IN_PROGRESS,
            State.WAITING_ON_CLIENT,
            State.IN_REVIEW,
            State.REWORK,
            State.DELIVERED,
        )
    }
    return _listing(
        request,
        items,
        "work/ops_items.html",
        {"counts": counts, "clients": visible_clients(user)},
    )


@dataclass(frozen=True)
class Candidate:
    """An agent a lead might assign, with the rule that rules them out, if any."""

    agent: Agent
    load: int
    exclusion: Exclusion | None


def _assign_candidates(user: User, item: WorkItem) -> list[Candidate]:
    """Agents an operations lead may pick, each with why they can't take it if they can't."""
    assignable = (State.QUEUED, State.ASSIGNED, State.IN_PROGRESS, State.REWORK)
    if not can(user.role_enum, Permission.ASSIGN_WORK) or item.state_enum not in assignable:
        return []
    needs = queries.item_needs(item)
    today = timezone.localdate()
    agents = visible_agents(user).prefetch_related(
        "skills__skill", "certifications__certification", "clearances__clearance"
    )
    candidates = []
    for agent in agents:
        load = int(agent.load)  # type: ignore[attr-defined]
        exclusion = first_exclusion(agent_profile(agent, load=load), needs, today)
        candidates.append(Candidate(agent=agent, load=load, exclusion=exclusion))
    candidates.sort(key=lambda c: (c.exclusion is not None, c.load, c.agent.user.full_name))
    return candidates


def _detail_context(request: HttpRequest, item: WorkItem) -> dict[str, Any]:
    user = _user(request)
    allowed = actions.actions_for(user, item)
    return {
        "item": item,
        "events": queries.visible_events(user, item),
        "comments": queries.visible_comments(user, item),
        "attachments": queries.visible_attachments(user, item),
        "allowed_actions": allowed,
        "note_actions": [a.value for a in actions.NOTE_REQUIRED],
        "candidates": _assign_candidates(user, item),
        "comment_form": CommentForm(),
        "attachment_form": AttachmentForm(),
        "can_add_files": item.state_enum.is_open,
        "is_client": user.is_client_user,
        "sensitive": item.sensitive_details.all(),
        "can_reveal": can(user.role_enum, Permission.REVEAL_SENSITIVE),
    }


def _visible_item_or_404(request: HttpRequest, item_id: int) -> WorkItem:
    item = queries.get_visible_item(_user(request), item_id)
    if item is None:
        raise Http404("No such work item.")
    return item


@login_required
@require_GET
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    """One item: details, timeline, comments, files and the actions allowed now."""
    item = _visible_item_or_404(request, item_id)
    return render(request, "work/item_detail.html", _detail_context(request, item))


def _refused(request: HttpRequest, item: WorkItem, refusal: ActionRefused) -> HttpResponse:
    """Show the item again with the refusal, under the refusal's status code."""
    fresh = queries.get_visible_item(_user(request), item.pk)
    if fresh is None:
        raise Http404("No such work item.")
    if refusal.status == 403:
        do_record_denial(
            _user(request),
            method=request.method or "",
            path=request.path,
            reason=refusal.message,
            obj=fresh,
            client=fresh.client_id,
            source_ip=client_ip(request),
        )
    context = _detail_context(request, fresh)
    context["error"] = refusal.message
    return render(request, "work/item_detail.html", context, status=refusal.status)


def _after_change(request: HttpRequest, item: WorkItem) -> HttpResponse:
    """Back to the item if the actor can still see it, else to their home."""
    if queries.get_visible_item(_user(request), item.pk) is None:
        return redirect("home")
    return redirect("items:detail", item_id=item.pk)


@login_required
@require_POST
def item_act(request: HttpRequest, item_id: int, action: str) -> HttpResponse:
    """Take a lifecycle action from the item page."""
    item = _visible_item_or_404(request, item_id)
    try:
        chosen = Action(action)
    except ValueError as exc:
        raise Http404("No such action.") from exc
    try:
        if chosen is Action.TAKE:
            agent = Agent.objects.filter(user=_user(request)).select_related("user", "site").first()
            if agent is None:
                raise ActionRefused("Only agents can take items.")
            actions.do_assign(_user(request), item, agent, source_ip=client_ip(request))
        else:
            actions.do_transition(
                _user(request),
                item,
                chosen,
                note=request.POST.get("note", ""),
                source_ip=client_ip(request),
            )
    except ActionRefused as refusal:
        return _refused(request, item, refusal)
    messages.success(request, f"{item.reference}: {PAST_TENSE[chosen.value].lower()}.")
    return _after_change(request, item)


@login_required
@require_POST
def item_assign(request: HttpRequest, item_id: int) -> HttpResponse:
    """An operations lead assigns or reassigns the item."""
    item = _visible_item_or_404(request, item_id)
    user = _user(request)
    agent = None
    if not user.is_client_user and request.POST.get("agent", "").isdigit():
        agent = (
            Agent.objects.select_related("user", "site")
            .filter(pk=int(request.POST["agent"]))
            .first()
        )
    try:
        if agent is None:
            raise ActionRefused("Choose an agent to assign.")
        actions.do_assign(
            user, item, agent, note=request.POST.get("note", ""), source_ip=client_ip(request)
        )
    except ActionRefused as refusal:
        return _refused(request, item, refusal)
    messages.success(request, f"{item.reference} assigned to {agent.user.full_name}.")
    return redirect("items:detail", item_id=item.pk)


@login_required
@require_POST
def item_comment(request: HttpRequest, item_id: int) -> HttpResponse:
    """Post a comment from the item page."""
    item = _visible_item_or_404(request, item_id)
    form = CommentForm(request.POST)
    try:
        if not form.is_valid():
            raise ActionRefused("Write a comment first.")
        actions.do_add_comment(
            _user(request),
            item,
            form.cleaned_data["body"],
            visibility=form.cleaned_data["visibility"],
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        return _refused(request, item, refusal)
    return redirect(f"{item_url(item)}#comments")


@login_required
@require_POST
def item_attach(request: HttpRequest, item_id: int) -> HttpResponse:
    """Upload a file from the item page."""
    item = _visible_item_or_404(request, item_id)
    form = AttachmentForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise ActionRefused("Choose a file to upload.")
        actions.do_add_attachment(
            _user(request),
            item,
            form.cleaned_data["file"],
            visibility=form.cleaned_data["visibility"],
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        return _refused(request, item, refusal)
    messages.success(request, "File added.")
    return redirect(f"{item_url(item)}#files")


@login_required
@require_GET
def attachment_download(request: HttpRequest, item_id: int, attachment_id: int) -> HttpResponseBase:
    """Download a file; audited."""
    user = _user(request)
    item = _visible_item_or_404(request, item_id)
    attachment = queries.visible_attachments(user, item).filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such file.")
    try:
        return attachment_response(user, attachment, client_ip(request))
    except ActionRefused as refusal:  # the file failed to decrypt: say so on the item page
        return _refused(request, item, refusal)


@login_required
@require_POST
def item_reveal(request: HttpRequest, item_id: int) -> HttpResponse:
    """Reveal the item's confidential values (audited); HTMX gets only that section."""
    item = _visible_item_or_404(request, item_id)
    try:
        details = actions.do_reveal_sensitive(_user(request), item, source_ip=client_ip(request))
    except ActionRefused as refusal:
        return _refused(request, item, refusal)
    context = _detail_context(request, item)
    context.update(sensitive=details, revealed=True)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "work/item_detail.html#sensitive", context)
    return render(request, "work/item_detail.html", context)


def item_url(item: WorkItem) -> str:
    """The item's page."""
    from django.urls import reverse

    return reverse("items:detail", kwargs={"item_id": item.pk})


@roles_required(*roles_with(Permission.VIEW_CLIENT_WORK) & roles_with(Permission.SUBMIT_WORK))
def portal_import(request: HttpRequest) -> HttpResponse:
    """Import requests from a CSV file: every row is checked first, and a file with bad
    rows imports nothing unless the client asks to import only the valid rows."""
    from django.conf import settings
    from django.utils.timezone import localdate

    from relaydesk.clients.queries import visible_engagements
    from relaydesk.work import importing

    user = _user(request)
    client = user.client
    assert client is not None
    if request.method == "GET" and request.GET.get("example") == "csv":
        response = HttpResponse(
            importing.example_csv(client), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="relaydesk-import-example.csv"'
        return response
    today = localdate()
    context: dict[str, Any] = {
        "columns": importing.COLUMNS,
        "max_rows": importing.MAX_ROWS,
        "engagements": [
            {
                "engagement": engagement,
                "active": engagement.is_active_on(today),
                "services": sorted(service.slug for service in engagement.services.all()),
            }
            for engagement in visible_engagements(user).order_by("name")
        ],
    }
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        skip_invalid = request.POST.get("skip_invalid") == "on"
        limit = settings.RELAYDESK_MAX_UPLOAD_BYTES
        try:
            if upload is None:
                raise ActionRefused("Choose a CSV file to import.")
            context["file_name"] = upload.name
            if upload.size and upload.size > limit:
                raise ActionRefused(f"The file is larger than {limit:,} bytes.")
            plan = importing.parse_work_csv(b"".join(upload.chunks()), actor=user, client=client)
            context["plan"] = plan
            result = actions.do_import_work(
                user, plan, skip_invalid=skip_invalid, source_ip=client_ip(request)
            )
        except ActionRefused as refusal:
            context["error"] = refusal.message
            status = 422 if refusal.status in (400, 422) else refusal.status
            if "plan" in context:
                problems = context["plan"].all_problems
                context["problems"] = problems[:500]
                context["more_problems"] = max(0, len(problems) - 500)
        else:
            count = len(result.created)
            messages.success(
                request,
                f"Imported {count:,} request{'' if count == 1 else 's'} from {upload.name}: "
                f"{result.references()}.",
            )
            if result.skipped_lines:
                shown = ", ".join(str(line) for line in result.skipped_lines[:50])
                more = len(result.skipped_lines) - 50
                messages.warning(
                    request,
                    f"Skipped {len(result.skipped_lines):,} row"
                    f"{'' if len(result.skipped_lines) == 1 else 's'} with problems: line "
                    f"{shown}{f' and {more:,} more' if more > 0 else ''}.",
                )
            return redirect("portal:items")
    return render(request, "work/portal_import.html", context, status=status)
