"""``relaydesk keys status | rotate | new``: the master key and the client data keys.

``status`` prints key ids and versions, never key material, and what each data key
protects: stored files, purged files (tombstones) and confidential values. ``rotate`` re-wraps
every client's data key under a new master key (``--new-key-file PATH`` or
``RELAYDESK_NEW_MASTER_KEY``) in one transaction, without re-encrypting files or values.
``new --out PATH`` writes a fresh random master key into a file readable only
by its owner, ready for ``rotate``.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from relaydesk.errors import ActionRefused
from relaydesk.vault.actions import do_rotate_keys
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


class Command(BaseCommand):
    help = (
        "Manage the master key: keys status | keys rotate --new-key-file PATH | "
        "keys new --out PATH."
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

    def handle(self, *args: Any, **options: Any) -> None:
        match options["subcommand"]:
            case "status":
                self._status()
            case "rotate":
                self._rotate(options["new_key_file"], install=not options["no_install"])
            case "new":
                self._new(Path(options["out"]))

    def _status(self) -> None:
        lines, legacy = key_inventory()
        try:
            if not lines and not master_key_file().exists():
                raise KeyUnavailable(
                    f"none yet; one is generated into {master_key_file()} with the first file "
                    "or confidential detail"
                )
            master = load_master_key(create=False)
            self.stdout.write(f"Master key: {master.id} from {master.source}")
        except KeyUnavailable as problem:
            self.stdout.write(f"Master key: {problem}")
            master = None
        self.stdout.write(f"Client data keys: {len(lines)}")
        for line in lines:
            stale = master is not None and line.master_key_id != master.id
            mark = "  (NOT the configured master key)" if stale else ""
            rewrapped = f", re-wrapped {line.rewrapped}" if line.rewrapped else ""
            self.stdout.write(
                f"  {line.client:<24} v{line.version}  wrapped by {line.master_key_id}  "
                f"{line.files} file(s), {line.purged_files} purged, "
                f"{line.values} confidential value(s)  created {line.created}{rewrapped}{mark}"
            )
        if lines:
            self.stdout.write(
                f"Encrypted: {sum(line.files for line in lines)} stored file(s), "
                f"{sum(line.values for line in lines)} confidential value(s); "
                f"{sum(line.purged_files for line in lines)} file(s) purged under retention "
                "(tombstones, nothing stored)"
            )
        if legacy:
            self.stdout.write(f"Files stored before encryption (not encrypted): {legacy}")

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
