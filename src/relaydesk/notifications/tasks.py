"""Background work of notifications: the daily digests and the retries of failed e-mails.

``send_digests`` runs :func:`~relaydesk.notifications.actions.do_send_digests`
as the system. ``route_and_escalate`` (``relaydesk.routing.tasks``) runs the
same sweep on each of its runs, and ``relaydesk send-digests`` runs it once from
the command line (cron, a systemd timer): however often it runs, each person
gets at most one digest a day.
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.notifications.actions import do_send_digests


@task
def send_digests() -> dict[str, int]:
    """Send the digests that are due and retry failed e-mails; the run's counts."""
    run = do_send_digests()
    return {
        "digests": run.digests,
        "notifications": run.notifications,
        "retried": run.retried,
        "failed": run.failed,
    }
