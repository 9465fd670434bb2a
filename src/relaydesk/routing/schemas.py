"""Shapes of routing in the API: "Get next", presence, and an item's routing explanation."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from relaydesk.work.schemas import WorkItemOut

PresenceName = Literal["available", "on-break", "offline"]


class PresenceIn(Schema):
    """The presence an agent sets for themself."""

    status: PresenceName


class PresenceOut(Schema):
    """An agent's presence and whether they can take work right now."""

    status: PresenceName
    since: dt.datetime | None = Field(description="When the status was set (empty: never).")
    idle_since: dt.datetime | None = Field(
        description="When the agent last got, finished or released work, or became available."
    )
    site: str
    load: int = Field(description="Items the agent holds now.")
    capacity: int
    can_take_work: bool
    reason: str = Field(description="Why not, when the agent cannot take work now.")


class ClaimOut(Schema):
    """The item "Get next" gave the agent, and why it was this one."""

    item: WorkItemOut
    reason: str


class NoClaimOut(Schema):
    """Why "Get next" gave nothing.

    ``rule``: ``shift``, ``presence`` or ``capacity`` (the agent cannot take work
    now), ``empty`` (nothing queued), ``no-match`` (nothing queued the agent may
    take), ``busy`` (what they may take is being claimed by others).
    """

    detail: str
    rule: str = ""


class VerdictOut(Schema):
    """One agent's answer for the item: eligible, or the first rule that excludes them."""

    agent_id: int
    name: str
    site: str
    eligible: bool
    rule: str = Field(description="The first rule that excludes the agent (empty: eligible).")
    reason: str


class NeedsOut(Schema):
    """What the item demands of whoever takes it, as routing applies it now."""

    skills: dict[str, int]
    language: str
    jurisdiction: str
    certification: str
    clearance: str
    allowed_countries: list[str]
    sites: list[str] = Field(description="Sites it is offered to for now (empty: any).")
    dedicated_agents: int = Field(description="How many dedicated agents it is limited to.")


class StepOut(Schema):
    """An escalation step the item reached, as on its timeline."""

    level: int
    at: dt.datetime
    relaxations: list[str]


class RoutingOut(Schema):
    """Who may take an item now, and for every other agent the rule that excludes them."""

    item_id: int
    reference: str
    state: str
    at: dt.datetime
    summary: str
    needs: NeedsOut
    eligible: list[VerdictOut]
    excluded: list[VerdictOut]
    excluded_by: dict[str, int] = Field(description="How many agents each rule excluded.")
    queued_since: dt.datetime | None
    escalation: list[StepOut]
    next_step_at: dt.datetime | None


# --- handoff ----------------------------------------------------------------------------------

HandoffStateName = Literal["offered", "acknowledged", "returned"]


class HandoffIn(Schema):
    """The outgoing agent's note for whoever takes the item over."""

    note: str = Field(
        description="What is done and what is left (required, at most 4,000 characters)."
    )


class AgentRefOut(Schema):
    """An agent named in a handoff."""

    agent_id: int
    name: str
    site: str


class HandoffOut(Schema):
    """One leg of an item's relay from one shift to the next."""

    id: int
    item_id: int
    reference: str
    title: str
    state: HandoffStateName = Field(
        description="offered (waiting for acknowledgement), acknowledged, or returned "
        "(back at the front of the queue)."
    )
    from_agent: AgentRefOut
    to_agent: AgentRefOut | None = Field(
        description="Who the item was offered to (empty: nobody eligible was on the next shift)."
    )
    note: str
    created_at: dt.datetime
    respond_by: dt.datetime = Field(
        description="When an offer not acknowledged returns to the front of the queue."
    )
    acknowledged_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str


class MyHandoffsOut(Schema):
    """The signed-in agent's handoffs, and whether their shift is ending."""

    shift_ends: dt.datetime | None = Field(
        description="When your current shift ends (empty: off shift, or more than a day away)."
    )
    shift_ended: dt.datetime | None = Field(
        description="When your last shift ended, if you are off shift now."
    )
    handoff_due: bool = Field(
        description="True when your shift ends within the hour (or has ended) and you hold items."
    )
    to_hand_off: list[int] = Field(description="Ids of the items you hold and could hand off.")
    to_me: list[HandoffOut] = Field(description="Handoffs waiting for your acknowledgement.")
    from_me: list[HandoffOut] = Field(description="The last handoffs you gave (at most 10).")
