"""``relaydesk export-client SLUG --out FILE.zip``: all of a client's data, for portability.

The ZIP holds the client's records, its files and report PDFs decrypted, so the file is
created readable by its owner only (0600) and never overwrites one that exists.
"""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from relaydesk.clients.models import Client
from relaydesk.errors import ActionRefused
from relaydesk.retention.actions import do_export_client


class Command(BaseCommand):
    help = "Export a client's data (records and decrypted files) into a ZIP file."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug", help="The client's slug, e.g. alpha-law.")
        parser.add_argument("--out", required=True, metavar="FILE.zip", help="The file to create.")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(slug=options["slug"]).first()
        if client is None:
            raise CommandError(f"No client with the slug {options['slug']!r}.")
        path = Path(options["out"])
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as problem:
            raise CommandError(f"{path} exists; choose another file name.") from problem
        except OSError as problem:
            raise CommandError(f"Cannot create {path}: {problem.strerror}.") from problem
        try:
            with os.fdopen(fd, "wb") as out:
                result = do_export_client(None, client, destination=out)
        except (ActionRefused, OSError) as problem:
            path.unlink(missing_ok=True)
            message = problem.message if isinstance(problem, ActionRefused) else str(problem)
            raise CommandError(f"Export failed, nothing kept: {message}") from problem
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        c = result.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {path} ({filesizeformat(result.size)}): {c.items} item(s), "
                f"{c.files} file(s), {c.details} confidential detail(s), {c.users} user(s), "
                f"{c.engagements} engagement(s), {c.reports} report(s), "
                f"{c.webhook_endpoints} webhook endpoint(s) with {c.webhook_deliveries} "
                "delivery record(s)."
            )
        )
        if c.unreadable:
            self.stderr.write(
                f"{len(c.unreadable)} file(s) could not be decrypted and are listed without "
                "content: " + ", ".join(str(pk) for pk in c.unreadable)
            )
        if c.unreadable_reports:
            self.stderr.write(
                f"{len(c.unreadable_reports)} report PDF(s) could not be decrypted and are "
                "listed without it: " + ", ".join(str(pk) for pk in c.unreadable_reports)
            )
