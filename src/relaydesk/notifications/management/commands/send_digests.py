"""``relaydesk send-digests``: send the daily notification digests that are due, once.

Also tries again the notification e-mails that failed lately. Runs for the
provider (the ``relaydesk`` command sets that scope), as the system; safe to run
as often as one likes: nobody gets two digests on one day.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from relaydesk.notifications.actions import do_send_digests


class Command(BaseCommand):
    help = "Send the daily notification digests that are due, and retry failed e-mails."

    def handle(self, *args: Any, **options: Any) -> None:
        run = do_send_digests()
        self.stdout.write(
            f"digests: {run.digests} sent with {run.notifications} notification(s); "
            f"e-mails retried: {run.retried} sent, {run.failed} still failing"
        )
