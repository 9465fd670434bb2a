"""``relaydesk audit verify`` and ``relaydesk audit export --client SLUG [--since DATE]``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from relaydesk.audit import guard
from relaydesk.audit.actions import do_record_audit_export
from relaydesk.audit.chain import HASHED_FIELDS, verify_chain
from relaydesk.audit.export import csv_lines
from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Client


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain (verify), or export a client's trail as CSV (export)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser(
            "verify",
            help="Walk the chain in order; name the first broken record. Exit status 1 on a break.",
        )
        verify.add_argument(
            "--progress-every", type=int, default=50_000, help="Report progress every N records."
        )
        export = sub.add_parser("export", help="Write a client's audit records as CSV to stdout.")
        export.add_argument("--client", required=True, help="The client's slug.")
        export.add_argument(
            "--since", type=dt.date.fromisoformat, help="Only records from this day (UTC) on."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self._verify(options["progress_every"])
        else:
            self._export(options["client"], options["since"])

    def _verify(self, every: int) -> None:
        total = AuditRecord.objects.count()
        show = total > every

        def progress(done: int) -> None:
            if show:
                self.stderr.write(f"checked {done:,} of {total:,} records ({done * 100 // total}%)")

        rows = (
            AuditRecord.objects.order_by("seq")
            .values("id", "hash", *HASHED_FIELDS)
            .iterator(chunk_size=5000)
        )
        try:
            report = verify_chain(rows, progress=progress, every=every)
        finally:
            rows.close()  # a break stops the walk early: close the database cursor now
        if report.broken is not None:
            b = report.broken
            at = b.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            raise CommandError(
                f"BROKEN at record #{b.seq} (id {b.id}, {at}, {b.action}): {b.reason}. "
                f"{report.count:,} records before it are intact (up to #{report.last_seq}).",
                returncode=1,
            )
        if not guard.installed(connection):
            raise CommandError(
                f"Chain intact ({report.count:,} records), but the append-only triggers on "
                f"{guard.TABLE} are missing: run `relaydesk migrate audit` to restore them.",
                returncode=2,
            )
        self.stdout.write(
            f"OK: {report.count:,} records, chain intact up to #{report.last_seq}"
            f" (head hash {report.last_hash})"
        )

    def _export(self, slug: str, since: dt.date | None) -> None:
        client = Client.objects.filter(slug=slug).first()
        if client is None:
            raise CommandError(f"No client with the slug '{slug}'.")
        records = AuditRecord.objects.filter(client=client)
        if since is not None:
            records = records.filter(at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC))
        export = do_record_audit_export(
            None,
            client=client,
            rows=records.count(),
            filters={"since": since.isoformat() if since else "", "via": "command"},
        )
        for line in csv_lines(records.filter(seq__lt=export.seq)):
            self.stdout.write(line, ending="")
