"""Reads of sites and agents, and the basic eligibility of an agent for an item."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.core.eligibility import AgentProfile, CertificationGrant
from relaydesk.core.permissions import Permission, can
from relaydesk.work.models import HELD_STATES
from relaydesk.workforce.models import Agent, Site

HOLDING_STATES = [state.value for state in HELD_STATES]


def visible_sites(actor: User) -> QuerySet[Site]:
    """Sites the actor may see: those who manage the workforce see all, others none."""
    if not can(actor.role_enum, Permission.VIEW_WORKFORCE):
        return Site.objects.none()
    return Site.objects.all()


def visible_agents(actor: User) -> QuerySet[Agent]:
    """Agents the actor may see, with their current load: those who manage the workforce."""
    if not can(actor.role_enum, Permission.VIEW_WORKFORCE):
        return Agent.objects.none()
    return (
        Agent.objects.select_related("user", "site")
        .filter(user__is_active=True)
        .annotate(
            load=Count("user__owned_items", filter=Q(user__owned_items__state__in=HOLDING_STATES))
        )
    )


def agent_profile(
    agent: Agent, *, load: int | None = None, on: dt.date | None = None
) -> AgentProfile:
    """The agent as plain data for the eligibility rules, with clearances valid ``on`` a day.

    Uses the agent's prefetched skills, certifications and clearances when the
    caller loaded them (``prefetch_related("skills__skill", …)``).
    """
    on = on or timezone.localdate()
    if load is None:
        load = agent.user.owned_items.filter(state__in=HOLDING_STATES).count()
    prefetched = getattr(agent, "_prefetched_objects_cache", {})
    skills = agent.skills.all() if "skills" in prefetched else agent.skills.select_related("skill")
    certifications = (
        agent.certifications.all()
        if "certifications" in prefetched
        else agent.certifications.select_related("certification")
    )
    clearances = (
        agent.clearances.all()
        if "clearances" in prefetched
        else agent.clearances.select_related("clearance")
    )
    return AgentProfile(
        agent_id=agent.pk,
        country=agent.site.country,
        skills={s.skill.slug: s.proficiency for s in skills},
        languages=frozenset(agent.languages),
        capacity=agent.capacity,
        load=load,
        certifications=tuple(
            CertificationGrant(
                code=c.certification.code,
                jurisdictions=frozenset(c.jurisdictions),
                valid_until=c.valid_until,
            )
            for c in certifications
        ),
        clearances=frozenset(
            c.clearance.code for c in clearances if c.expires_on is None or c.expires_on >= on
        ),
    )
