"""The envelope format itself: round trips, and every way a ciphertext can be wrong."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.vault.crypto import (
    HEADER_BYTES,
    SEGMENT_BYTES,
    TAG_BYTES,
    DecryptionError,
    attachment_aad,
    data_key_aad,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    key_id,
    new_key,
    unwrap_key,
    wrap_key,
)

AAD = attachment_aad(1, "6f1c", 1)


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES + 7]
)
def test_any_size_round_trips_and_costs_one_tag_per_segment(size: int) -> None:
    key, plaintext = new_key(), bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    sealed = encrypt(key, plaintext, AAD)
    assert decrypt(key, sealed, AAD) == plaintext
    segments = max(1, -(-size // SEGMENT_BYTES))
    assert len(sealed) == HEADER_BYTES + size + segments * TAG_BYTES


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 700), min_size=1, max_size=8))
def test_chunking_of_the_input_does_not_matter(plaintext: bytes, cuts: list[int]) -> None:
    key = new_key()
    pieces, rest = [], plaintext
    for cut in cuts:
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    assert decrypt(key, b"".join(encrypt_stream(key, pieces, AAD)), AAD) == plaintext


def test_the_same_plaintext_never_gives_the_same_ciphertext() -> None:
    key = new_key()
    assert encrypt(key, b"same", AAD) != encrypt(key, b"same", AAD)


@pytest.mark.parametrize(
    "other_aad",
    [attachment_aad(2, "6f1c", 1), attachment_aad(1, "6f1d", 1), attachment_aad(1, "6f1c", 2)],
    ids=["other client", "other attachment", "other key version"],
)
def test_a_ciphertext_does_not_open_under_another_binding(other_aad: bytes) -> None:
    key = new_key()
    with pytest.raises(DecryptionError):
        decrypt(key, encrypt(key, b"medical record", AAD), other_aad)


def test_wrong_key_flipped_bit_and_cut_files_fail() -> None:
    key = new_key()
    sealed = encrypt(key, b"r" * (2 * SEGMENT_BYTES + 10), AAD)
    with pytest.raises(DecryptionError):
        decrypt(new_key(), sealed, AAD)
    flipped = bytearray(sealed)
    flipped[HEADER_BYTES + 5] ^= 1
    with pytest.raises(DecryptionError):
        decrypt(key, bytes(flipped), AAD)
    # Dropping the last segment leaves whole segments, none of them marked last.
    whole = HEADER_BYTES + 2 * (SEGMENT_BYTES + TAG_BYTES)
    with pytest.raises(DecryptionError):
        decrypt(key, sealed[:whole], AAD)
    with pytest.raises(DecryptionError):
        decrypt(key, sealed[:HEADER_BYTES], AAD)
    with pytest.raises(DecryptionError, match="not a Relaydesk encrypted file"):
        decrypt(key, b"%PDF-1.4 plaintext", AAD)


def test_decryption_stops_at_the_first_bad_segment() -> None:
    key = new_key()
    sealed = bytearray(encrypt(key, b"a" * (3 * SEGMENT_BYTES), AAD))
    sealed[-1] ^= 1
    stream = decrypt_stream(key, io.BytesIO(bytes(sealed)), AAD)
    assert next(stream) == b"a" * SEGMENT_BYTES  # a caller must read to the end before trusting
    with pytest.raises(DecryptionError):
        list(stream)


def test_a_wrapped_key_opens_only_with_its_master_client_and_version() -> None:
    master, data_key = new_key(), new_key()
    wrapped = wrap_key(master, data_key, data_key_aad(7, 1))
    assert data_key not in wrapped
    assert unwrap_key(master, wrapped, data_key_aad(7, 1)) == data_key
    for master_, aad in [
        (new_key(), data_key_aad(7, 1)),
        (master, data_key_aad(8, 1)),
        (master, data_key_aad(7, 2)),
    ]:
        with pytest.raises(DecryptionError):
            unwrap_key(master_, wrapped, aad)


def test_key_ids_name_keys_without_revealing_them() -> None:
    key = new_key()
    assert key_id(key) == key_id(key) != key_id(new_key())
    assert key.hex()[:8] not in key_id(key)
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_key(b"short", key, b"")
