"""``relaydesk import-work FILE --client SLUG``, end to end through the management command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from relaydesk import cli
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.work.models import WorkItem
from tests.work.conftest_import import FIRM, ImportWorld, csv_text, iw

__all__ = ["iw"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.django_db

GOOD = csv_text(
    "engagement,service,title,priority,external_ref",
    "Claims intake,data-entry,Key in claim 4471,high,MAT-1",
    "Claims intake,document-processing,Index the medical records,,MAT-2",
)
MIXED = csv_text(
    "service,title,external_ref",
    "data-entry,Good one,A",  # line 2
    "payroll,Not covered,B",  # line 3
    "data-entry,Good two,C",  # line 4
    "data-entry,Repeat,A",  # line 5
)


def _file(tmp_path: Path, text: str | bytes, name: str = "items.csv") -> str:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_work", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_clean_file_is_imported_and_summarised(iw: ImportWorld, tmp_path: Path) -> None:
    out, err = _run(_file(tmp_path, GOOD), "--client", "hartwell-cole")
    first, second = WorkItem.objects.order_by("pk")
    assert out.strip() == f"Imported 2 items for {FIRM}: {first.reference}, {second.reference}"
    assert err == ""
    assert (first.title, first.priority, first.external_ref) == ("Key in claim 4471", 3, "MAT-1")
    assert first.submitted_by == iw.firm_admin  # the client's first admin by default
    assert second.service.slug == "document-processing"
    assert AuditRecord.objects.get(action="work_item.import").detail["imported"] == 2


def test_a_long_list_of_references_is_shortened(iw: ImportWorld, tmp_path: Path) -> None:
    rows = [f"data-entry,Item {n}" for n in range(7)]
    out, _ = _run(_file(tmp_path, csv_text("service,title", *rows)), "--client", "hartwell-cole")
    items = list(WorkItem.objects.order_by("pk"))
    assert out.strip() == (
        f"Imported 7 items for {FIRM}: {items[0].reference} … {items[-1].reference}"
    )


def test_bad_rows_are_listed_by_line_and_nothing_is_imported(
    iw: ImportWorld, tmp_path: Path
) -> None:
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "import_work",
            _file(tmp_path, MIXED),
            "--client",
            "hartwell-cole",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert str(failed.value) == (
        "2 rows of 4 have problems; nothing was imported. Fix them, or add --skip-invalid "
        "to import only the good rows."
    )
    assert err.getvalue().splitlines() == [
        "line 3: The engagement 'Claims intake' does not cover the service 'payroll'; "
        "it covers: data-entry, document-processing.",
        "line 5: external_ref: 'A' is already used on line 2.",
    ]
    assert WorkItem.objects.count() == 0


def test_skip_invalid_imports_the_good_rows_and_lists_the_rest(
    iw: ImportWorld, tmp_path: Path
) -> None:
    out, err = _run(_file(tmp_path, MIXED), "--client", "hartwell-cole", "--skip-invalid")
    assert sorted(WorkItem.objects.values_list("title", flat=True)) == ["Good one", "Good two"]
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"Imported 2 items for {FIRM}: RD-")
    assert lines[1] == "Skipped 2 rows with problems: line 3, 5."
    assert [line.split(":")[0] for line in err.splitlines()] == ["line 3", "line 5"]


def test_a_file_level_problem_fails_even_with_skip_invalid(iw: ImportWorld, tmp_path: Path) -> None:
    err = io.StringIO()
    path = _file(tmp_path, csv_text("service,title,colour", "data-entry,A,red"))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_work",
            path,
            "--client",
            "hartwell-cole",
            "--skip-invalid",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert err.getvalue().startswith("line 1: Unknown column: colour.")
    assert WorkItem.objects.count() == 0


def test_a_byte_order_mark_from_excel_is_fine(iw: ImportWorld, tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeffservice,title\r\ndata-entry,From Excel\r\n".encode())
    out, _ = _run(path, "--client", "hartwell-cole")
    assert out.startswith(f"Imported 1 item for {FIRM}: RD-")
    assert WorkItem.objects.get().title == "From Excel"


def test_dry_run_checks_and_imports_nothing(iw: ImportWorld, tmp_path: Path) -> None:
    out, _ = _run(_file(tmp_path, GOOD), "--client", "hartwell-cole", "--dry-run")
    assert out.strip() == (
        f"Checked 2 rows for {FIRM}: 2 good, 0 with problems. Nothing was imported (--dry-run)."
    )
    assert WorkItem.objects.count() == 0
    with pytest.raises(CommandError, match="2 rows have problems"):
        _run(_file(tmp_path, MIXED), "--client", "hartwell-cole", "--dry-run")


def test_progress_is_shown_for_large_files(iw: ImportWorld, tmp_path: Path) -> None:
    rows = [f"data-entry,Item {n}" for n in range(1_200)]
    path = _file(tmp_path, csv_text("service,title", *rows))
    _, err = _run(path, "--client", "hartwell-cole", "--dry-run")
    assert err.splitlines() == [
        "validated 1,000/1,200 rows",
        "validated 1,200/1,200 rows",
    ]
    _, quiet = _run(path, "--client", "hartwell-cole", "--dry-run", "--verbosity", "0")
    assert quiet == ""


def test_submitting_as_someone_else(iw: ImportWorld, tmp_path: Path) -> None:
    path = _file(tmp_path, csv_text("service,title", "data-entry,A"))
    _run(path, "--client", "hartwell-cole", "--as", "MEMBER@hartwell.test")
    _run(path, "--client", "hartwell-cole", "--as", iw.lead.email)
    submitters = list(WorkItem.objects.order_by("pk").values_list("submitted_by", flat=True))
    assert submitters == [iw.firm_member.pk, iw.lead.pk]


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("admin@bravo.test", "cannot submit work for Hartwell & Cole Injury Law"),
        ("agent@provider.test", "cannot submit work for Hartwell & Cole Injury Law"),
        ("nobody@nowhere.test", "no active user"),
    ],
)
def test_the_submitter_must_be_allowed(
    iw: ImportWorld, tmp_path: Path, who: str, message: str
) -> None:
    path = _file(tmp_path, csv_text("service,title", "data-entry,A"))
    with pytest.raises(CommandError, match=message):
        _run(path, "--client", "hartwell-cole", "--as", who)
    assert WorkItem.objects.count() == 0


def test_without_an_active_client_admin_the_submitter_must_be_named(
    iw: ImportWorld, tmp_path: Path
) -> None:
    User.objects.filter(pk=iw.firm_admin.pk).update(is_active=False)
    path = _file(tmp_path, csv_text("service,title", "data-entry,A"))
    with pytest.raises(CommandError, match="no active client admin; name who submits"):
        _run(path, "--client", "hartwell-cole")
    with pytest.raises(CommandError, match="no active user"):
        _run(path, "--client", "hartwell-cole", "--as", iw.firm_admin.email)


def test_unknown_client_and_missing_file(iw: ImportWorld, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no client with the slug 'nope'"):
        _run(_file(tmp_path, GOOD), "--client", "nope")
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.csv: No such file"):
        _run(str(tmp_path / "missing.csv"), "--client", "hartwell-cole")


def test_the_relaydesk_command_exits_non_zero_on_bad_rows(
    iw: ImportWorld,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``relaydesk import-work`` maps to the command and fails with exit status 1."""
    # Django closes every connection after a command run from the command line; keep the
    # test database open.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        cli.main(["import-work", _file(tmp_path, MIXED), "--client", "hartwell-cole"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "line 3: The engagement 'Claims intake' does not cover" in err
    assert "nothing was imported" in err
    assert WorkItem.objects.count() == 0
    cli.main(["import-work", _file(tmp_path, GOOD), "--client", "hartwell-cole"])
    assert WorkItem.objects.count() == 2
    assert capsys.readouterr().out.startswith(f"Imported 2 items for {FIRM}")
