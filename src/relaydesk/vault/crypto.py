"""Envelope encryption of documents with AES-GCM; pure functions, no Django.

A *master key* wraps each client's *data key* (AES-256-GCM, with associated
data naming the client and key version). A data key encrypts files in a
segmented AES-256-GCM format, so a file of any size is encrypted and
decrypted in bounded memory and every segment is authenticated::

    header   = MAGIC (4) | salt (32) | nonce prefix (7)
    file key = HKDF-SHA256(data key, salt, info = "relaydesk/file-key|" + aad)
    segment  = AES-GCM(file key, nonce = prefix | index (4) | last (1), aad = header)

Each segment holds up to 64 KiB of plaintext; the last one is marked in its
nonce, so a file cut short or reordered fails to decrypt. The associated data
(``aad``) goes into the file key: a blob written for one attachment or client
does not decrypt as another's.

Short values (a confidential detail of an item) are sealed in one piece::

    value key  = HKDF-SHA256(data key, info = "relaydesk/value-key")
    ciphertext = AES-GCM(value key, random 12-byte nonce, aad)

with the associated data naming the client, item and detail, so a value copied
to another row does not decrypt there.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import Iterable, Iterator
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_BYTES",
    "DecryptionError",
    "attachment_aad",
    "data_key_aad",
    "decrypt",
    "decrypt_stream",
    "decrypt_value",
    "encrypt",
    "encrypt_stream",
    "encrypt_value",
    "key_id",
    "new_key",
    "sensitive_value_aad",
    "unwrap_key",
    "wrap_key",
]

KEY_BYTES = 32
MAGIC = b"RDE1"
SALT_BYTES = 32
PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + SALT_BYTES + PREFIX_BYTES
SEGMENT_BYTES = 64 * 1024
TAG_BYTES = 16
_WRAP_NONCE_BYTES = 12
VALUE_NONCE_BYTES = 12


class Readable(Protocol):
    """Anything with ``read(n)`` returning bytes: an open file, a Django ``File``."""

    def read(self, size: int = ..., /) -> bytes: ...


class DecryptionError(Exception):
    """The ciphertext, its key or its associated data do not match; nothing was returned."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def key_id(key: bytes) -> str:
    """A short public name for a key (an HMAC of a fixed label); reveals nothing of the key."""
    return "mk-" + hmac.new(key, b"relaydesk/key-id", hashlib.sha256).hexdigest()[:16]


def data_key_aad(client_id: int, version: int) -> bytes:
    """Associated data binding a wrapped data key to its client and version."""
    return f"relaydesk/data-key/v1|client={client_id}|version={version}".encode()


def attachment_aad(client_id: int, attachment_id: str, key_version: int) -> bytes:
    """Associated data binding a file's ciphertext to its client, attachment and key version."""
    return (
        f"relaydesk/attachment/v1|client={client_id}|attachment={attachment_id}|key={key_version}"
    ).encode()


def sensitive_value_aad(client_id: int, item_id: int, detail_id: str, key_version: int) -> bytes:
    """Associated data binding a confidential value to its client, item, detail and key version."""
    return (
        f"relaydesk/sensitive-value/v1|client={client_id}|item={item_id}|detail={detail_id}"
        f"|key={key_version}"
    ).encode()


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"A key is {KEY_BYTES} bytes, not {len(key)}.")


def wrap_key(master: bytes, data_key: bytes, aad: bytes) -> bytes:
    """Encrypt ``data_key`` under ``master``: nonce (12) | AES-GCM ciphertext and tag."""
    _check_key(master)
    _check_key(data_key)
    nonce = os.urandom(_WRAP_NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, data_key, aad)


def unwrap_key(master: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """The data key inside ``wrapped``; :class:`DecryptionError` if master or aad differ."""
    _check_key(master)
    nonce, sealed = wrapped[:_WRAP_NONCE_BYTES], wrapped[_WRAP_NONCE_BYTES:]
    try:
        key = AESGCM(master).decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError) as error:
        raise DecryptionError("The data key does not unwrap with this master key.") from error
    if len(key) != KEY_BYTES:  # pragma: no cover - only a forged but authentic blob could
        raise DecryptionError("The unwrapped data key has the wrong length.")
    return key


def _file_cipher(key: bytes, salt: bytes, aad: bytes) -> AESGCM:
    _check_key(key)
    derived = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=b"relaydesk/file-key|" + aad
    ).derive(key)
    return AESGCM(derived)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt_stream(key: bytes, chunks: Iterable[bytes], aad: bytes) -> Iterator[bytes]:
    """Encrypt the plaintext ``chunks``; yields the header, then one piece per segment."""
    salt, prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
    header = MAGIC + salt + prefix
    cipher = _file_cipher(key, salt, aad)
    yield header
    buffer = bytearray()
    index = 0
    for chunk in chunks:
        buffer += chunk
        # Keep at least one byte back until the input ends: the last segment is marked.
        while len(buffer) > SEGMENT_BYTES:
            segment = bytes(buffer[:SEGMENT_BYTES])
            yield cipher.encrypt(_nonce(prefix, index, False), segment, header)
            del buffer[:SEGMENT_BYTES]
            index += 1
    yield cipher.encrypt(_nonce(prefix, index, True), bytes(buffer), header)


def decrypt_stream(key: bytes, source: Readable, aad: bytes) -> Iterator[bytes]:
    """Decrypt a file written by :func:`encrypt_stream`, one plaintext segment at a time.

    Raises :class:`DecryptionError` at the first segment that fails, including a
    missing last segment; a caller that must not release unverified plaintext
    reads the whole stream once before serving it.
    """
    header = source.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise DecryptionError("This is not a Relaydesk encrypted file.")
    salt = header[len(MAGIC) : len(MAGIC) + SALT_BYTES]
    prefix = header[len(MAGIC) + SALT_BYTES :]
    cipher = _file_cipher(key, salt, aad)
    sealed_size = SEGMENT_BYTES + TAG_BYTES
    index = 0
    current = source.read(sealed_size)
    while True:
        following = source.read(sealed_size) if len(current) == sealed_size else b""
        last = not following
        try:
            yield cipher.decrypt(_nonce(prefix, index, last), current, header)
        except (InvalidTag, ValueError) as error:
            raise DecryptionError(
                f"Segment {index} does not decrypt: wrong key, wrong file or altered bytes."
            ) from error
        if last:
            return
        current, index = following, index + 1


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """:func:`encrypt_stream` for bytes in memory."""
    return b"".join(encrypt_stream(key, [plaintext], aad))


def decrypt(key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """:func:`decrypt_stream` for bytes in memory."""
    return b"".join(decrypt_stream(key, io.BytesIO(ciphertext), aad))


def _value_cipher(key: bytes) -> AESGCM:
    # A key of its own for values, so the data key never serves two constructions.
    _check_key(key)
    derived = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"relaydesk/value-key"
    ).derive(key)
    return AESGCM(derived)


def encrypt_value(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Seal a short value under ``key``: returns (random 12-byte nonce, ciphertext and tag)."""
    nonce = os.urandom(VALUE_NONCE_BYTES)
    return nonce, _value_cipher(key).encrypt(nonce, plaintext, aad)


def decrypt_value(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """The value sealed by :func:`encrypt_value`; :class:`DecryptionError` if anything differs."""
    try:
        return _value_cipher(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as error:
        raise DecryptionError(
            "The value does not decrypt: wrong key, wrong row or altered bytes."
        ) from error
