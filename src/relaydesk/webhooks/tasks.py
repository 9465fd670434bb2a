"""Background sending of webhook deliveries.

Each event's delivery is enqueued once its row commits; a failed one is enqueued
again for its next attempt (``run_after``, where the task backend supports it).
``relaydesk worker`` runs these tasks. ``route_and_escalate`` (``relaydesk
route``) also sends whatever is due, so a lost task only delays a delivery.
"""

from __future__ import annotations

from django.tasks import task

from relaydesk.webhooks.actions import do_send_delivery


@task
def send_webhook_delivery(delivery_id: int) -> str:
    """Send one delivery if it is due; its state afterwards (``not_due`` if nothing was done)."""
    return do_send_delivery(delivery_id)
