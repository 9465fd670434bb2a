"""Bulk intake of work items from a CSV file (the portal's import page and ``import-work``).

Importing runs in two steps, so nothing is written until every row has been read:

1. :func:`parse_work_csv` reads the file and checks every row the way a single
   request is checked (:func:`relaydesk.work.actions.validate_new_item`), and
   returns an :class:`ImportPlan`: the good rows, ready for intake, and every
   problem with its line number in the file (the header is line 1).
2. :func:`do_import_work` submits the good rows in one transaction. With any bad
   row it imports nothing, unless the caller explicitly asks to skip them.

The file is read with the standard library's :mod:`csv` reader rather than
tablib: tablib does not say on which line of the file a record started, and a
quoted description may span several lines, so only the reader's own line
counter gives the line numbers people see in their spreadsheet or editor.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import ActionRefused, Invalid, NotAllowed
from relaydesk.work.actions import NewWorkItem, validate_new_item
from relaydesk.work.models import Priority, WorkItem

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "Column",
    "ImportPlan",
    "ImportResult",
    "PlannedRow",
    "RowProblem",
    "example_csv",
    "parse_work_csv",
]

MAX_ROWS = 5_000
"""The most rows one file may hold."""

PROGRESS_EVERY = 1_000
"""How often (in rows) the progress callback is told how far the work has got."""

_PRIORITIES = {p.label.lower(): int(p) for p in Priority}
_MAX_EXTERNAL_REF = 100


@dataclass(frozen=True, slots=True)
class Column:
    """One column the import understands, as the import page and the docs describe it."""

    name: str
    required: str
    example: str
    help: str


COLUMNS: tuple[Column, ...] = (
    Column(
        "engagement",
        "if you have several engagements",
        "Claims intake",
        "The engagement's number or exact name. May be left out when you have one engagement.",
    ),
    Column("service", "yes", "data-entry", "The service's code, e.g. data-entry."),
    Column("title", "yes", "Key in claim 4471", "Up to 200 characters."),
    Column("description", "no", "Scanned form attached to the matter.", "Free text."),
    Column("priority", "no", "high", "low, normal, high or urgent; normal when empty."),
    Column("jurisdiction", "no", "US-FL", "Where the law matters, as a code such as US-FL."),
    Column("language", "no", "en", "Two- or three-letter code; en when empty."),
    Column("external_ref", "no", "MAT-2291", "Your own reference; unique within the file."),
    Column(
        "due_at",
        "no",
        "2030-06-30 17:00",
        "ISO 8601. Without an offset it is read in the engagement's time zone; "
        "a date alone means 23:59 that day.",
    ),
)
_KNOWN = {column.name for column in COLUMNS}
_REQUIRED = ("service", "title")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one line of the file cannot be imported."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A good row, ready for intake, and the line of the file it came from."""

    line: int
    request: NewWorkItem


@dataclass(slots=True)
class ImportPlan:
    """What a file would import: the good rows and every problem, before anything is written.

    ``file_problems`` are about the file as a whole (encoding, columns, size);
    with any of them nothing can be imported, whatever the caller asks.
    """

    actor: User
    client: Client
    rows: list[PlannedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    file_problems: list[RowProblem] = field(default_factory=list)
    row_count: int = 0

    @property
    def all_problems(self) -> list[RowProblem]:
        """File problems first, then row problems in file order."""
        return [*self.file_problems, *sorted(self.problems, key=lambda p: p.line)]

    @property
    def bad_lines(self) -> list[int]:
        """The lines of the rows that cannot be imported, in file order."""
        return sorted({problem.line for problem in self.problems})

    @property
    def is_clean(self) -> bool:
        """True when every row can be imported."""
        return not self.file_problems and not self.problems

    @property
    def can_import(self) -> bool:
        """True when at least the good rows could be imported."""
        return not self.file_problems and bool(self.rows)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: the items it created and the rows it left out."""

    client: Client
    created: list[WorkItem]
    skipped: list[RowProblem]

    @property
    def skipped_lines(self) -> list[int]:
        """The lines left out, in file order."""
        return sorted({problem.line for problem in self.skipped})

    def references(self) -> str:
        """The created items' references, shortened to first … last for long lists."""
        refs = [item.reference for item in self.created]
        if len(refs) <= 5:
            return ", ".join(refs)
        return f"{refs[0]} … {refs[-1]}"


Progress = Callable[[int, int], None]


def parse_work_csv(
    data: bytes | str,
    *,
    actor: User,
    client: Client,
    at: dt.datetime | None = None,
    progress: Progress | None = None,
) -> ImportPlan:
    """Read a CSV file of work requests for ``client`` and check every row; write nothing.

    Each row is checked as ``actor`` submitting it (through
    :func:`~relaydesk.work.actions.validate_new_item`), and its engagement must
    belong to ``client``. Raises :class:`NotAllowed` when ``actor`` may not
    submit work for ``client`` at all; every other problem lands in the plan.
    ``progress(done, total)`` is called every :data:`PROGRESS_EVERY` rows.
    """
    _check_actor(actor, client)
    at = at or timezone.now()
    plan = ImportPlan(actor=actor, client=client)
    text = _decode(data, plan)
    if text is None:
        return plan
    records = _read_records(text, plan)
    if records is None:
        return plan
    header_line, header, rows = records
    columns = _check_header(header, header_line, plan)
    plan.row_count = len(rows)
    if plan.file_problems:
        return plan
    if not rows:
        plan.file_problems.append(
            RowProblem(header_line, "The file has a header but no rows to import.")
        )
        return plan
    if len(rows) > MAX_ROWS:
        plan.file_problems.append(
            RowProblem(
                rows[MAX_ROWS][0],
                f"The file has {len(rows):,} rows; one import takes at most {MAX_ROWS:,}. "
                "Split it into smaller files.",
            )
        )
        return plan
    engagements = _Engagements(client, at)
    if "engagement" not in columns and engagements.default is None:
        plan.file_problems.append(RowProblem(header_line, engagements.why_no_default()))
        return plan

    seen_refs: dict[str, int] = {}
    for done, (line, values) in enumerate(rows, start=1):
        _check_row(actor, line, values, columns, engagements, seen_refs, plan, at)
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == len(rows)):
            progress(done, len(rows))
    return plan


def example_csv(client: Client) -> str:
    """A small example file for ``client``, using one of its engagements and services."""
    known = _Engagements(client, timezone.now())
    candidates = known.active or known.all
    engagement = candidates[0] if candidates else None
    service = engagement.services.order_by("slug").first() if engagement else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.name for column in COLUMNS])
    values = {column.name: column.example for column in COLUMNS}
    if engagement is not None:
        values["engagement"] = engagement.name
    if service is not None:
        values["service"] = service.slug
    due = timezone.localdate() + dt.timedelta(days=30)
    values["due_at"] = f"{due:%Y-%m-%d} 17:00"
    writer.writerow([values[column.name] for column in COLUMNS])
    writer.writerow(
        [
            values["engagement"],
            values["service"],
            "Update the contact details on file",
            "",
            "",
            "",
            "",
            "MAT-2292",
            "",
        ]
    )
    return out.getvalue()


# Reading the file ---------------------------------------------------------------------


def _check_actor(actor: User, client: Client) -> None:
    if not actor.is_active or not can(actor.role_enum, Permission.SUBMIT_WORK):
        raise NotAllowed("Only a client's users or the operations team can import work.")
    if actor.is_client_user and actor.client_id != client.pk:
        raise NotAllowed("You can only import work for your own organisation.")


def _decode(data: bytes | str, plan: ImportPlan) -> str | None:
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            byte = data[error.start : error.start + 1].hex().upper()
            plan.file_problems.append(
                RowProblem(
                    line,
                    f"The file is not UTF-8 text (byte 0x{byte} cannot be read). "
                    "Save it as 'CSV UTF-8' and try again.",
                )
            )
            return None
    if not text.strip():
        plan.file_problems.append(RowProblem(1, "The file is empty."))
        return None
    return text


def _read_records(
    text: str, plan: ImportPlan
) -> tuple[int, list[str], list[tuple[int, list[str]]]] | None:
    """The header and the non-blank rows, each with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    first_line = 1
    try:
        for values in reader:
            if any(value.strip() for value in values):
                records.append((first_line, values))
            first_line = reader.line_num + 1
    except csv.Error as error:
        plan.file_problems.append(
            RowProblem(first_line, f"The file is not valid CSV here ({error}).")
        )
        return None
    if not records:
        plan.file_problems.append(RowProblem(1, "The file is empty."))
        return None
    (header_line, header), rows = records[0], records[1:]
    return header_line, header, rows


def _normal(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _check_header(header: list[str], line: int, plan: ImportPlan) -> dict[str, int]:
    """Map each known column to its position; record unknown, repeated or missing ones."""
    while header and not header[-1].strip():  # spreadsheets sometimes add empty columns
        header = header[:-1]
    if len(header) == 1 and any(mark in header[0] for mark in ";\t"):
        plan.file_problems.append(
            RowProblem(
                line,
                "The columns are separated by semicolons or tabs, not commas. "
                "Save the file as 'CSV UTF-8' (comma-separated) and try again.",
            )
        )
        return {}
    columns: dict[str, int] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for position, raw in enumerate(header):
        name = _normal(raw)
        if not name:
            unknown.append(f"(empty, column {position + 1})")
        elif name not in _KNOWN:
            unknown.append(raw.strip())
        elif name in columns:
            repeated.append(name)
        else:
            columns[name] = position
    expected = ", ".join(column.name for column in COLUMNS)
    if unknown:
        plan.file_problems.append(
            RowProblem(
                line,
                f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                f"The columns are: {expected}.",
            )
        )
    if repeated:
        plan.file_problems.append(
            RowProblem(line, f"Column named more than once: {', '.join(repeated)}.")
        )
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        plan.file_problems.append(
            RowProblem(
                line,
                f"Missing required column{'s' if len(missing) > 1 else ''}: "
                f"{', '.join(missing)}. The first line must name the columns: {expected}.",
            )
        )
    return columns


# Checking a row -----------------------------------------------------------------------


class _Engagements:
    """The client's engagements, found by number or exact name, read once per file."""

    def __init__(self, client: Client, at: dt.datetime) -> None:
        self.client = client
        self.all = list(Engagement.objects.filter(client=client).order_by("pk"))
        self.by_id = {str(e.pk): e for e in self.all}
        self.by_name = {e.name: e for e in self.all}
        self.by_folded_name = {e.name.casefold(): e for e in self.all}
        self.active = [e for e in self.all if e.is_active_on(timezone.localdate(at))]
        self.default = self.active[0] if len(self.active) == 1 else None

    def why_no_default(self) -> str:
        if not self.active:
            return f"{self.client} has no active engagement to import work into."
        names = ", ".join(f"'{e.name}'" for e in self.active)
        return (
            f"{self.client} has {len(self.active)} active engagements ({names}); "
            "add an engagement column naming one of them."
        )

    def find(self, value: str) -> Engagement:
        value = value.strip()
        if not value:
            if self.default is None:
                raise Invalid(f"engagement: required. {self.why_no_default()}")
            return self.default
        engagement = self.by_id.get(value.removeprefix("#")) or self.by_name.get(value)
        if engagement is not None:
            return engagement
        near = self.by_folded_name.get(value.casefold())
        hint = f" Did you mean '{near.name}'?" if near else ""
        raise Invalid(f"engagement: {self.client} has no engagement '{value}'.{hint}")


def _check_row(
    actor: User,
    line: int,
    values: list[str],
    columns: dict[str, int],
    engagements: _Engagements,
    seen_refs: dict[str, int],
    plan: ImportPlan,
    at: dt.datetime,
) -> None:
    """Check one row and add it to the plan, as a good row or as its problems."""
    if any(value.strip() for value in values[len(columns) :]):
        plan.problems.append(
            RowProblem(
                line,
                f"The row has {len(values)} values but the header names {len(columns)} "
                "columns; put quotes around any value that contains a comma.",
            )
        )
        return

    def get(name: str) -> str:
        position = columns.get(name)
        if position is None or position >= len(values):
            return ""
        return values[position].strip()

    reasons: list[str] = []
    engagement: Engagement | None = None
    try:
        engagement = engagements.find(get("engagement"))
    except Invalid as refusal:
        reasons.append(refusal.message)

    priority = int(Priority.NORMAL)
    if get("priority"):
        found = _PRIORITIES.get(get("priority").lower())
        if found is None:
            reasons.append(
                f"priority: '{get('priority')}' is not one of low, normal, high, urgent."
            )
        else:
            priority = found

    due_at: dt.datetime | None = None
    if get("due_at"):
        try:
            due_at = _parse_due(get("due_at"), engagement.time_zone if engagement else None)
        except ValueError as error:
            reasons.append(f"due_at: {error}")

    external_ref = get("external_ref")
    if len(external_ref) > _MAX_EXTERNAL_REF:
        reasons.append(f"external_ref: longer than {_MAX_EXTERNAL_REF} characters.")
    if external_ref:
        earlier = seen_refs.setdefault(external_ref, line)
        if earlier != line:
            reasons.append(f"external_ref: '{external_ref}' is already used on line {earlier}.")

    if not get("service"):
        reasons.append("service: required.")
    elif engagement is not None:
        # Check the rest as a single request is checked, so one pass reports everything.
        request = NewWorkItem(
            engagement_id=engagement.pk,
            service_slug=get("service"),
            title=get("title"),
            description=get("description"),
            priority=priority,
            jurisdiction=get("jurisdiction").upper(),
            language=(get("language") or "en").lower(),
            external_ref=external_ref,
            due_at=due_at,
        )
        try:
            validate_new_item(actor, request, at=at)
        except ActionRefused as refusal:
            reasons.append(refusal.message)
        if not reasons:
            plan.rows.append(PlannedRow(line=line, request=request))
    plan.problems.extend(RowProblem(line, reason) for reason in reasons)


def _parse_due(value: str, time_zone: str | None) -> dt.datetime:
    """An aware datetime from ISO 8601; a naive one is read in the engagement's zone."""
    date_only: dt.date | None = None
    with contextlib.suppress(ValueError):
        date_only = dt.date.fromisoformat(value)
    if date_only is not None:
        naive = dt.datetime.combine(date_only, dt.time(23, 59))
    else:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not a date or time in ISO 8601, such as 2030-06-30 or "
                "2030-06-30T17:00 (optionally with an offset such as +02:00)."
            ) from None
        if parsed.tzinfo is not None:
            return parsed.astimezone(dt.UTC)
        naive = parsed
    if time_zone is None:
        # The engagement is unknown, so the row is reported for that; nothing to add.
        return naive.replace(tzinfo=dt.UTC)
    zone = zoneinfo.ZoneInfo(time_zone)
    aware = naive.replace(tzinfo=zone)
    if aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {time_zone} (the clocks change); "
            "give another time or an offset."
        )
    return aware.astimezone(dt.UTC)


def rows_phrase(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"
