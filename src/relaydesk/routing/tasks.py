"""Background routing: handoffs at shift end, the escalation ladders, push assignment and
the SLA watch.

``route_and_escalate`` first settles handoffs — offers nobody acknowledged in
time go back to the front of the queue, and the items of agents whose shift
ended without a handoff are handed off for them — then records the ladder
steps queued items have reached, then assigns queued items to available agents
on shift, and last watches the SLA clocks of open items (warnings and escalation
steps, ``relaydesk.sla.actions.do_watch_clocks``); the first run of a UTC day also
queues that day's retention purge (``relaydesk.retention.actions.do_schedule_daily_purge``).
``relaydesk worker`` runs it
whenever it is enqueued; ``relaydesk route --every SECONDS`` runs the same work in a
loop (see docs/operations.md, "The worker").
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.insights.daily import do_count_settled_days
from relaydesk.insights.report_actions import do_run_due_reports
from relaydesk.notifications.actions import do_send_digests
from relaydesk.retention.actions import do_schedule_daily_purge
from relaydesk.routing.actions import (
    do_escalate,
    do_hand_off_after_shift_end,
    do_push_assign,
    do_return_stale_handoffs,
)
from relaydesk.sla.actions import do_watch_clocks
from relaydesk.webhooks.actions import do_send_due_deliveries


@task
def route_and_escalate() -> dict[str, int]:
    """Settle handoffs, climb the escalation ladders, then push queued work to ready agents;
    the run's counts."""
    stale = do_return_stale_handoffs()
    ended = do_hand_off_after_shift_end()
    escalation = do_escalate()
    push = do_push_assign()
    watch = do_watch_clocks()
    return {
        "handoffs_returned": stale.returned,
        "handoffs_taken_up": stale.taken_up,
        "handed_off_at_shift_end": ended.handed_off,
        "escalated_items": escalation.items,
        "escalation_steps": escalation.steps,
        "lead_alerts": escalation.alerts,
        "ready_agents": push.ready_agents,
        "considered": push.considered,
        "assigned": len(push.assigned),
        "missed": push.missed,
        "sla_replayed": watch.replayed,
        "sla_warnings": watch.warnings,
        "sla_escalations": watch.escalations,
        "notification_digests": do_send_digests().digests,
        "webhooks_sent": do_send_due_deliveries(),
        "reports_sent": do_run_due_reports().sent,
        "dashboard_days_counted": do_count_settled_days(),
        "retention_purge_queued": int(do_schedule_daily_purge()),
    }
