"""Who may work an item: the hard rules, each with a name and a reason.

The rules, in the order they are checked (see ``RULES``): what the item demands
(skill, certification, language, clearance, residency, site, dedicated), then
whether the agent can take work right now (shift, presence, capacity). They guard
manual assignment, decide which queued items an agent may see and take, and are
the eligibility of :mod:`relaydesk.core.routing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from relaydesk.core.shifts import ShiftCalendar

__all__ = [
    "RULES",
    "AgentProfile",
    "CertificationGrant",
    "Exclusion",
    "ItemNeeds",
    "Presence",
    "capacity_exclusion",
    "first_exclusion",
    "meets_needs",
    "presence_exclusion",
    "qualification_exclusion",
    "shift_exclusion",
]

#: Every hard rule by name, in the order they are checked.
RULES: tuple[str, ...] = (
    "skill",
    "certification",
    "language",
    "clearance",
    "residency",
    "site",
    "dedicated",
    "shift",
    "presence",
    "capacity",
)


class Presence(StrEnum):
    """What an agent has told the desk about themselves: ready for work or not."""

    AVAILABLE = "available"
    ON_BREAK = "on-break"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class CertificationGrant:
    """A certification an agent holds, its jurisdictions (empty: all) and expiry."""

    code: str
    jurisdictions: frozenset[str]
    valid_until: dt.date

    def covers(self, jurisdiction: str, on: dt.date) -> bool:
        """True when valid on ``on`` for ``jurisdiction``."""
        in_scope = not jurisdiction or not self.jurisdictions or jurisdiction in self.jurisdictions
        return in_scope and on <= self.valid_until


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the rules need to know about an agent."""

    agent_id: int
    country: str
    skills: Mapping[str, int]
    languages: frozenset[str]
    capacity: int
    load: int
    certifications: tuple[CertificationGrant, ...] = ()
    clearances: frozenset[str] = frozenset()
    site: str = ""


@dataclass(frozen=True, slots=True)
class ItemNeeds:
    """What an item demands of whoever works it."""

    skills: Mapping[str, int]
    language: str = "en"
    jurisdiction: str = ""
    certification: str = ""
    clearance: str = ""
    allowed_countries: frozenset[str] = frozenset()
    dedicated_agent_ids: frozenset[int] = field(default_factory=frozenset)
    # Sites the item is open to for now (empty: any site the countries allow);
    # the escalation ladder opens it to the others.
    sites: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Exclusion:
    """The first rule an agent fails, by name, with a sentence for people."""

    rule: str
    reason: str


def first_exclusion(
    agent: AgentProfile, needs: ItemNeeds, today: dt.date, *, check_capacity: bool = True
) -> Exclusion | None:
    """Return the first hard rule ``agent`` fails for ``needs``, or ``None`` if eligible.

    Checks what the item demands and, unless ``check_capacity`` is false, capacity;
    shift and presence, which depend on the moment, are separate rules
    (:func:`shift_exclusion`, :func:`presence_exclusion`).
    """
    refusal = qualification_exclusion(agent, needs, today)
    if refusal is None and check_capacity:
        return capacity_exclusion(agent)
    return refusal


def qualification_exclusion(
    agent: AgentProfile, needs: ItemNeeds, today: dt.date
) -> Exclusion | None:
    """The first rule about what the item demands that ``agent`` fails, or ``None``.

    These rules depend only on the agent's record and the item's needs (and the day,
    for certification expiry), so their answer can be kept for a day.
    """
    for skill, minimum in needs.skills.items():
        have = agent.skills.get(skill, 0)
        if have < minimum:
            return Exclusion("skill", f"needs {skill} at {minimum}/5, has {have}/5")
    if needs.certification:
        refusal = _certification_exclusion(agent, needs, today)
        if refusal is not None:
            return refusal
    if needs.language and needs.language not in agent.languages:
        return Exclusion("language", f"does not work in language '{needs.language}'")
    if needs.clearance and needs.clearance not in agent.clearances:
        return Exclusion("clearance", f"lacks the {needs.clearance} clearance")
    if needs.allowed_countries and agent.country not in needs.allowed_countries:
        allowed = ", ".join(sorted(needs.allowed_countries))
        return Exclusion(
            "residency", f"works from {agent.country}; the client allows only {allowed}"
        )
    if needs.sites and agent.site not in needs.sites:
        offered = ", ".join(sorted(needs.sites))
        return Exclusion(
            "site",
            f"works at {agent.site or 'no site'}; the item is open only to {offered} for now",
        )
    if needs.dedicated_agent_ids and agent.agent_id not in needs.dedicated_agent_ids:
        return Exclusion("dedicated", "not one of the engagement's dedicated agents")
    return None


def meets_needs(agent: AgentProfile, needs: ItemNeeds, today: dt.date) -> bool:
    """True when ``agent`` passes every rule of :func:`qualification_exclusion`.

    The same rules without the sentences: routing asks this for every agent and
    requirement set, and most answers are no.
    """
    skills = agent.skills
    for skill, minimum in needs.skills.items():
        if skills.get(skill, 0) < minimum:
            return False
    if needs.certification and not any(
        grant.code == needs.certification and grant.covers(needs.jurisdiction, today)
        for grant in agent.certifications
    ):
        return False
    return not (
        (needs.language and needs.language not in agent.languages)
        or (needs.clearance and needs.clearance not in agent.clearances)
        or (needs.allowed_countries and agent.country not in needs.allowed_countries)
        or (needs.sites and agent.site not in needs.sites)
        or (needs.dedicated_agent_ids and agent.agent_id not in needs.dedicated_agent_ids)
    )


def shift_exclusion(calendar: ShiftCalendar, now: dt.datetime) -> Exclusion | None:
    """``None`` when ``now`` is inside a shift of the agent's site calendar, else why not.

    The reason gives the site's local time and when the next shift starts, both on
    the site's wall clock.
    """
    status = calendar.status(now)
    if status.on_shift:
        return None
    local = calendar.local_time(now)
    reason = f"off shift: it is {local:%a %H:%M} in {calendar.time_zone}"
    if status.next_start is not None:
        reason += f"; next shift starts {calendar.local_time(status.next_start):%a %d %b %H:%M}"
    else:
        reason += "; no shift in the coming week"
    return Exclusion("shift", reason)


def presence_exclusion(presence: Presence) -> Exclusion | None:
    """``None`` when the agent has said they are available, else which state they are in."""
    if presence == Presence.AVAILABLE:
        return None
    if presence == Presence.ON_BREAK:
        return Exclusion("presence", "is on a break")
    return Exclusion("presence", "is offline")


def capacity_exclusion(agent: AgentProfile) -> Exclusion | None:
    """``None`` while the agent holds fewer items than their capacity."""
    if agent.load >= agent.capacity:
        return Exclusion("capacity", f"already holds {agent.load} of {agent.capacity} items")
    return None


def _certification_exclusion(
    agent: AgentProfile, needs: ItemNeeds, today: dt.date
) -> Exclusion | None:
    """Tell an expired certification apart from one that never covered the jurisdiction."""
    held = [grant for grant in agent.certifications if grant.code == needs.certification]
    if any(grant.covers(needs.jurisdiction, today) for grant in held):
        return None
    scope = f" for {needs.jurisdiction}" if needs.jurisdiction else ""
    lapsed = [grant for grant in held if grant.covers(needs.jurisdiction, grant.valid_until)]
    if lapsed:
        last = max(grant.valid_until for grant in lapsed)
        reason = f"{needs.certification} certification{scope} expired on {last:%Y-%m-%d}"
        return Exclusion("certification", reason)
    return Exclusion("certification", f"no valid {needs.certification} certification{scope}")
