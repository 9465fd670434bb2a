"""``relaydesk ingest-mail --maildir PATH`` or ``--imap imaps://USER@HOST/INBOX``.

Files every unread message as a work item, a reply on an item, or in the
quarantine (``relaydesk.mailintake.actions.do_ingest_message``), and marks it
read only once it is committed. Run it from cron or a systemd timer; a second
run over the same mailbox files nothing twice.
"""

from __future__ import annotations

import os
from argparse import ArgumentParser
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from relaydesk.errors import ActionRefused
from relaydesk.mailintake.actions import DUPLICATE, do_ingest_message
from relaydesk.mailintake.models import Result
from relaydesk.mailintake.sources import (
    ENV_IMAP_PASSWORD,
    Incoming,
    SourceError,
    imap_messages,
    maildir_messages,
    parse_imap_url,
)

PROGRESS_EVERY = 100


class Command(BaseCommand):
    help = (
        "Take in unread e-mail from a Maildir or an IMAP mailbox: each message becomes a "
        "work item, a reply on an item, or is quarantined with the reason. The IMAP password "
        f"comes from {ENV_IMAP_PASSWORD}."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--maildir", metavar="PATH", help="A Maildir folder on this machine.")
        where.add_argument(
            "--imap",
            metavar="URL",
            help="imaps://USER@HOST[:PORT]/MAILBOX (the user's @ written as %%40 if it has one).",
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=PROGRESS_EVERY,
            metavar="N",
            help=f"Print a count line every N messages (default {PROGRESS_EVERY}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = max(1, options["progress_every"])
        counts: Counter[str] = Counter()
        source = options["maildir"] or options["imap"]
        try:
            for done, message in enumerate(self._messages(options), start=1):
                try:
                    outcome = do_ingest_message(message.raw, source=message.label)
                except ActionRefused as refusal:
                    # Nothing could be stored (e.g. the encryption key is missing): stop, and
                    # leave this message and the rest unread for the next run.
                    raise CommandError(
                        f"Stopped at message {done}: {refusal.message} It stays unread."
                    ) from refusal
                message.done()
                counts[outcome.result] += 1
                if options["verbosity"] >= 1 and done % every == 0:
                    self.stderr.write(f"{done:,} messages: {_summary(counts)}")
        except SourceError as problem:
            so_far = f" So far: {_summary(counts)}." if counts else ""
            raise CommandError(f"{problem}{so_far}") from None
        total = sum(counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Took in {total:,} message{'' if total == 1 else 's'} from {source}: "
                f"{_summary(counts)}."
            )
        )

    def _messages(self, options: dict[str, Any]) -> Iterator[Incoming]:
        if options["maildir"]:
            return maildir_messages(options["maildir"])
        where = parse_imap_url(options["imap"])
        password = os.environ.get(ENV_IMAP_PASSWORD, "")
        if not password:
            raise CommandError(f"Set {ENV_IMAP_PASSWORD} to the password of {where.user}.")
        return imap_messages(where, password)


def _summary(counts: Counter[str]) -> str:
    return (
        f"{counts[Result.CREATED]:,} new items, {counts[Result.COMMENTED]:,} replies threaded, "
        f"{counts[Result.QUARANTINED]:,} quarantined, {counts[DUPLICATE]:,} already taken in"
    )
