"""``relaydesk rebuild-measures``: replay every item's row of the dashboards' roll-up.

For repair (a row a failed replay left behind, or data changed outside the product);
the rows follow every change of an item by themselves. Prints its progress after each
batch of items.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from relaydesk.insights.measures import do_rebuild_measures


class Command(BaseCommand):
    help = (
        "Replay every work item's measures (handled time, completion, its hours in progress) "
        "from its timeline."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity: int = options["verbosity"]

        def progress(done: int, total: int) -> None:
            if verbosity >= 1:
                self.stdout.write(f"  {done:,} of {total:,} items")

        done = do_rebuild_measures(progress=progress)
        self.stdout.write(f"Rebuilt the measures of {done:,} item{'s' if done != 1 else ''}.")
