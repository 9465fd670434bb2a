"""``relaydesk import-work FILE --client SLUG``: bulk intake of work items from a CSV file.

Every row is checked first, and each bad row is printed as ``line N: reason``.
With any bad row nothing is imported (the command fails), unless
``--skip-invalid`` asks to import the good rows and list the others.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client
from relaydesk.core.roles import Role
from relaydesk.errors import ActionRefused
from relaydesk.work.actions import do_import_work
from relaydesk.work.importing import (
    COLUMNS,
    PROGRESS_EVERY,
    ImportPlan,
    parse_work_csv,
)

_MAX_BYTES = 50 * 1024 * 1024
_PROVIDER_SUBMITTERS = (Role.OPS_LEAD.value, Role.PROVIDER_ADMIN.value)


class Command(BaseCommand):
    help = (
        "Import work items for a client from a CSV file (UTF-8, header row). Columns: "
        + ", ".join(column.name for column in COLUMNS)
        + ". Every row is checked first; with any bad row nothing is imported "
        "unless --skip-invalid is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="The CSV file to import ('-' reads standard input).")
        parser.add_argument("--client", required=True, help="The client's slug.")
        parser.add_argument(
            "--as",
            dest="as_email",
            metavar="EMAIL",
            help=(
                "Who submits the items: an active user of the client, an operations lead "
                "or a provider admin. Default: the client's first active client admin."
            ),
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the good rows and list the bad ones, instead of importing nothing.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only check the file and report; import nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(slug=options["client"]).first()
        if client is None:
            raise CommandError(f"There is no client with the slug '{options['client']}'.")
        actor = self._submitter(client, options["as_email"])
        data = self._read(options["file"])
        verbose = options["verbosity"] >= 1

        def validated(done: int, total: int) -> None:
            if verbose and total > PROGRESS_EVERY:
                self.stderr.write(f"validated {done:,}/{total:,} rows")

        def imported(done: int, total: int) -> None:
            if verbose and total > PROGRESS_EVERY:
                self.stderr.write(f"imported {done:,}/{total:,} rows")

        try:
            plan = parse_work_csv(data, actor=actor, client=client, progress=validated)
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from refusal
        self._report(plan)

        if plan.file_problems:
            raise CommandError("The file cannot be imported; nothing was imported.")
        bad = len(plan.bad_lines)
        if options["dry_run"]:
            self.stdout.write(
                f"Checked {plan.row_count:,} rows for {client}: {len(plan.rows):,} good, "
                f"{bad:,} with problems. Nothing was imported (--dry-run)."
            )
            if bad:
                raise CommandError(f"{_rows(bad)} {_have(bad)} problems.")
            return
        if bad and not options["skip_invalid"]:
            raise CommandError(
                f"{_rows(bad)} of {plan.row_count:,} {_have(bad)} problems; nothing was "
                "imported. Fix them, or add --skip-invalid to import only the good rows."
            )
        try:
            result = do_import_work(
                actor, plan, skip_invalid=options["skip_invalid"], progress=imported
            )
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from refusal

        count = len(result.created)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {count:,} item{'' if count == 1 else 's'} for {client}: "
                f"{result.references()}"
            )
        )
        if result.skipped_lines:
            lines = ", ".join(str(line) for line in result.skipped_lines)
            self.stdout.write(
                self.style.WARNING(
                    f"Skipped {_rows(len(result.skipped_lines))} with problems: line {lines}."
                )
            )

    def _submitter(self, client: Client, email: str | None) -> User:
        """The user the items are submitted as: the one named, else the client's admin."""
        if email:
            user = User.objects.filter(email=email.strip().lower(), is_active=True).first()
            if user is None:
                raise CommandError(f"There is no active user with the e-mail address {email}.")
            if user.client_id != client.pk and user.role not in _PROVIDER_SUBMITTERS:
                raise CommandError(
                    f"{user.email} cannot submit work for {client}: use one of its own users, "
                    "an operations lead or a provider admin."
                )
            return user
        admin = (
            User.objects.filter(client=client, role=Role.CLIENT_ADMIN.value, is_active=True)
            .order_by("date_joined", "pk")
            .first()
        )
        if admin is None:
            raise CommandError(
                f"{client} has no active client admin; name who submits the items with --as EMAIL."
            )
        return admin

    def _read(self, name: str) -> bytes:
        too_big = f"{name} is larger than {_MAX_BYTES // (1024 * 1024)} MB."
        if name == "-":
            data = sys.stdin.buffer.read(_MAX_BYTES + 1)
            if len(data) > _MAX_BYTES:
                raise CommandError(too_big)
            return data
        path = Path(name)
        try:
            if path.stat().st_size > _MAX_BYTES:
                raise CommandError(too_big)
            return path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {name}: {error.strerror or error}.") from error

    def _report(self, plan: ImportPlan) -> None:
        for problem in plan.all_problems:
            self.stderr.write(str(problem))


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _have(count: int) -> str:
    return "has" if count == 1 else "have"
