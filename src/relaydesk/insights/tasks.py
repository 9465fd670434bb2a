"""Background work of the insights: building and e-mailing scheduled reports.

The worker's periodic sweep (``relaydesk.routing.tasks.route_and_escalate``) calls
:func:`~relaydesk.insights.report_actions.do_run_due_reports` on each run; this task runs the
same on its own, for an operator who wants to enqueue it.
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.insights.report_actions import do_run_due_reports


@task
def send_due_reports() -> dict[str, int]:
    """Build and e-mail the scheduled reports that are due; the run's counts."""
    run = do_run_due_reports()
    return {"built": run.built, "sent": run.sent, "failed": run.failed}
