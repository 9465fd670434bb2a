"""``relaydesk send-reports``: build and e-mail the scheduled reports that are due, once.

Also tries again the report e-mails that failed lately. Runs for the provider (the
``relaydesk`` command sets that scope), as the system; safe to run as often as one likes:
no schedule sends a period twice. The worker's sweep does the same on each run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relaydesk.insights.report_actions import do_run_due_reports


class Command(BaseCommand):
    help = "Build and e-mail the scheduled engagement reports that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help="Act as if it were this instant (ISO 8601 with a zone), e.g. to catch up.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = None
        if options.get("at"):
            try:
                at = dt.datetime.fromisoformat(options["at"])
            except ValueError:
                raise CommandError(
                    "--at takes an ISO 8601 instant, e.g. 2026-12-01T06:00Z."
                ) from None
            if at.tzinfo is None:
                raise CommandError("--at needs a time zone, e.g. 2026-12-01T06:00Z.")
        run = do_run_due_reports(at=at)
        self.stdout.write(f"reports: {run.built} built, {run.sent} e-mailed, {run.failed} failing")
