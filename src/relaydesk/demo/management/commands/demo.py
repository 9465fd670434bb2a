"""``relaydesk demo``: load a believable provider with 30 days of history."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from relaydesk.demo.builder import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    DemoAlreadyLoaded,
    build_demo,
    is_demo_loaded,
)


def _moment(text: str) -> dt.datetime:
    """Parse ``--now``; a time without a zone is taken as UTC."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO date and time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def logins_table() -> str:
    """The demo logins as a plain-text table: role, name, e-mail, password."""
    header = ("Role", "Name", "E-mail", "Password")
    rows = [(role, name, email, DEMO_PASSWORD) for role, name, email in DEMO_LOGINS]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for n, row in enumerate([header, *rows]):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("")
    lines.append(
        f"Provider staff also give a one-time code: add the key {DEMO_TOTP_SECRET} to an "
        "authenticator app, or run `relaydesk demo-code` for the current one."
    )
    return "\n".join(line.rstrip() for line in lines)


class Command(BaseCommand):
    """Load the demo into a fresh database and print the logins."""

    help = (
        "Load the demo provider (sites, shifts, agents, four clients) with --days of "
        "history into a fresh database, then print the demo logins."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed; the same seed gives the same demo."
        )
        parser.add_argument(
            "--days", type=int, default=30, help="Days of history to create (default 30)."
        )
        parser.add_argument(
            "--now",
            type=_moment,
            default=None,
            help="End the history at this ISO time (e.g. 2026-11-18T16:30Z) instead of now.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="If the demo is already loaded, just print the logins and succeed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        if is_demo_loaded():
            if options["if_empty"]:
                self.stdout.write("Demo already loaded.")
                self.stdout.write(logins_table())
                return
            raise CommandError(
                "The demo is already loaded in this database. Load it into a fresh database "
                "(for example: RELAYDESK_VAR_DIR=/tmp/relaydesk-demo relaydesk migrate && "
                "RELAYDESK_VAR_DIR=/tmp/relaydesk-demo relaydesk demo), or pass --if-empty."
            )
        started = time.monotonic()
        try:
            summary = build_demo(
                seed=options["seed"],
                days=options["days"],
                now=options["now"],
                progress=self.stdout.write,
            )
        except DemoAlreadyLoaded as refusal:
            raise CommandError(f"{refusal} Use a fresh database for the demo.") from refusal
        self.stdout.write("")
        self.stdout.write(
            f"Loaded {summary.items} work items for {summary.clients} clients, "
            f"{summary.agents} agents at 4 sites."
        )
        self.stdout.write("")
        self.stdout.write(logins_table())
        self.stdout.write("")
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s.")
