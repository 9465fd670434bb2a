"""The audit trail as CSV, one line per record, written as it is read."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from relaydesk.audit.chain import canonical_ip
from relaydesk.audit.models import AuditRecord
from relaydesk.web import spreadsheet_cell

COLUMNS = [
    "record",
    "at_utc",
    "actor_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "client_id",
    "source_ip",
    "detail",
    "prev_hash",
    "hash",
]


def _row(record: AuditRecord) -> list[str]:
    return [
        spreadsheet_cell(v)
        for v in (
            record.seq,
            record.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            record.actor_id,
            record.actor_label,
            record.action,
            record.object_type,
            record.object_id,
            record.client_id,
            canonical_ip(record.source_ip),
            json.dumps(record.detail, sort_keys=True, ensure_ascii=False),
            record.prev_hash,
            record.hash,
        )
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(records: QuerySet[AuditRecord] | Iterable[AuditRecord]) -> Iterator[str]:
    """The header and one CSV line per record (oldest first if ``records`` is a queryset)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    rows = (
        records.order_by("seq").iterator(chunk_size=2000)
        if isinstance(records, QuerySet)
        else records
    )
    for record in rows:
        yield writer.writerow(_row(record))
