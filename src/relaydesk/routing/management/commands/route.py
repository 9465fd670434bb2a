"""``relaydesk route [--every SECONDS]``: settle handoffs, climb the ladders, push queued work.

Once by default; with ``--every`` it repeats until stopped (Ctrl-C or SIGTERM),
printing one line per run. Runs for the provider (the ``relaydesk`` command sets
that scope), as the system.
"""

from __future__ import annotations

import signal
import threading
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from relaydesk.core.routing import Strategy
from relaydesk.errors import ActionRefused
from relaydesk.insights.daily import do_count_settled_days
from relaydesk.insights.report_actions import do_run_due_reports
from relaydesk.notifications.actions import do_send_digests
from relaydesk.retention.actions import do_schedule_daily_purge
from relaydesk.routing.actions import (
    PUSH_LIMIT,
    PUSH_METHODS,
    do_escalate,
    do_hand_off_after_shift_end,
    do_push_assign,
    do_return_stale_handoffs,
)
from relaydesk.sla.actions import do_watch_clocks
from relaydesk.webhooks.actions import do_send_due_deliveries


class Command(BaseCommand):
    help = "Record escalation steps and assign queued work to available agents on shift."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--every",
            type=float,
            metavar="SECONDS",
            help="Repeat every SECONDS until stopped (default: run once).",
        )
        parser.add_argument(
            "--method",
            choices=PUSH_METHODS,
            default="router",
            help="router: each item to the strategy's agent (default); "
            "wave: the whole batch at least total lateness.",
        )
        parser.add_argument(
            "--strategy",
            choices=[s.value for s in Strategy],
            default=Strategy.LONGEST_IDLE.value,
            help="How router picks among eligible agents (default longest-idle).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=PUSH_LIMIT,
            help=f"Queued items considered per run, best first (default {PUSH_LIMIT:,}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["every"]
        if every is not None and every <= 0:
            raise CommandError("--every needs a positive number of seconds.")
        if options["limit"] < 1:
            raise CommandError("--limit needs a positive number of items.")
        stop = threading.Event()
        if every is not None:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        runs = 0
        while True:
            started = time.monotonic()
            self._run_once(options)
            runs += 1
            if every is None or stop.wait(max(0.0, every - (time.monotonic() - started))):
                break
            close_old_connections()
        if every is not None:
            self.stdout.write(f"stopped after {runs} run(s)")

    def _run_once(self, options: dict[str, Any]) -> None:
        try:
            stale = do_return_stale_handoffs()
            ended = do_hand_off_after_shift_end()
            escalation = do_escalate()
            push = do_push_assign(
                method=options["method"],
                strategy=Strategy(options["strategy"]),
                limit=options["limit"],
            )
            watch = do_watch_clocks()
            # What the worker's task also does each run: digests, webhook retries, reports,
            # and the dashboards' daily roll-up of the day that has just settled.
            digests = do_send_digests().digests
            webhooks = do_send_due_deliveries()
            reports = do_run_due_reports().sent
            counted = do_count_settled_days()
            # Once a UTC day: the retention purge, for the worker to run.
            purge_queued = do_schedule_daily_purge()
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(
            f"{timezone.now():%Y-%m-%d %H:%M:%S}Z "
            f"handoffs: {stale.returned} returned to the queue, "
            f"{ended.handed_off} handed off at shift end; "
            f"escalation: {escalation.steps} step(s) on {escalation.items} item(s), "
            f"{escalation.alerts} lead alert(s); "
            f"push ({push.method}): {len(push.assigned)} assigned of {push.considered} "
            f"queued item(s) considered, {push.ready_agents} agent(s) ready"
            + (f", {push.missed} no longer possible" if push.missed else "")
            + f"; SLA: {watch.replayed} open item(s) replayed, {watch.warnings} warning(s), "
            f"{watch.escalations} escalation step(s); {digests} digest(s), "
            f"{webhooks} webhook delivery(ies), {reports} report(s) sent; "
            f"{counted} settled day(s) counted for the dashboards"
            + ("; retention purge queued" if purge_queued else "")
        )
