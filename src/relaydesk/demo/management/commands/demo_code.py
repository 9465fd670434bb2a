"""``relaydesk demo-code``: the one-time code the demo's provider logins accept now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from relaydesk.demo.builder import current_demo_code


class Command(BaseCommand):
    help = "Print the current one-time code for the demo's provider logins (demo only)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(current_demo_code())
