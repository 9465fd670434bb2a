"""``relaydesk purge [--dry-run]``: delete what retention made due, now.

The worker purges once a day by itself (``relaydesk.retention.tasks.purge_expired_daily``,
queued by the routing sweep); this command runs the same purge at once, with the same
audit records, e.g. to check with ``--dry-run`` after a retention was set or shortened.

Lists each item, report and webhook delivery log with ``--dry-run`` (and at ``-v 2``);
otherwise prints progress every ``PROGRESS_EVERY`` items and a summary. Exits 1 when
anything failed (it is left untouched and tried again next run).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from relaydesk.retention.actions import (
    PurgedDeliveries,
    PurgedItem,
    PurgedReport,
    do_purge_expired,
)

PROGRESS_EVERY = 100


def describe(line: PurgedItem) -> str:
    """One item as the command prints it."""
    parts = [f"{line.files} file(s) ({filesizeformat(line.file_bytes)})"]
    parts.append(f"{line.details} confidential detail(s)")
    parts.append(f"{line.comments} comment(s)")
    if line.description:
        parts.append("description")
    return (
        f"{line.reference} {line.client} · {line.engagement}: {', '.join(parts)}; "
        f"closed {line.closed_at:%Y-%m-%d}, {line.retention_days}-day retention"
    )


def describe_report(line: PurgedReport) -> str:
    """One report as the command prints it."""
    what = f"PDF ({filesizeformat(line.pdf_bytes)})" + (
        " and commentary" if line.commentary else ""
    )
    return (
        f"report {line.report_id} {line.client} · {line.engagement} "
        f"{line.period_start:%Y-%m-%d}–{line.period_end:%Y-%m-%d}: {what}; "
        f"made {line.created_at:%Y-%m-%d}, {line.retention_days}-day retention"
    )


def describe_log(line: PurgedDeliveries) -> str:
    """One webhook endpoint's log as the command prints it."""
    return (
        f"webhook endpoint {line.endpoint_id} {line.client} · {line.engagement}: "
        f"{line.deliveries} delivery record(s) older than {line.retention_days} days"
    )


class Command(BaseCommand):
    help = (
        "Delete files, confidential details, descriptions and comment bodies of closed items, "
        "report PDFs and old webhook deliveries past their engagement's retention "
        "(--dry-run lists them)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        verbosity: int = options["verbosity"]

        def progress(done: int, total: int, line: PurgedItem | None) -> None:
            if line is not None and (dry_run or verbosity >= 2):
                self.stdout.write(f"  [{done}/{total}] {describe(line)}")
            elif verbosity >= 1 and (done % PROGRESS_EVERY == 0 or done == total):
                self.stdout.write(f"  [{done}/{total}] items checked")

        run = do_purge_expired(None, dry_run=dry_run, progress=progress)
        verb = "Would delete" if dry_run else "Deleted"
        if verbosity >= 1 or dry_run:
            self.stdout.write(
                f"{verb} {run.files} file(s) ({filesizeformat(run.file_bytes)}), "
                f"{run.details} confidential detail(s) and {run.comments} comment(s) "
                f"of {len(run.purged)} item(s)."
            )
        if dry_run or verbosity >= 2:
            for report in run.reports:
                self.stdout.write(f"  {describe_report(report)}")
            for log in run.delivery_logs:
                self.stdout.write(f"  {describe_log(log)}")
        if verbosity >= 1 or dry_run:
            self.stdout.write(
                f"{verb} the PDF of {len(run.reports)} report(s) "
                f"({filesizeformat(run.report_bytes)}) and {run.deliveries} webhook "
                "delivery record(s)."
            )
        for reference, reason in run.failed:
            self.stderr.write(f"  {reference}: not purged ({reason}); it is tried again next run.")
        if run.failed:
            raise CommandError(
                f"{len(run.failed)} item(s), report(s) or log(s) could not be purged."
            )
