"""The hash chain over the audit trail: how a record's hash is made and how the chain is checked.

Each record's ``hash`` is the SHA-256 of a canonical JSON document holding the
record's number (``seq``), its time in UTC, the actor's id and label, the action,
the object's type and id, the client's id, the source address, the detail and
the previous record's hash (``prev_hash``). The first record's ``prev_hash`` is
``GENESIS``. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "ChainBreak",
    "ChainReport",
    "canonical_detail",
    "canonical_ip",
    "record_hash",
    "verify_chain",
]

GENESIS = "0" * 64

# The columns a record's hash covers, in the order a reader would list them.
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "client_id",
    "source_ip",
    "detail",
    "prev_hash",
)


def _utc_iso(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("Audit times must be aware datetimes.")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """``detail`` as it will read back from a JSON column (tuples become lists, keys strings)."""
    result: dict[str, Any] = json.loads(json.dumps(dict(detail or {})))
    return result


def canonical_ip(source_ip: str | None) -> str | None:
    """The address in the form the database gives it back (``2001:DB8::1`` -> ``2001:db8::1``)."""
    if not source_ip:
        return None
    try:
        return str(ipaddress.ip_address(source_ip))
    except ValueError:
        return source_ip


def record_hash(fields: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of one record's ``HASHED_FIELDS``, as canonical JSON."""
    document = {name: fields[name] for name in HASHED_FIELDS}
    document["at"] = _utc_iso(fields["at"])
    document["source_ip"] = canonical_ip(fields["source_ip"])
    document["object_id"] = str(fields["object_id"] or "")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first record where the chain does not hold, and why."""

    seq: int
    id: int
    at: dt.datetime
    action: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """What a walk over the chain found."""

    count: int
    last_seq: int
    last_hash: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        """True when every record checked out."""
        return self.broken is None


def verify_chain(
    rows: Iterable[Mapping[str, Any]],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> ChainReport:
    """Walk ``rows`` (in ``seq`` order, each with ``id``, ``hash`` and ``HASHED_FIELDS``).

    Stops at the first record that does not fit: a number out of sequence or a
    ``prev_hash`` that is not the previous record's hash means a record is
    missing or the order changed; a ``hash`` that does not match the record's
    own fields means the record was edited after it was written.
    """
    count = 0
    last_seq = 0
    last_hash = GENESIS
    for row in rows:
        seq = int(row["seq"])
        reason = ""
        if seq != last_seq + 1:
            missing = (
                f"record #{last_seq + 1} is missing"
                if seq > last_seq + 1
                else f"its number follows #{last_seq}"
            )
            reason = f"sequence gap: {missing} (records removed or reordered)"
        elif row["prev_hash"] != last_hash:
            reason = (
                "prev_hash mismatch: it does not point at the record before it "
                f"(#{last_seq}), so a record before it was removed, replaced or reordered"
            )
        elif record_hash(row) != row["hash"]:
            reason = "hash mismatch: its contents were edited after it was written"
        if reason:
            return ChainReport(
                count=count,
                last_seq=last_seq,
                last_hash=last_hash,
                broken=ChainBreak(
                    seq=seq, id=int(row["id"]), at=row["at"], action=row["action"], reason=reason
                ),
            )
        count += 1
        last_seq = seq
        last_hash = row["hash"]
        if progress is not None and count % every == 0:
            progress(count)
    return ChainReport(count=count, last_seq=last_seq, last_hash=last_hash, broken=None)
