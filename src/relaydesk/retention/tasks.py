"""Background work of the data lifecycle.

``purge_expired_daily`` is the worker's daily retention purge: every sweep of the
worker's loop (``relaydesk route``, :func:`relaydesk.routing.tasks.route_and_escalate`)
calls :func:`~relaydesk.retention.actions.do_schedule_daily_purge`, whose first call of
a UTC day queues it, and ``relaydesk worker`` runs it. ``purge_expired`` runs the same
purge at once, for an operator who enqueues it by hand; ``relaydesk purge`` does the
same from the command line.
"""

from __future__ import annotations

import datetime as dt

from django.tasks import task

from relaydesk.retention.actions import do_purge_expired, do_run_daily_purge, purge_counts


@task
def purge_expired() -> dict[str, int]:
    """Purge what retention made due (items, reports, webhook delivery logs); returns the
    run's counts."""
    return purge_counts(do_purge_expired(None))


@task
def purge_expired_daily(day: str) -> dict[str, int | str]:
    """Run the purge queued for ``day`` (YYYY-MM-DD, UTC): how it ended (done or failed) and
    its counts, or ``skipped`` when another task runs it or has run it."""
    purge = do_run_daily_purge(dt.date.fromisoformat(day))
    if purge is None:
        return {"state": "skipped"}
    return {"state": purge.state, **purge.counts}
