"""``relaydesk keys status | rotate | new | encrypt-legacy``: the master key and the data keys.

``status`` prints key ids and versions, never key material: every client data key with what
it protects (stored files, purged files as tombstones, confidential values), the provider's
mail-quarantine data key with the held messages it protects, and how many stored files
are not encrypted yet. ``rotate`` re-wraps every data key under a new master key
(``--new-key-file PATH`` or ``RELAYDESK_NEW_MASTER_KEY``) in one transaction, without
re-encrypting files or values. ``new --out PATH`` writes a fresh random master key into a
file readable only by its owner, ready for ``rotate``. ``encrypt-legacy`` encrypts the
files stored before encryption existed, one at a time and resumably (``--dry-run`` lists
them, ``--limit N`` stops after N).
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from relaydesk.errors import ActionRefused
from relaydesk.vault.actions import LegacyFile, do_encrypt_legacy_files, do_rotate_keys
from relaydesk.vault.crypto import new_key
from relaydesk.vault.keys import (
    ENV_MASTER_KEY,
    KeyUnavailable,
    load_master_key,
    load_new_master_key,
    master_key_file,
    write_key_file,
)
from relaydesk.vault.models import ClientDataKey
from relaydesk.vault.queries import key_inventory

PROGRESS_EVERY = 25


class Command(BaseCommand):
    help = (
        "Manage the master key: keys status | keys rotate --new-key-file PATH | "
        "keys new --out PATH | keys encrypt-legacy [--dry-run] [--limit N]."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("status", help="Print the master key id and every client data key.")
        rotate = sub.add_parser(
            "rotate", help="Re-wrap every client's data key under a new master key."
        )
        rotate.add_argument(
            "--new-key-file",
            metavar="PATH",
            help="File holding the new key (32 bytes, base64); else RELAYDESK_NEW_MASTER_KEY.",
        )
        rotate.add_argument(
            "--no-install",
            action="store_true",
            help="Do not replace the current key file with the new key after re-wrapping.",
        )
        new = sub.add_parser("new", help="Write a new random master key into a file (0600).")
        new.add_argument("--out", required=True, metavar="PATH", help="The file to create.")
        legacy = sub.add_parser(
            "encrypt-legacy",
            help="Encrypt the files stored before encryption, each with its client's data key.",
        )
        legacy.add_argument(
            "--dry-run",
            action="store_true",
            help="List the files it would encrypt; change nothing.",
        )
        legacy.add_argument(
            "--limit", type=int, metavar="N", help="Encrypt at most N files (run again for more)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        match options["subcommand"]:
            case "status":
                self._status()
            case "rotate":
                self._rotate(options["new_key_file"], install=not options["no_install"])
            case "new":
                self._new(Path(options["out"]))
            case "encrypt-legacy":
                self._encrypt_legacy(
                    dry_run=options["dry_run"],
                    limit=options["limit"],
                    verbosity=options["verbosity"],
                )

    def _status(self) -> None:
        inventory = key_inventory()
        lines = inventory.data_keys
        try:
            if not lines and not inventory.quarantine_keys and not master_key_file().exists():
                raise KeyUnavailable(
                    f"none yet; one is generated into {master_key_file()} with the first file "
                    "or confidential detail"
                )
            master = load_master_key(create=False)
            self.stdout.write(f"Master key: {master.id} from {master.source}")
        except KeyUnavailable as problem:
            self.stdout.write(f"Master key: {problem}")
            master = None

        def stale(master_key_id: str) -> str:
            if master is not None and master_key_id != master.id:
                return "  (NOT the configured master key)"
            return ""

        self.stdout.write(f"Client data keys: {len(lines)}")
        for line in lines:
            rewrapped = f", re-wrapped {line.rewrapped}" if line.rewrapped else ""
            self.stdout.write(
                f"  {line.client:<24} v{line.version}  wrapped by {line.master_key_id}  "
                f"{line.files} file(s), {line.purged_files} purged, "
                f"{line.values} confidential value(s)  created {line.created}{rewrapped}"
                f"{stale(line.master_key_id)}"
            )
        if lines:
            self.stdout.write(
                f"Encrypted: {sum(line.files for line in lines)} stored file(s), "
                f"{sum(line.values for line in lines)} confidential value(s); "
                f"{sum(line.purged_files for line in lines)} file(s) purged under retention "
                "(tombstones, nothing stored)"
            )
        quarantine = inventory.quarantine_keys
        self.stdout.write(f"Mail-quarantine data keys (the provider's): {len(quarantine)}")
        for key in quarantine:
            rewrapped = f", re-wrapped {key.rewrapped}" if key.rewrapped else ", never re-wrapped"
            self.stdout.write(
                f"  {'quarantine':<24} v{key.version}  wrapped by {key.master_key_id}  "
                f"{key.held_messages} held message(s)  created {key.created}{rewrapped}"
                f"{stale(key.master_key_id)}"
            )
        self.stdout.write(
            f"Files stored before encryption (not encrypted): {inventory.unencrypted}"
        )
        for client, count in inventory.unencrypted_files.items():
            self.stdout.write(f"  {client:<24} {count} file(s)")
        if inventory.unencrypted:
            self.stdout.write("  Encrypt them with: relaydesk keys encrypt-legacy")

    def _rotate(self, new_key_file: str | None, *, install: bool) -> None:
        try:
            new_master = load_new_master_key(new_key_file)
        except KeyUnavailable as problem:
            raise CommandError(str(problem)) from problem
        total = ClientDataKey.objects.count()
        self.stdout.write(f"Re-wrapping {total} client data key(s) under {new_master.id} ...")

        def progress(done: int, of: int, row: ClientDataKey) -> None:
            self.stdout.write(f"  [{done}/{of}] {row.client.slug} v{row.version}")

        try:
            result = do_rotate_keys(None, new_master, install=install, progress=progress)
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from refusal
        except OSError as problem:
            raise CommandError(
                "The data keys were re-wrapped, but the key file could not be replaced "
                f"({problem.strerror}). Install the new key ({new_master.source}) as the master "
                "key now: until then stored files and values cannot be decrypted."
            ) from problem
        others = f" and {result.other_keys} other data key(s)" if result.other_keys else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-wrapped {result.rewrapped} data key(s) of {result.clients} client(s)"
                f"{others}: {result.old_key_id} -> {result.new_key_id}."
            )
        )
        self._after_rotation(new_master.source, install=install)

    def _after_rotation(self, new_source: str, *, install: bool) -> None:
        import os

        if os.environ.get(ENV_MASTER_KEY, "").strip():
            self.stdout.write(
                f"The master key comes from {ENV_MASTER_KEY}: set it to the new key "
                f"(from {new_source}) and restart every process. Until then, files and values "
                "cannot be decrypted. Back up the new key, then destroy the old one."
            )
        elif install:
            self.stdout.write(
                f"Installed the new key into {master_key_file()}. Back it up now; the old key "
                "no longer opens anything and can be destroyed."
            )
        else:
            self.stdout.write(
                f"Replace {master_key_file()} with the new key (from {new_source}) now: until "
                "then, files and values cannot be decrypted. Back up the new key."
            )

    def _new(self, path: Path) -> None:
        try:
            write_key_file(path, new_key())
        except FileExistsError as problem:
            raise CommandError(f"{path} exists; choose a new file.") from problem
        except OSError as problem:
            raise CommandError(f"Cannot write {path} ({problem.strerror}).") from problem
        self.stdout.write(f"Wrote a new master key to {path} (mode 0600). Back it up.")

    def _encrypt_legacy(self, *, dry_run: bool, limit: int | None, verbosity: int) -> None:
        def describe(line: LegacyFile) -> str:
            text = (
                f"{line.client} attachment {line.attachment_id} of item {line.item_id} "
                f"({filesizeformat(line.size)})"
            )
            return f"{text}: {line.reason}" if line.reason else text

        def progress(done: int, total: int, line: LegacyFile | None) -> None:
            if line is not None and line.outcome == "failed":
                self.stderr.write(f"  [{done}/{total}] {describe(line)}; left as it is")
            elif line is not None and (dry_run or verbosity >= 2):
                self.stdout.write(f"  [{done}/{total}] {describe(line)}")
            elif verbosity >= 1 and (done % PROGRESS_EVERY == 0 or done == total):
                self.stdout.write(f"  [{done}/{total}] files done")

        try:
            run = do_encrypt_legacy_files(None, dry_run=dry_run, limit=limit, progress=progress)
        except ActionRefused as refusal:
            raise CommandError(
                f"{refusal.message} Files encrypted before this stay encrypted; run again to go on."
            ) from refusal
        verb = "Would encrypt" if dry_run else "Encrypted"
        self.stdout.write(
            f"{verb} {len(run.encrypted)} of {run.found} file(s) stored before encryption "
            f"({filesizeformat(run.encrypted_bytes)}); {len(run.failed)} failed."
        )
        if run.leftovers_removed:
            self.stdout.write(
                f"Deleted {run.leftovers_removed} plaintext file(s) an earlier run had encrypted."
            )
        if not dry_run:
            self.stdout.write(f"Still not encrypted: {run.remaining} file(s).")
        for name in run.left_behind:
            self.stderr.write(
                f"  {name}: encrypted, but the plaintext could not be deleted; the next run "
                "deletes it."
            )
        if run.failed or run.left_behind:
            raise CommandError(
                f"{len(run.failed)} file(s) could not be encrypted and "
                f"{len(run.left_behind)} plaintext file(s) could not be deleted; "
                "they are taken up again by the next run."
            )
