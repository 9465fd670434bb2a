"""Pages for work items: the client portal, the agent workspace, operations and item detail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_denial
from relaydesk.catalog.models import Service
from relaydesk.clients.queries import visible_clients
from relaydesk.core.eligibility import Exclusion, first_exclusion
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.core.routing import agent_exclusion
from relaydesk.errors import ActionRefused
from relaydesk.permissions import roles_required
from relaydesk.quality.queries import review_panel
from relaydesk.routing import actions as routing_actions
from relaydesk.routing import queries as routing_queries
from relaydesk.routing.models import PresenceStatus
from relaydesk.routing.queries import PresenceView
from relaydesk.sla.queries import live_clocks
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
    # One EXISTS probe per catalog service (a handful) instead of reading the items.
    offered = Service.objects.filter(Exists(items.filter(service=OuterRef("pk"))))
    services = sorted(
        ((service.slug, str(service)) for service in offered.select_related("line")),
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


PRESENCE_CHOICES = [(p.value, p.label) for p in PresenceStatus]


@dataclass(frozen=True)
class Desk:
    """The agent's desk as the workspace shows it: presence, shift and the site's clock."""

    presence: PresenceView
    site_time: dt.datetime
    on_shift: bool
    shift_ends: dt.datetime | None
    next_shift: dt.datetime | None

    @property
    def status(self) -> str:
        """The presence the agent last set (offline when they never set one)."""
        return self.presence.moment.presence.value

    @property
    def status_label(self) -> str:
        """The presence, as the agent reads it."""
        return PresenceStatus(self.status).label


def _desk(user: User) -> Desk | None:
    """The agent's presence and shift now, or ``None`` for someone without an agent profile."""
    if not can(user.role_enum, Permission.SET_PRESENCE):
        return None
    at = timezone.now()
    try:
        view = routing_queries.my_presence(user, at=at)
    except ActionRefused:
        return None
    calendar = view.moment.calendar
    shift = calendar.status(at)
    # A shift that runs on for days (a site working around the clock) has no end worth showing.
    ends = shift.until if shift.on_shift and shift.until else None
    if ends is not None and ends - at > dt.timedelta(hours=24):
        ends = None
    return Desk(
        presence=view,
        site_time=calendar.local_time(at),
        on_shift=shift.on_shift,
        shift_ends=calendar.local_time(ends) if ends else None,
        next_shift=calendar.local_time(shift.next_start) if shift.next_start else None,
    )


def _desk_context(user: User, **extra: Any) -> dict[str, Any]:
    return {
        "desk": _desk(user),
        "presence_choices": PRESENCE_CHOICES,
        "can_get_next": can(user.role_enum, Permission.DO_WORK),
        **extra,
    }


def _desk_answer(request: HttpRequest, **extra: Any) -> HttpResponse:
    """HTMX gets the desk panel again; a plain form post goes back to the workspace."""
    if request.htmx:  # type: ignore[attr-defined]
        context = _desk_context(_user(request), **extra)
        return render(request, "work/workspace_home.html#desk", context)
    if extra.get("desk_error"):
        messages.error(request, extra["desk_error"])
    elif extra.get("nothing"):
        messages.warning(request, extra["nothing"])
    return redirect("workspace:home")


@roles_required(*roles_with(Permission.DO_WORK))
@require_POST
def workspace_next(request: HttpRequest) -> HttpResponse:
    """ "Get next": take the best queued item this agent may work and open it, or say why not."""
    try:
        claim = routing_actions.do_claim_next(_user(request), source_ip=client_ip(request))
    except ActionRefused as refusal:
        return _desk_answer(request, desk_error=refusal.message)
    if claim.item is None:
        return _desk_answer(request, nothing=claim.reason, nothing_rule=claim.rule)
    reference = claim.item.reference
    why = claim.reason.removeprefix(f"{reference} is ")
    said = f"You took {reference}: {why}" if why != claim.reason else f"You took {reference}."
    messages.success(request, said)
    url = item_url(claim.item)
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(url)
    return redirect(url)


@roles_required(*roles_with(Permission.SET_PRESENCE))
@require_POST
def workspace_presence(request: HttpRequest) -> HttpResponse:
    """Set the agent's presence: available, on a break or offline."""
    try:
        routing_actions.do_set_presence(
            _user(request), request.POST.get("status", ""), source_ip=client_ip(request)
        )
    except ActionRefused as refusal:
        return _desk_answer(request, desk_error=refusal.message)
    return _desk_answer(request)


@roles_required(*roles_with(Permission.VIEW_HELD_AND_OFFERED_WORK))
def workspace_home(request: HttpRequest) -> HttpResponse:
    """An agent's items in hand, their presence and "Get next", handoffs at shift end, and
    the queued items they may take."""
    return _workspace(request)


def _handoff_desk(user: User) -> routing_queries.HandoffDesk | None:
    """The agent's handoffs and shift end, or ``None`` for someone who hands nothing off."""
    if not can(user.role_enum, Permission.HAND_OFF):
        return None
    try:
        return routing_queries.handoff_desk(user)
    except ActionRefused:
        return None


def _workspace(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    """The workspace page; ``extra`` carries a refused handoff's message back to its form."""
    user = _user(request)
    visible = queries.visible_work_items(user)
    mine = (
        visible.filter(owner=user)
        .exclude(state__in=[State.ACCEPTED.value, State.CANCELLED.value, State.DELIVERED.value])
        .order_by("-priority", "created_at")
    )
    # In routing order, so work a handoff returned to the front of the queue shows first.
    queue = visible.filter(state=State.QUEUED.value).order_by(*routing_queries.ROUTING_ORDER)[:50]
    # Finished items leave the agent's sight; they see how much they completed, not the items.
    completed_this_week = WorkItemEvent.objects.filter(
        actor=user, kind=Action.COMPLETE.value, at__gte=timezone.now() - dt.timedelta(days=7)
    ).count()
    agent = Agent.objects.filter(user=user).select_related("site").first()
    profile = agent_profile(agent) if agent else None
    handoff = _handoff_desk(user)
    listed = {item.pk for item in handoff.items} if handoff else set()
    return render(
        request,
        "work/workspace_home.html",
        _desk_context(
            user,
            mine=mine,
            queue=queue,
            completed_this_week=completed_this_week,
            agent=agent,
            profile=profile,
            handoff=handoff,
            # A refused handoff of an item not listed (say, waiting on the client) says so above.
            handoff_error_general=extra.get("handoff_item") not in listed,
            **extra,
        ),
        status=status,
    )


@login_required
@require_POST
def workspace_hand_off(request: HttpRequest, item_id: int) -> HttpResponse:
    """Hand an item the agent holds to the next shift, with their note."""
    item = _visible_item_or_404(request, item_id)
    try:
        handoff = routing_actions.do_hand_off(
            _user(request), item, request.POST.get("note", ""), source_ip=client_ip(request)
        )
    except ActionRefused as refusal:
        return _workspace(
            request,
            status=refusal.status,
            handoff_error=refusal.message,
            handoff_item=item.pk,
            handoff_note=request.POST.get("note", ""),
        )
    if handoff.to_agent is not None:
        messages.success(
            request,
            f"{item.reference} handed to {handoff.to_agent.user.full_name} "
            f"({handoff.to_agent.site.name}), who will acknowledge it.",
        )
    else:
        messages.warning(
            request,
            f"Nobody eligible is on the next shift: {item.reference} is back at the front of "
            "the queue with your note, and the operations lead was alerted.",
        )
    return redirect("workspace:home")


@login_required
@require_POST
def workspace_acknowledge(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Acknowledge a handoff offered to the agent: they take the item over, and see it."""
    user = _user(request)
    handoff = routing_queries.get_visible_handoff(user, handoff_id)
    if handoff is None:
        raise Http404("No such handoff.")
    try:
        routing_actions.do_acknowledge_handoff(user, handoff, source_ip=client_ip(request))
    except ActionRefused as refusal:
        return _workspace(
            request, status=refusal.status, ack_error=refusal.message, ack_handoff=handoff.pk
        )
    messages.success(
        request,
        f"You now hold {handoff.item.reference}; "
        f"{handoff.from_agent.user.full_name}'s note is on its timeline.",
    )
    return redirect("items:detail", item_id=handoff.item_id)


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
    """An agent a lead might assign, as routing sees them now.

    ``exclusion`` is a rule :func:`~relaydesk.work.actions.do_assign` enforces
    (what the item demands, capacity): the agent cannot be picked. ``warning``
    says why routing would not give them work right now (off shift, on a break,
    offline) — advice only: a lead may still assign them, say for the start of
    their next shift.
    """

    agent: Agent
    load: int
    exclusion: Exclusion | None
    warning: str = ""


def _assign_candidates(user: User, item: WorkItem) -> list[Candidate]:
    """Agents an operations lead may pick, each with why they can't take it, or with what
    routing would say about them now (shift, presence), from the same routing view."""
    assignable = (State.QUEUED, State.ASSIGNED, State.IN_PROGRESS, State.REWORK)
    if not can(user.role_enum, Permission.ASSIGN_WORK) or item.state_enum not in assignable:
        return []
    needs = queries.item_needs(item)
    now = timezone.now()
    today = timezone.localdate(now)  # the day do_assign checks certifications on
    visible = set(visible_agents(user).values_list("pk", flat=True))
    book = routing_queries.CalendarBook(at=now)
    candidates = []
    for agent, moment in routing_queries.routing_agents(now, book=book):
        if agent.pk not in visible:
            continue
        exclusion = first_exclusion(moment.profile, needs, today)
        warning = ""
        if exclusion is not None and exclusion.rule == "capacity":
            exclusion = Exclusion(
                "capacity", routing_queries.moment_label(agent, moment, exclusion, now, book)
            )
        elif exclusion is None:
            refusal = agent_exclusion(moment, now)
            warning = routing_queries.moment_label(agent, moment, refusal, now, book)
        candidates.append(
            Candidate(agent=agent, load=moment.profile.load, exclusion=exclusion, warning=warning)
        )
    candidates.sort(
        key=lambda c: (c.exclusion is not None, bool(c.warning), c.load, c.agent.user.full_name)
    )
    return candidates


#: The routing rules as the item page names them, in the order the core checks them.
RULE_LABELS = {
    "skill": "Lacking a skill level",
    "certification": "Without a valid certification",
    "language": "Not working in the language",
    "clearance": "Without the clearance",
    "residency": "At a site in a country the client does not allow",
    "site": "Not at a site the item is offered to first",
    "dedicated": "Not a dedicated agent of the engagement",
    "shift": "Off shift",
    "presence": "On a break or offline",
    "capacity": "At capacity",
}
RELAXATION_LABELS = {
    "lower-proficiency": "skill minimums one level lower",
    "other-sites": "opened to every allowed site",
    "alert-lead": "operations lead alerted",
}
HOW_GIVEN = {Action.TAKE.value: "took it", Action.ASSIGN.value: "was assigned it"}


@dataclass(frozen=True)
class EligibleAgent:
    """An agent who may take the item now, with how much they hold."""

    name: str
    site: str
    load: int | None
    capacity: int | None


@dataclass(frozen=True)
class SameReason:
    """Agents excluded for the very same reason, by site: ``((site, (name, ...)), ...)``."""

    reason: str
    sites: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class ExcludedGroup:
    """The agents one routing rule keeps from the item, gathered by their reason."""

    rule: str
    label: str
    count: int
    reasons: tuple[SameReason, ...]


def _excluded_group(rule: str, rows: list[routing_queries.AgentVerdictRow]) -> ExcludedGroup:
    """One rule's agents; those with the same reason share a line (dozens often do)."""
    by_reason: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        by_reason.setdefault(row.reason, {}).setdefault(row.site, []).append(row.name)
    reasons = sorted(
        (
            SameReason(
                reason=reason,
                sites=tuple((site, tuple(sorted(names))) for site, names in sorted(sites.items())),
            )
            for reason, sites in by_reason.items()
        ),
        key=lambda same: (-sum(len(names) for _, names in same.sites), same.reason),
    )
    return ExcludedGroup(
        rule=rule,
        label=RULE_LABELS.get(rule, rule.capitalize()),
        count=len(rows),
        reasons=tuple(reasons),
    )


def _routing_summary(explained: routing_queries.ItemRouting) -> str:
    """One line: how many may take the item, or what keeps every agent from it."""
    total = len(explained.verdicts)
    if explained.eligible:
        return f"{len(explained.eligible)} of {total} agents may take it now."
    if not total:
        return "Stuck: there are no agents to route it to."
    counted = ", ".join(
        f"{count} {RULE_LABELS.get(rule, rule).lower()}"
        for rule, count in explained.excluded_by.items()
    )
    return f"Stuck: none of the {total} agents may take it now — {counted}."


@dataclass(frozen=True)
class EscalationShown:
    """A ladder step the item reached, in words."""

    level: int
    at: dt.datetime
    what: str


@dataclass(frozen=True)
class RoutingPanel:
    """The item page's routing section, for those who may see how items are routed."""

    summary: str
    stuck: bool
    eligible: tuple[EligibleAgent, ...]
    excluded: tuple[ExcludedGroup, ...]
    queued_since: dt.datetime | None
    steps: tuple[EscalationShown, ...]
    next_step_at: dt.datetime | None
    owner: str = ""
    given: routing_queries.HeldItem | None = None
    how_given: str = ""
    owner_refusal: str = ""


def _routing_panel(user: User, item: WorkItem) -> RoutingPanel | None:
    """Who may take a queued item and why not the others; for a held item, how the owner got
    it. Only for roles that may see routing: it names the provider's agents."""
    if not can(user.role_enum, Permission.VIEW_ROUTING):
        return None
    if item.state_enum is State.QUEUED:
        return _queued_panel(user, item)
    if item.owner_id is not None and item.state_enum.is_open:
        return _held_panel(user, item)
    return None


def _queued_panel(user: User, item: WorkItem) -> RoutingPanel:
    explained = routing_queries.explain_item(user, item)
    agents = {
        agent.pk: agent
        for agent in visible_agents(user).filter(pk__in=[v.agent_id for v in explained.verdicts])
    }
    eligible = tuple(
        sorted(
            (
                EligibleAgent(
                    name=v.name,
                    site=v.site,
                    load=int(agents[v.agent_id].load) if v.agent_id in agents else None,  # type: ignore[attr-defined]
                    capacity=agents[v.agent_id].capacity if v.agent_id in agents else None,
                )
                for v in explained.eligible
            ),
            key=lambda a: (a.load if a.load is not None else 0, a.name),
        )
    )
    groups = tuple(
        _excluded_group(rule, [v for v in explained.verdicts if v.rule == rule])
        for rule in explained.excluded_by
    )
    steps = tuple(
        EscalationShown(
            level=step.level,
            at=step.at,
            what="; ".join(RELAXATION_LABELS.get(r, r) for r in step.relaxations) or "recorded",
        )
        for step in sorted(explained.steps, key=lambda s: s.level)
    )
    return RoutingPanel(
        summary=_routing_summary(explained),
        stuck=not explained.eligible,
        eligible=eligible,
        excluded=groups,
        queued_since=explained.queued_since,
        steps=steps,
        next_step_at=explained.next_step_at,
    )


def _held_panel(user: User, item: WorkItem) -> RoutingPanel | None:
    owner_id = item.owner_id
    if owner_id is None:
        return None
    owner = Agent.objects.select_related("user", "site").filter(user_id=owner_id).first()
    if owner is None:
        return None
    why = routing_queries.why_assigned(user, owner)
    given = next((held for held in why.held if held.item.pk == item.pk), None)
    return RoutingPanel(
        summary="",
        stuck=False,
        eligible=(),
        excluded=(),
        queued_since=None,
        steps=(),
        next_step_at=None,
        owner=owner.user.full_name,
        given=given,
        how_given=HOW_GIVEN.get(given.how, "") if given else "",
        owner_refusal=why.refusal,
    )


def item_page_context(request: HttpRequest, item: WorkItem) -> dict[str, Any]:
    """What the item page shows the signed-in person (also after a refused form elsewhere)."""
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
        "routing": _routing_panel(user, item),
        "clocks": live_clocks(item),
        "now": timezone.now(),
        "quality": review_panel(user, item),
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
    return render(request, "work/item_detail.html", item_page_context(request, item))


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
    context = item_page_context(request, fresh)
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
    context = item_page_context(request, item)
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
