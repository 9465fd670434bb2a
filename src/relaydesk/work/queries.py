"""Every read of work items, comments, attachments and timelines, filtered by the actor.

This is the one place where client isolation and agent visibility live.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.eligibility import AgentProfile, ItemNeeds, first_exclusion
from relaydesk.core.lifecycle import State
from relaydesk.core.permissions import Permission, can
from relaydesk.core.roles import Role
from relaydesk.work.models import (
    HELD_STATES,
    Attachment,
    Comment,
    Visibility,
    WorkItem,
    WorkItemEvent,
)
from relaydesk.workforce.models import Agent
from relaydesk.workforce.queries import agent_profile


def _items() -> QuerySet[WorkItem]:
    return WorkItem.objects.select_related(
        "client", "engagement", "service", "service__line", "owner", "submitted_by"
    )


def visible_work_items(actor: User) -> QuerySet[WorkItem]:
    """Work items ``actor`` may see, by the permission matrix.

    Provider admins and operations leads see every item; a client's users see
    their client's items; an agent sees the items they hold right now (not
    once handed on) and the queued items they are eligible for, both only
    where the engagement allows delivery from the agent's country; a reviewer
    sees the items awaiting review by their role and those they reviewed, only
    where the engagement allows their site's country (see :func:`reviewer_country`).
    """
    role = actor.role_enum
    if can(role, Permission.VIEW_ALL_WORK):
        return _items()
    if can(role, Permission.VIEW_CLIENT_WORK):
        return _items().filter(client_id=actor.client_id or 0)
    if can(role, Permission.VIEW_HELD_AND_OFFERED_WORK):
        agent = Agent.objects.filter(user=actor).select_related("site").first()
        if agent is None:
            return WorkItem.objects.none()
        held = Q(owner=actor, state__in=HELD_STATES) & Q(
            engagement_id__in=_engagements_allowing(agent.site.country)
        )
        return _items().filter(held | _eligible_queue_filter(actor))
    if can(role, Permission.VIEW_REVIEW_QUEUE):
        review_role = Q(service__review_role=role.value)
        if role is Role.QA_REVIEWER:
            review_role |= Q(service__review_role="")
        mine = (Q(state=State.IN_REVIEW.value) & review_role) | Q(reviewer=actor)
        country = reviewer_country(actor)
        if country is not None:
            mine &= Q(engagement_id__in=_engagements_allowing(country))
        return _items().filter(mine)
    return WorkItem.objects.none()


def reviewer_country(actor: User) -> str | None:
    """The country of the site a reviewer works from, or ``None`` when none is on record.

    A reviewer's site is the one of their workforce profile, as for an agent. With a
    site on record, the engagements' residency rules bind what the reviewer reads and
    reviews exactly as they bind an agent.
    """
    return Agent.objects.filter(user=actor).values_list("site__country", flat=True).first()


def _engagements_allowing(country: str) -> list[int]:
    """Engagements whose residency rule allows delivery from ``country``."""
    return [e.pk for e in Engagement.objects.all() if e.allows_country(country)]


def can_see_item(actor: User, item: WorkItem, *, on: dt.date | None = None) -> bool:
    """The same rule as :func:`visible_work_items`, for one item already in hand.

    Cheaper than building the whole filter when an action re-checks the item it
    locked; ``on`` is the day certifications and clearances must be valid.
    """
    role = actor.role_enum
    if can(role, Permission.VIEW_ALL_WORK):
        return True
    if can(role, Permission.VIEW_CLIENT_WORK):
        return item.client_id == actor.client_id
    if can(role, Permission.VIEW_HELD_AND_OFFERED_WORK):
        agent = Agent.objects.select_related("site").filter(user=actor).first()
        if agent is None or not item.engagement.allows_country(agent.site.country):
            return False
        if item.owner_id == actor.pk and item.state in HELD_STATES:
            return True
        if item.state != State.QUEUED.value:
            return False
        on = on or timezone.localdate()
        profile = agent_profile(agent, load=0, on=on)
        return first_exclusion(profile, item_needs(item), on, check_capacity=False) is None
    if can(role, Permission.VIEW_REVIEW_QUEUE):
        country = reviewer_country(actor)
        if country is not None and not item.engagement.allows_country(country):
            return False
        if item.reviewer_id == actor.pk:
            return True
        wanted = item.service.review_role or Role.QA_REVIEWER.value
        return item.state == State.IN_REVIEW.value and wanted == role.value
    return False


def get_visible_item(actor: User, item_id: int) -> WorkItem | None:
    """The item if ``actor`` may see it, else ``None`` (so callers answer 404)."""
    return visible_work_items(actor).filter(pk=item_id).first()


def _eligible_queue_filter(actor: User) -> Q:
    """Queued items the agent could work, by skills, certification, language and residency."""
    agent = Agent.objects.filter(user=actor).select_related("site").first()
    if agent is None:
        return Q(pk__in=[])
    profile = agent_profile(agent, load=0)
    today = timezone.localdate()
    fitting_services = {
        service.pk
        for service in Service.objects.prefetch_related("skill_needs__skill").select_related(
            "required_clearance"
        )
        if _has_skills_and_clearance(profile, service_needs(service))
    }
    scope = Q(pk__in=[])
    engagements = Engagement.objects.select_related("required_certification").prefetch_related(
        "dedicated_agents", "services"
    )
    for engagement in engagements:
        dedicated = engagement.dedicated_agents.all()
        if not engagement.allows_country(profile.country) or (dedicated and agent not in dedicated):
            continue
        services = [s.pk for s in engagement.services.all() if s.pk in fitting_services]
        if not services:
            continue
        here = Q(engagement_id=engagement.pk, service_id__in=services)
        certification = engagement.required_certification
        if certification is None:
            scope |= here
            continue
        jurisdictions: set[str] = set()
        for grant in profile.certifications:
            if grant.code == certification.code and grant.valid_until >= today:
                if not grant.jurisdictions:
                    scope |= here
                    break
                jurisdictions |= grant.jurisdictions
        else:
            scope |= here & (Q(jurisdiction="") | Q(jurisdiction__in=sorted(jurisdictions)))
    return Q(state=State.QUEUED.value) & Q(language__in=sorted(profile.languages)) & scope


def _has_skills_and_clearance(profile: AgentProfile, needs: ItemNeeds) -> bool:
    skills_ok = all(profile.skills.get(s, 0) >= m for s, m in needs.skills.items())
    return skills_ok and (not needs.clearance or needs.clearance in profile.clearances)


def service_needs(service: Service) -> ItemNeeds:
    """What any item of ``service`` demands, before its engagement, jurisdiction and language."""
    prefetched = getattr(service, "_prefetched_objects_cache", {})
    needs = (
        service.skill_needs.all()
        if "skill_needs" in prefetched
        else service.skill_needs.select_related("skill")
    )
    return ItemNeeds(
        skills={need.skill.slug: need.min_proficiency for need in needs},
        clearance=service.required_clearance.code if service.required_clearance else "",
    )


def item_needs(item: WorkItem) -> ItemNeeds:
    """Everything ``item`` demands of whoever works it."""
    base = service_needs(item.service)
    certification = item.engagement.required_certification
    return ItemNeeds(
        skills=base.skills,
        language=item.language,
        jurisdiction=item.jurisdiction,
        certification=certification.code if certification and item.jurisdiction else "",
        clearance=base.clearance,
        allowed_countries=frozenset(item.engagement.allowed_countries),
        dedicated_agent_ids=frozenset(
            item.engagement.dedicated_agents.values_list("pk", flat=True)
        ),
    )


def visible_events(actor: User, item: WorkItem) -> QuerySet[WorkItemEvent]:
    """The item's timeline as ``actor`` may read it (clients don't see internal entries)."""
    events = item.events.select_related("actor")
    return events.filter(internal=False) if actor.is_client_user else events.all()


def visible_comments(actor: User, item: WorkItem) -> QuerySet[Comment]:
    """The item's comments as ``actor`` may read them (clients don't see internal ones)."""
    comments = item.comments.select_related("author")
    if actor.is_client_user:
        return comments.filter(visibility=Visibility.CLIENT)
    return comments.all()


def visible_attachments(actor: User, item: WorkItem) -> QuerySet[Attachment]:
    """The item's attachments as ``actor`` may see them."""
    attachments = item.attachments.select_related("uploaded_by")
    if actor.is_client_user:
        return attachments.filter(visibility=Visibility.CLIENT)
    return attachments.all()


def filter_items(
    items: QuerySet[WorkItem],
    *,
    state: str = "",
    service: str = "",
    client: str = "",
    search: str = "",
    owner: str = "",
    created_after: dt.datetime | None = None,
) -> QuerySet[WorkItem]:
    """Narrow an already-visible queryset by the filters lists and the API offer."""
    if state == "open":
        items = items.exclude(state__in=[State.ACCEPTED.value, State.CANCELLED.value])
    elif state:
        items = items.filter(state=state)
    if service:
        items = items.filter(service__slug=service)
    if client:
        items = items.filter(client__slug=client)
    if owner == "none":
        items = items.filter(owner__isnull=True)
    elif owner:
        items = items.filter(owner__email=owner)
    if created_after is not None:
        items = items.filter(created_at__gte=created_after)
    if search:
        reference = search.upper().removeprefix("RD-")
        text = Q(title__icontains=search) | Q(external_ref__icontains=search)
        if reference.isdigit():
            text |= Q(pk=int(reference))
        items = items.filter(text)
    return items
