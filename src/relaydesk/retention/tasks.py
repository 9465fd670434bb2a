"""Background work of the data lifecycle.

``purge_expired`` runs the retention purge as the system. ``relaydesk worker``
runs it whenever it is enqueued (``purge_expired.enqueue()``); nothing enqueues
it on a timetable yet, so schedule ``relaydesk purge`` daily (cron, a systemd
timer) instead — both do the same.
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.retention.actions import do_purge_expired


@task
def purge_expired() -> dict[str, int]:
    """Purge what retention made due (items, reports, webhook delivery logs); returns the
    run's counts."""
    run = do_purge_expired(None)
    return {
        "items": len(run.purged),
        "files": run.files,
        "bytes": run.file_bytes,
        "details": run.details,
        "comments": run.comments,
        "reports": len(run.reports),
        "deliveries": run.deliveries,
        "failed": len(run.failed),
    }
