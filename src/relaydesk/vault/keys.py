"""Loading the master key: from ``RELAYDESK_MASTER_KEY`` or a key file, never from the database.

The environment variable (32 bytes in base64) wins. Otherwise the key is read
from ``settings.RELAYDESK_MASTER_KEY_FILE`` (default ``var/master.key``), which
is generated on first use, readable by its owner only (0600). Key material is
never logged, printed or put in an error message; a key is named by its id
(:func:`relaydesk.vault.crypto.key_id`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from relaydesk.vault.crypto import KEY_BYTES, key_id, new_key

ENV_MASTER_KEY = "RELAYDESK_MASTER_KEY"
ENV_NEW_MASTER_KEY = "RELAYDESK_NEW_MASTER_KEY"


class KeyUnavailable(Exception):
    """The master key cannot be loaded; the message says what to fix (never the key)."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    """A master key, where it came from, and its public id."""

    key: bytes = field(repr=False)
    source: str
    path: Path | None = None

    @property
    def id(self) -> str:
        """The key's public name, e.g. ``mk-1a2b3c4d5e6f7a8b``."""
        return key_id(self.key)


def parse_key(text: str, where: str) -> bytes:
    """The 32 bytes of a base64 key; :class:`KeyUnavailable` naming ``where`` if malformed."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise KeyUnavailable(f"{where} is not valid base64.") from error
    if len(raw) != KEY_BYTES:
        raise KeyUnavailable(
            f"{where} holds {len(raw)} bytes; a master key is {KEY_BYTES} bytes in base64."
        )
    return raw


def encode_key(key: bytes) -> str:
    """The text form of a key, as key files and the environment hold it."""
    return base64.b64encode(key).decode("ascii")


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` holding ``key``, readable by its owner only; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(encode_key(key) + "\n")
    path.chmod(0o600)


def replace_key_file(path: Path, key: bytes) -> None:
    """Atomically replace the key in ``path`` (a sibling temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    temporary.unlink(missing_ok=True)
    write_key_file(temporary, key)
    os.replace(temporary, path)


def read_key_file(path: Path) -> MasterKey:
    """The key in ``path``; :class:`KeyUnavailable` if missing or malformed."""
    try:
        text = path.read_text()
    except OSError as error:
        raise KeyUnavailable(f"The key file {path} cannot be read ({error.strerror}).") from error
    return MasterKey(parse_key(text, f"The key file {path}"), f"the key file {path}", path)


def master_key_file() -> Path:
    """Where the master key file is (whether or not it exists yet)."""
    return Path(settings.RELAYDESK_MASTER_KEY_FILE)


def load_master_key(*, create: bool) -> MasterKey:
    """The configured master key.

    With ``create`` and neither the environment variable nor the file present,
    a new key is generated into the file. Callers pass ``create=False`` once any
    data key exists: a missing file then means a lost key, not a first run.
    """
    text = os.environ.get(ENV_MASTER_KEY, "")
    if text.strip():
        return MasterKey(parse_key(text, ENV_MASTER_KEY), f"the environment ({ENV_MASTER_KEY})")
    path = master_key_file()
    if not path.exists():
        if not create:
            raise KeyUnavailable(
                f"The master key file {path} is missing, but client data keys wrapped by a "
                "master key exist. Restore the key file from its backup (or set "
                f"{ENV_MASTER_KEY}); without it the stored files cannot be decrypted."
            )
        # If another process created it first, read theirs.
        with contextlib.suppress(FileExistsError):
            write_key_file(path, new_key())
    return read_key_file(path)


def load_new_master_key(key_file: str | None) -> MasterKey:
    """The key to rotate to: ``--new-key-file`` or ``RELAYDESK_NEW_MASTER_KEY``."""
    if key_file:
        return read_key_file(Path(key_file))
    text = os.environ.get(ENV_NEW_MASTER_KEY, "")
    if text.strip():
        return MasterKey(
            parse_key(text, ENV_NEW_MASTER_KEY), f"the environment ({ENV_NEW_MASTER_KEY})"
        )
    raise KeyUnavailable(f"Give the new master key: --new-key-file PATH or {ENV_NEW_MASTER_KEY}.")
