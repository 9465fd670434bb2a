"""The routing API: "Get next", an agent's presence, and why an item is routed as it is."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from relaydesk.accounts.models import User
from relaydesk.errors import NotFound
from relaydesk.routing import actions, queries
from relaydesk.routing.models import Handoff
from relaydesk.routing.schemas import (
    AgentRefOut,
    ClaimOut,
    HandoffIn,
    HandoffOut,
    MyHandoffsOut,
    NeedsOut,
    NoClaimOut,
    PresenceIn,
    PresenceOut,
    RoutingOut,
    StepOut,
    VerdictOut,
)
from relaydesk.web import client_ip
from relaydesk.work.api import ERRORS, item_out
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import get_visible_item
from relaydesk.work.schemas import ErrorOut
from relaydesk.workforce.models import Agent

router = Router(tags=["routing"])

# Every answer but success (as for every work-item route, a malformed id is 422);
# 409 on "Get next" carries the reason nothing was given.
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
NEXT_ERRORS = {**{k: v for k, v in ERRORS.items() if k != 409}, 409: NoClaimOut}


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def visible_item(request: HttpRequest, item_id: int) -> WorkItem:
    """The item if the caller may see it, else the same 404 as every item route."""
    item = get_visible_item(_user(request), item_id)
    if item is None:
        raise NotFound(f"No work item {item_id}.")
    return item


@router.get(
    "/work-items/{item_id}/routing",
    response={200: RoutingOut, **READ_ERRORS},
    summary="Why a work item is routed as it is",
)
def item_routing(request: HttpRequest, item_id: int) -> RoutingOut:
    """Who may take the item now and, for every other agent, the first rule that excludes
    them (skill, certification, language, clearance, residency, site, dedicated, shift,
    presence, capacity); the escalation steps it reached and when the next one comes.

    For operations leads and provider admins. Anyone else who may see the item gets 403
    (the answer names the provider's agents); an item you may not see is 404.
    """
    user = _user(request)
    explained = queries.explain_item(user, visible_item(request, item_id))
    needs = explained.needs

    def verdict(row: queries.AgentVerdictRow) -> VerdictOut:
        return VerdictOut(
            agent_id=row.agent_id,
            name=row.name,
            site=row.site,
            eligible=row.eligible,
            rule=row.rule,
            reason=row.reason,
        )

    return RoutingOut(
        item_id=explained.item.pk,
        reference=explained.item.reference,
        state=explained.item.state,
        at=explained.at,
        summary=explained.summary,
        needs=NeedsOut(
            skills=dict(needs.skills),
            language=needs.language,
            jurisdiction=needs.jurisdiction,
            certification=needs.certification,
            clearance=needs.clearance,
            allowed_countries=sorted(needs.allowed_countries),
            sites=sorted(needs.sites),
            dedicated_agents=len(needs.dedicated_agent_ids),
        ),
        eligible=[verdict(v) for v in explained.verdicts if v.eligible],
        excluded=[verdict(v) for v in explained.verdicts if not v.eligible],
        excluded_by=explained.excluded_by,
        queued_since=explained.queued_since,
        escalation=[
            StepOut(level=s.level, at=s.at, relaxations=list(s.relaxations))
            for s in explained.steps
        ],
        next_step_at=explained.next_step_at,
    )


@router.post(
    "/agents/me/next",
    response={200: ClaimOut, **NEXT_ERRORS},
    summary="Get next: take the best queued item you may work",
)
def get_next(request: HttpRequest) -> Status[ClaimOut] | Status[NoClaimOut]:
    """Take the first queued item in routing order (priority, due time, age) that you may
    work, in one transaction: 200 with the item. 409 when nothing was taken, with the
    reason and its rule: you are off shift, on a break or offline, or at capacity, or
    nothing queued is for you. 403 for anyone who does not work items.
    """
    user = _user(request)
    claim = actions.do_claim_next(user, source_ip=client_ip(request))
    if claim.item is None:
        return Status(409, NoClaimOut(detail=claim.reason, rule=claim.rule))
    item = visible_item(request, claim.item.pk)
    return Status(200, ClaimOut(item=item_out(user, item), reason=claim.reason))


def _presence_out(view: queries.PresenceView) -> PresenceOut:
    row = view.row
    return PresenceOut(
        status=view.moment.presence.value,
        since=row.since if row else None,
        idle_since=row.idle_since if row else None,
        site=view.agent.site.name,
        load=view.moment.profile.load,
        capacity=view.moment.profile.capacity,
        can_take_work=view.can_take_work,
        reason=view.reason,
    )


@router.get(
    "/agents/me/presence",
    response={200: PresenceOut, **READ_ERRORS},
    summary="Your presence",
)
def get_presence(request: HttpRequest) -> PresenceOut:
    """Whether you are available, on a break or offline, and whether you can take work now
    (and if not, why: shift, presence or capacity). 403 for anyone who is not an agent."""
    return _presence_out(queries.my_presence(_user(request)))


@router.put(
    "/agents/me/presence",
    response={200: PresenceOut, **ERRORS},
    summary="Set your presence",
)
def set_presence(request: HttpRequest, payload: PresenceIn) -> PresenceOut:
    """Say you are available, on a break or offline. Only available agents get work, by
    "Get next" or from routing; becoming available starts your idle time."""
    user = _user(request)
    actions.do_set_presence(user, payload.status, source_ip=client_ip(request))
    return _presence_out(queries.my_presence(user))


# --- handoff ----------------------------------------------------------------------------------


def _agent_ref(agent: Agent | None) -> AgentRefOut | None:
    if agent is None:
        return None
    return AgentRefOut(agent_id=agent.pk, name=agent.user.full_name, site=agent.site.name)


def handoff_out(handoff: Handoff) -> HandoffOut:
    """A handoff as the API shows it."""
    giver = _agent_ref(handoff.from_agent)
    assert giver is not None
    return HandoffOut(
        id=handoff.pk,
        item_id=handoff.item_id,
        reference=handoff.item.reference,
        title=handoff.item.title,
        state=handoff.state,  # type: ignore[arg-type]
        from_agent=giver,
        to_agent=_agent_ref(handoff.to_agent),
        note=handoff.note,
        created_at=handoff.created_at,
        respond_by=handoff.respond_by,
        acknowledged_at=handoff.acknowledged_at,
        returned_at=handoff.returned_at,
        return_reason=handoff.return_reason,
    )


def _visible_handoff(request: HttpRequest, handoff_id: int) -> Handoff:
    handoff = queries.get_visible_handoff(_user(request), handoff_id)
    if handoff is None:
        raise NotFound(f"No handoff {handoff_id}.")
    return handoff


@router.post(
    "/work-items/{item_id}/handoff",
    response={201: HandoffOut, **ERRORS},
    summary="Hand an item you hold to the next shift",
)
def hand_off(request: HttpRequest, item_id: int, payload: HandoffIn) -> Status[HandoffOut]:
    """Hand the item to the best eligible agent of the next shift at any site, with your note
    (what is done, what is left): 201 with the handoff. It is assigned to them and waits for
    their acknowledgement until ``respond_by``; with nobody eligible on the next shift the
    handoff is ``returned`` and the item is back at the front of the queue (the operations
    lead is alerted). 422 without a note; 403 if you are not the agent holding it; 409 when
    it is waiting on the client, or was handed to you and waits for your acknowledgement.
    """
    user = _user(request)
    handoff = actions.do_hand_off(
        user, visible_item(request, item_id), payload.note, source_ip=client_ip(request)
    )
    return Status(201, handoff_out(_visible_handoff(request, handoff.pk)))


@router.post(
    "/handoffs/{handoff_id}/acknowledge",
    response={200: HandoffOut, **ERRORS},
    summary="Acknowledge a handoff offered to you",
)
def acknowledge_handoff(request: HttpRequest, handoff_id: int) -> HandoffOut:
    """Take over the item handed to you: from now on you hold it. 403 if it was offered to
    someone else; 409 if it was already acknowledged, went back to the queue, or you are
    over your capacity. A handoff you may not see is 404."""
    user = _user(request)
    handoff = actions.do_acknowledge_handoff(
        user, _visible_handoff(request, handoff_id), source_ip=client_ip(request)
    )
    return handoff_out(_visible_handoff(request, handoff.pk))


@router.get(
    "/agents/me/handoffs",
    response={200: MyHandoffsOut, **READ_ERRORS},
    summary="Your handoffs",
)
def my_handoffs(request: HttpRequest) -> MyHandoffsOut:
    """Handoffs waiting for your acknowledgement, the last ones you gave, the items you could
    hand off, and when your shift ends. 403 for anyone who is not an agent."""
    desk = queries.handoff_desk(_user(request))
    return MyHandoffsOut(
        shift_ends=desk.shift_ends,
        shift_ended=desk.shift_ended,
        handoff_due=desk.due,
        to_hand_off=[item.pk for item in desk.items],
        to_me=[handoff_out(h) for h in desk.to_me],
        from_me=[handoff_out(h) for h in desk.from_me],
    )
