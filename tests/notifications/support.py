"""Helpers for notification tests: items driven through the real lifecycle, with the
follow-ups that run after each commit run as they would in production."""

from __future__ import annotations

import datetime as dt
from typing import Any

from relaydesk.accounts.actions import do_create_user
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.core.roles import Role
from relaydesk.notifications.models import Notification
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Agent, ShiftPattern, Site
from tests.conftest import PASSWORD, World, make_agent, submit

MIDNIGHT = dt.time(0)


def review_policy(service: str, policy: str, role: str = "") -> None:
    """Set how a service's finished work is reviewed: none, sampled or mandatory."""
    Service.objects.filter(slug=service).update(review_policy=policy, review_role=role)


def in_progress(world: World, *, title: str = "Key 40 claim forms", **fields: Any) -> WorkItem:
    """An item of client A submitted by its member, held and started by the agent."""
    item = submit(world.member_a, world.engagement_a, title=title, **fields)
    do_assign(world.lead, item, world.agent.agent)
    return do_transition(world.agent, item, Action.START)


def told(user: Any, kind: str | None = None) -> list[Notification]:
    """The notifications written for ``user`` (of ``kind``), oldest first."""
    rows = Notification.objects.filter(recipient=user).order_by("created_at", "pk")
    return list(rows.filter(kind=kind) if kind else rows)


def next_shift_agent(world: World) -> Agent:
    """An agent at a second Philippine site that never closes: the next shift for everyone."""
    cebu = Site.objects.create(code="ceb", name="Cebu", country="PH", time_zone="Asia/Manila")
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=cebu, name="all day", weekday=day, starts_at=MIDNIGHT, ends_at=MIDNIGHT)
        for day in range(7)
    )
    user = do_create_user(
        None,
        email="relay@provider.test",
        full_name="Rosa Relay",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="Asia/Manila",
    )
    skills = {s.skill.slug: s.proficiency for s in world.agent.agent.skills.select_related("skill")}
    return make_agent(user, cebu, code="C-001", skills=skills, languages=["en"])


def notification_rows(world: World, items: Any) -> None:
    """Each item's submitter told of it, so every client has notifications behind the wall."""
    from relaydesk.notifications.actions import Note, do_notify
    from relaydesk.notifications.kinds import Kind

    for item in items:
        do_notify(
            Kind.ITEM_DELIVERED, item, [Note(item.submitted_by, f"{item.reference} delivered")]
        )
