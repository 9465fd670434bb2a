"""Background routing: push assignment and the escalation ladders.

``route_and_escalate`` records the ladder steps queued items have reached, then
assigns queued items to available agents on shift. ``relaydesk worker`` runs it
whenever it is enqueued; ``relaydesk route --every SECONDS`` runs the same work
in a loop (see docs/operations.md, "The worker").
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.routing.actions import do_escalate, do_push_assign


@task
def route_and_escalate() -> dict[str, int]:
    """Climb the escalation ladders, then push queued work to ready agents; the run's counts."""
    escalation = do_escalate()
    push = do_push_assign()
    return {
        "escalated_items": escalation.items,
        "escalation_steps": escalation.steps,
        "lead_alerts": escalation.alerts,
        "ready_agents": push.ready_agents,
        "considered": push.considered,
        "assigned": len(push.assigned),
        "missed": push.missed,
    }
