"""Every write of objectives: proposing, agreeing and retiring them.

Each ``do_*`` function checks who may act, changes state in one transaction and writes
the audit record there.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.insights.models import Metric, Objective
from relaydesk.insights.objectives import DEFINITIONS

__all__ = ["do_agree_objective", "do_propose_objective", "do_retire_objective"]

MAX_NOTE = 2_000


def _check_may_set(actor: User) -> None:
    if not can(actor.role_enum, Permission.SET_OBJECTIVES):
        raise NotAllowed("Your role does not set objectives.")


def _visible_engagement(actor: User, engagement: Engagement | int) -> Engagement:
    pk = engagement.pk if isinstance(engagement, Engagement) else engagement
    found = visible_engagements(actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No engagement {pk}.")
    return found


def clean_target(metric: Metric | str, target: object) -> Decimal:
    """``target`` as the number the metric takes; :class:`Invalid` says what is wrong."""
    try:
        definition = DEFINITIONS[Metric(metric)]
    except ValueError:
        raise Invalid(f"Choose one of: {', '.join(m.label for m in Metric)}.") from None
    try:
        value = Decimal(str(target).strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid(f"Write the target as a number, e.g. {definition.example}.") from None
    if not value.is_finite() or value < 0:
        raise Invalid("A target is a number of zero or more.")
    if definition.unit in ("%", "score") and value > 100:
        raise Invalid(
            f"A {'percentage' if definition.unit == '%' else 'score'} target is at most 100."
        )
    if definition.whole and value != value.to_integral_value():
        raise Invalid(f"{definition.label} counts whole items; write a whole number.")
    if definition.unit == "h" and value == 0:
        raise Invalid("A turnaround target is more than zero hours.")
    if value >= Decimal("1e10"):
        raise Invalid("That target is too large.")
    return value.quantize(Decimal("0.01"))


def _lock(actor: User, objective: Objective | int) -> Objective:
    pk = objective.pk if isinstance(objective, Objective) else objective
    visible = Objective.objects.filter(engagement__in=visible_engagements(actor).values("pk"))
    found = visible.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No objective {pk}.")
    return Objective.objects.select_for_update().get(pk=found.pk)


def _side(user: User) -> str:
    return "client" if user.is_client_user else "provider"


def do_propose_objective(
    actor: User,
    engagement: Engagement | int,
    *,
    metric: Metric | str,
    target: object,
    note: str = "",
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Objective:
    """Propose a target for one figure of ``engagement``; the other side agrees it.

    A new target for a figure that already has one replaces it: the old objective is
    retired (kept for the record) and the new one waits for agreement.
    """
    _check_may_set(actor)
    at = at or timezone.now()
    found = _visible_engagement(actor, engagement)
    value = clean_target(metric, target)
    metric = Metric(metric)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"The note is limited to {MAX_NOTE:,} characters.")
    with transaction.atomic():
        live = (
            Objective.objects.select_for_update()
            .filter(engagement=found, metric=metric.value, retired_at__isnull=True)
            .first()
        )
        if live is not None:
            if live.target == value and live.note == note:
                raise Conflict(f"{metric.label} already has this target.")
            live.retired_at, live.retired_by = at, actor
            live.save(update_fields=["retired_at", "retired_by"])
        objective = Objective.objects.create(
            client_id=found.client_id,
            engagement=found,
            metric=metric.value,
            target=value,
            note=note,
            proposed_by=actor,
            proposed_at=at,
        )
        record(
            actor=actor,
            action="objective.proposed",
            obj=objective,
            client=found.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": found.name,
                "metric": metric.value,
                "target": str(value),
                "replaces": live.pk if live is not None else None,
            },
        )
    return objective


def do_agree_objective(
    actor: User,
    objective: Objective | int,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Objective:
    """The other side agrees a proposed objective: a client's admin agrees what the provider
    proposed, the provider what the client proposed."""
    _check_may_set(actor)
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, objective)
        if locked.retired_at is not None:
            raise Conflict("This objective was retired; propose a new one.")
        if locked.agreed_at is not None:
            raise Conflict("This objective is agreed already.")
        if _side(locked.proposed_by) == _side(actor):
            raise Conflict(
                "The other side agrees an objective: "
                + ("the provider" if actor.is_client_user else "the client's admin")
                + " has to agree this one."
            )
        locked.agreed_by, locked.agreed_at = actor, at
        locked.save(update_fields=["agreed_by", "agreed_at"])
        record(
            actor=actor,
            action="objective.agreed",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"metric": locked.metric, "target": str(locked.target)},
        )
    return locked


def do_retire_objective(
    actor: User,
    objective: Objective | int,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Objective:
    """Retire an objective: it leaves the dashboard and stays on record."""
    _check_may_set(actor)
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, objective)
        if locked.retired_at is not None:
            raise Conflict("This objective is retired already.")
        locked.retired_by, locked.retired_at = actor, at
        locked.save(update_fields=["retired_by", "retired_at"])
        record(
            actor=actor,
            action="objective.retired",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"metric": locked.metric, "target": str(locked.target)},
        )
    return locked
