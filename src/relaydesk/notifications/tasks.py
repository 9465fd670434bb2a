"""Background work of notifications: the e-mails sent right away, the daily digests and the
retries of failed e-mails.

``send_notification_email`` is enqueued for each notification to be e-mailed
right away, once the notification commits; ``relaydesk worker`` runs it, so a
slow or refusing mail server never holds up the change that caused it.
``send_digests`` runs :func:`~relaydesk.notifications.actions.do_send_digests`
as the system. ``route_and_escalate`` (``relaydesk.routing.tasks``) runs the
same sweep on each of its runs, and ``relaydesk send-digests`` runs it once from
the command line (cron, a systemd timer): however often it runs, each person
gets at most one digest a day, and an e-mail whose task failed or was lost is
sent again, a few times at most.
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.notifications.actions import do_send_digests, do_send_notification_email


@task
def send_notification_email(notification_id: int) -> str:
    """E-mail one notification if it is still owed; what became of it (``sent``, ``failed``,
    ``skipped`` or ``not_due``)."""
    return do_send_notification_email(notification_id)


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
