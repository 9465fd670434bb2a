"""Who may work an item: the hard rules, each with a name and a reason.

Automatic routing builds on these rules; in the meantime they guard manual
assignment and decide which queued items an agent may see and take.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["AgentProfile", "CertificationGrant", "Exclusion", "ItemNeeds", "first_exclusion"]


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


@dataclass(frozen=True, slots=True)
class Exclusion:
    """The first rule an agent fails, by name, with a sentence for people."""

    rule: str
    reason: str


def first_exclusion(
    agent: AgentProfile, needs: ItemNeeds, today: dt.date, *, check_capacity: bool = True
) -> Exclusion | None:
    """Return the first hard rule ``agent`` fails for ``needs``, or ``None`` if eligible."""
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
    if needs.dedicated_agent_ids and agent.agent_id not in needs.dedicated_agent_ids:
        return Exclusion("dedicated", "not one of the engagement's dedicated agents")
    if check_capacity and agent.load >= agent.capacity:
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
