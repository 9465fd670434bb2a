"""CSV bulk import: checking every row first, importing all or nothing, and the portal page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from relaydesk.audit.models import AuditRecord
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.work import actions, importing
from relaydesk.work.actions import do_import_work
from relaydesk.work.importing import MAX_ROWS, example_csv, parse_work_csv
from relaydesk.work.models import Priority, WorkItem
from tests.conftest import World
from tests.work.conftest_import import ImportWorld, csv_text, future, iw, signed_in

__all__ = ["iw"]  # the fixture, imported so pytest finds it here

HEADER = "engagement,service,title,description,priority,jurisdiction,language,external_ref,due_at"

pytestmark = pytest.mark.django_db


def _plan(world: ImportWorld, text: str | bytes, actor=None) -> importing.ImportPlan:
    return parse_work_csv(text, actor=actor or world.firm_admin, client=world.firm)


def _problems(plan: importing.ImportPlan) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in plan.all_problems]


# Given a clean file ---------------------------------------------------------------------


def test_a_clean_file_imports_every_row_with_its_fields_and_timeline(iw: ImportWorld) -> None:
    text = csv_text(
        HEADER,
        f"Claims intake,data-entry,Key in claim 4471,Scanned form,high,US-FL,EN,MAT-1,{future()}",
        f'{iw.claims.pk},document-processing,Index the medical records,"two\nlines",urgent,,,'
        "MAT-2,",
        "Claims intake,data-entry,Update contact details,,,,es,,",
    )
    plan = _plan(iw, text)
    assert plan.is_clean and [row.line for row in plan.rows] == [2, 3, 5]

    result = do_import_work(iw.firm_admin, plan, skip_invalid=False, source_ip="203.0.113.9")

    items = sorted(result.created, key=lambda item: item.pk)
    assert WorkItem.objects.count() == 3 and result.skipped == []
    first, second, third = items
    assert (first.engagement, first.service.slug, first.title) == (
        iw.claims,
        "data-entry",
        "Key in claim 4471",
    )
    assert first.client == iw.firm and first.submitted_by == iw.firm_admin
    assert (first.description, first.priority, first.jurisdiction, first.language) == (
        "Scanned form",
        Priority.HIGH,
        "US-FL",
        "en",
    )
    assert first.external_ref == "MAT-1" and first.due_at is not None
    assert second.service.slug == "document-processing" and second.description == "two\nlines"
    assert second.priority == Priority.URGENT and second.due_at is None
    assert third.priority == Priority.NORMAL and third.language == "es"
    for item in items:
        assert item.state == "queued"
        assert list(item.events.values_list("kind", flat=True)) == ["submitted", "queue"]
    assert AuditRecord.objects.filter(action="work_item.submit").count() == 3


def test_the_import_as_a_whole_is_audited_with_its_counts(iw: ImportWorld) -> None:
    text = csv_text(
        "service,title,external_ref", "data-entry,One,A", "data-entry,Two,A", "nope,Three,"
    )
    result = do_import_work(
        iw.firm_member, _plan(iw, text, iw.firm_member), skip_invalid=True, source_ip="203.0.113.9"
    )
    audit = AuditRecord.objects.get(action="work_item.import")
    assert audit.actor == iw.firm_member and audit.client_id == iw.firm.pk
    assert audit.source_ip == "203.0.113.9"
    assert audit.detail["rows"] == 3 and audit.detail["imported"] == 1
    assert audit.detail["skipped"] == 2 and audit.detail["skipped_lines"] == [3, 4]
    assert audit.detail["first"] == result.created[0].reference


def test_engagement_may_be_left_out_when_the_client_has_exactly_one(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service,title", "data-entry,Key in claim 4471"))
    assert plan.is_clean and plan.rows[0].request.engagement_id == iw.claims.pk


def test_engagement_is_required_when_the_client_has_several(iw: ImportWorld) -> None:
    from tests.work.conftest_import import _engagement

    _engagement(iw.firm, "Medical records", "America/New_York", ["data-entry"])
    plan = _plan(iw, csv_text("service,title", "data-entry,Key in claim 4471"))
    assert not plan.can_import
    [(line, reason)] = _problems(plan)
    assert line == 1 and "2 active engagements" in reason and "engagement column" in reason
    plan = _plan(iw, csv_text("engagement,service,title", ",data-entry,Key it"))
    [(line, reason)] = _problems(plan)
    assert line == 2 and reason.startswith("engagement: required.")


# Given bad rows -------------------------------------------------------------------------


BAD_FILE = csv_text(
    HEADER,
    "Claims intake,data-entry,Good one,,,,,REF-1,",  # line 2
    'Claims intake,payroll,"A description\nover two lines",,,,,REF-2,',  # 3-4: wrong service
    "Claims intake,data-entry,Good two,,,,,REF-3,",  # line 5
    "Claims intake,data-entry,,,,,,,",  # line 6: no title
    "Claims intake,data-entry,Soon,,someday,US-Florida,english,REF-1,2001-01-01",  # line 7
    "",  # a blank line is ignored (line 8)
    "Claims intake,data-entry,Fine again,,low,,,,",  # line 9
)


def test_one_bad_row_means_nothing_is_imported_and_every_problem_has_its_line(
    iw: ImportWorld,
) -> None:
    plan = _plan(iw, BAD_FILE)
    assert [row.line for row in plan.rows] == [2, 5, 9]
    assert plan.bad_lines == [3, 6, 7]
    problems = _problems(plan)
    assert problems[0] == (
        3,
        "The engagement 'Claims intake' does not cover the service 'payroll'; it covers: "
        "data-entry, document-processing.",
    )
    assert problems[1] == (6, "A title is required.")
    assert [reason for line, reason in problems if line == 7] == [
        "priority: 'someday' is not one of low, normal, high, urgent.",
        "external_ref: 'REF-1' is already used on line 2.",
        "The due time must be in the future.",
    ]

    with pytest.raises(Invalid) as refused:
        do_import_work(iw.firm_admin, plan, skip_invalid=False)
    assert refused.value.message == "3 rows have problems; nothing was imported."
    assert WorkItem.objects.count() == 0
    assert not AuditRecord.objects.filter(action__startswith="work_item.").exists()


def test_a_single_bad_row_is_named_in_the_refusal(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service,title", "data-entry,Good", "data-entry,"))
    with pytest.raises(Invalid, match=r"^1 row has problems; nothing was imported\.$"):
        do_import_work(iw.firm_admin, plan, skip_invalid=False)
    assert WorkItem.objects.count() == 0


def test_skip_invalid_imports_only_the_good_rows_and_lists_the_rest(iw: ImportWorld) -> None:
    plan = _plan(iw, BAD_FILE)
    result = do_import_work(iw.firm_admin, plan, skip_invalid=True)
    assert sorted(WorkItem.objects.values_list("title", flat=True)) == [
        "Fine again",
        "Good one",
        "Good two",
    ]
    assert result.skipped_lines == [3, 6, 7]
    assert {problem.line for problem in result.skipped} == {3, 6, 7}


def test_skip_invalid_with_no_good_row_imports_nothing(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service,title", "payroll,A", "payroll,B"))
    with pytest.raises(Invalid, match="No row of the file can be imported"):
        do_import_work(iw.firm_admin, plan, skip_invalid=True)
    assert WorkItem.objects.count() == 0


def test_the_import_is_one_transaction(iw: ImportWorld, monkeypatch) -> None:
    """Given a failure on the third row at write time, then the first two are rolled back."""
    text = csv_text("service,title", "data-entry,One", "data-entry,Two", "data-entry,Three")
    plan = _plan(iw, text)
    real = actions.do_submit_work_item
    calls = []

    def flaky(actor, request, **kwargs):
        calls.append(request.title)
        if len(calls) == 3:
            raise Invalid("The engagement 'Claims intake' is not active.")
        return real(actor, request, **kwargs)

    monkeypatch.setattr(actions, "do_submit_work_item", flaky)
    with pytest.raises(Invalid, match=r"^line 4: .* not active\. Nothing was imported\.$"):
        do_import_work(iw.firm_admin, plan, skip_invalid=False)
    assert calls == ["One", "Two", "Three"]
    assert WorkItem.objects.count() == 0
    assert not AuditRecord.objects.filter(action__startswith="work_item.").exists()


def test_duplicate_external_ref_is_reported_on_the_later_line(iw: ImportWorld) -> None:
    text = csv_text(
        "service,title,external_ref", "data-entry,A,X-1", "data-entry,B,X-2", "data-entry,C,X-1"
    )
    plan = _plan(iw, text)
    assert _problems(plan) == [(4, "external_ref: 'X-1' is already used on line 2.")]
    assert [row.line for row in plan.rows] == [2, 3]


def test_a_row_with_too_many_values_is_reported(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service,title", "data-entry,Smith, John"))
    [(line, reason)] = _problems(plan)
    assert line == 2 and "3 values but the header names 2 columns" in reason


# Given a bad file -----------------------------------------------------------------------


def test_unknown_columns_are_named_and_nothing_can_be_imported(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service,title,colour,Owner", "data-entry,A,red,me"))
    [(line, reason)] = _problems(plan)
    assert line == 1 and reason.startswith("Unknown columns: colour, Owner.")
    assert "engagement, service, title" in reason
    with pytest.raises(Invalid, match="cannot be imported"):
        do_import_work(iw.firm_admin, plan, skip_invalid=True)
    assert WorkItem.objects.count() == 0


def test_missing_required_columns_are_named(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("engagement,description", "Claims intake,Something"))
    [(line, reason)] = _problems(plan)
    assert line == 1 and reason.startswith("Missing required columns: service, title.")


def test_empty_trailing_columns_from_a_spreadsheet_are_ignored(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service,title,,", "data-entry,A,,", "data-entry,B"))
    assert plan.is_clean and [row.request.title for row in plan.rows] == ["A", "B"]


def test_a_semicolon_separated_file_gets_a_hint(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("service;title", "data-entry;A"))
    [(line, reason)] = _problems(plan)
    assert line == 1 and "separated by semicolons or tabs" in reason


def test_column_names_are_forgiving_about_case_and_spaces(iw: ImportWorld) -> None:
    plan = _plan(iw, csv_text("Service, Title ,External Ref", "data-entry,A,R-1"))
    assert plan.is_clean and plan.rows[0].request.external_ref == "R-1"


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b"", 1, "The file is empty."),
        (b"\xef\xbb\xbf \r\n\r\n", 1, "The file is empty."),
        (b"service,title\r\n", 1, "a header but no rows"),
        (b"service,title\r\ndata-entry,Caf\xe9\r\n", 2, "not UTF-8"),
        (b'service,title\r\ndata-entry,"unclosed\r\n', 2, "not valid CSV"),
    ],
)
def test_bad_files_are_refused_clearly(
    iw: ImportWorld, data: bytes, line: int, fragment: str
) -> None:
    plan = _plan(iw, data)
    [(found_line, reason)] = _problems(plan)
    assert found_line == line and fragment in reason
    assert not plan.can_import


def test_more_than_the_row_limit_is_refused(iw: ImportWorld) -> None:
    rows = ["data-entry,Row"] * (MAX_ROWS + 1)
    plan = _plan(iw, csv_text("service,title", *rows))
    [(line, reason)] = _problems(plan)
    assert line == MAX_ROWS + 2
    assert f"{MAX_ROWS + 1:,} rows" in reason and f"at most {MAX_ROWS:,}" in reason


def test_a_byte_order_mark_is_ignored(iw: ImportWorld) -> None:
    data = "\ufeffservice,title\r\ndata-entry,Key in claim 4471\r\n".encode()
    plan = _plan(iw, data)
    assert plan.is_clean and plan.rows[0].request.title == "Key in claim 4471"
    assert _plan(iw, data.decode("utf-8")).is_clean  # text with a BOM too


# Due dates ------------------------------------------------------------------------------


def _due(iw: ImportWorld, value: str) -> dt.datetime | None:
    plan = _plan(iw, csv_text("service,title,due_at", f"data-entry,A,{value}"))
    assert plan.is_clean, _problems(plan)
    return plan.rows[0].request.due_at


def test_a_naive_due_time_is_read_in_the_engagements_time_zone(iw: ImportWorld) -> None:
    # New York is on daylight time (UTC-4) in July and standard time (UTC-5) in January.
    assert _due(iw, "2040-07-01 09:00") == dt.datetime(2040, 7, 1, 13, 0, tzinfo=dt.UTC)
    assert _due(iw, "2040-01-15T09:30") == dt.datetime(2040, 1, 15, 14, 30, tzinfo=dt.UTC)


def test_a_date_alone_means_23_59_that_day_in_the_engagements_time_zone(
    iw: ImportWorld,
) -> None:
    assert _due(iw, "2040-01-15") == dt.datetime(2040, 1, 16, 4, 59, tzinfo=dt.UTC)
    assert _due(iw, "2040-07-01") == dt.datetime(2040, 7, 2, 3, 59, tzinfo=dt.UTC)


def test_a_due_time_with_an_offset_is_taken_as_given(iw: ImportWorld) -> None:
    assert _due(iw, "2040-07-01T09:00+02:00") == dt.datetime(2040, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert _due(iw, "2040-07-01T09:00Z") == dt.datetime(2040, 7, 1, 9, 0, tzinfo=dt.UTC)


def test_the_due_time_uses_the_rows_own_engagement(iw: ImportWorld) -> None:
    from tests.work.conftest_import import _engagement

    manila = _engagement(iw.firm, "Manila desk", "Asia/Manila", ["data-entry"])
    plan = _plan(
        iw,
        csv_text("engagement,service,title,due_at", f"{manila.pk},data-entry,A,2040-07-01 09:00"),
    )
    assert plan.rows[0].request.due_at == dt.datetime(2040, 7, 1, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("next week", "is not a date or time in ISO 8601"),
        ("2040-03-11 02:30", "does not exist in America/New_York"),  # clocks jump 02:00→03:00
        ("2001-01-01", "The due time must be in the future."),
    ],
)
def test_bad_due_times_are_reported(iw: ImportWorld, value: str, fragment: str) -> None:
    plan = _plan(iw, csv_text("service,title,due_at", f"data-entry,A,{value}"))
    [(line, reason)] = _problems(plan)
    assert line == 2 and fragment in reason


# Isolation and permissions -----------------------------------------------------------


def test_an_engagement_of_another_client_is_refused(iw: ImportWorld) -> None:
    """By number or by name, another client's engagement looks like no engagement at all."""
    text = csv_text(
        "engagement,service,title",
        f"{iw.support.pk},customer-support,Sneak in by number",
        "Support desk,customer-support,Sneak in by name",
    )
    plan = _plan(iw, text)
    assert _problems(plan) == [
        (2, f"engagement: {iw.firm.name} has no engagement '{iw.support.pk}'."),
        (3, f"engagement: {iw.firm.name} has no engagement 'Support desk'."),
    ]
    with pytest.raises(Invalid):
        do_import_work(iw.firm_admin, plan, skip_invalid=False)
    assert WorkItem.objects.count() == 0


def test_the_operations_team_is_held_to_the_named_client_too(iw: ImportWorld) -> None:
    text = csv_text("engagement,service,title", f"{iw.support.pk},customer-support,Wrong client")
    plan = parse_work_csv(text, actor=iw.lead, client=iw.firm)
    assert plan.bad_lines == [2] and not plan.rows
    good = parse_work_csv(
        csv_text("service,title", "data-entry,Right client"), actor=iw.lead, client=iw.firm
    )
    [item] = do_import_work(iw.lead, good, skip_invalid=False).created
    assert item.client == iw.firm and item.submitted_by == iw.lead


def test_who_may_import(iw: ImportWorld) -> None:
    text = csv_text("service,title", "data-entry,A")
    with pytest.raises(NotAllowed):
        parse_work_csv(text, actor=iw.agent, client=iw.firm)
    with pytest.raises(NotAllowed):
        parse_work_csv(text, actor=iw.retailer_admin, client=iw.firm)
    plan = _plan(iw, text)
    with pytest.raises(NotAllowed):
        do_import_work(iw.firm_member, plan, skip_invalid=False)  # checked for someone else
    assert WorkItem.objects.count() == 0


IMPORTERS_FOR_CLIENT_A = {"provider_admin", "ops_lead", "client_admin_a", "client_member_a"}


@pytest.mark.parametrize(
    "who",
    [
        "provider_admin",
        "ops_lead",
        "agent",
        "other_agent",
        "qa_reviewer",
        "supervising_attorney",
        "senior_analyst",
        "client_admin_a",
        "client_member_a",
        "client_admin_b",
        "client_member_b",
    ],
)
def test_every_role_may_import_exactly_as_it_may_submit(world: World, who: str) -> None:
    actor = world.users()[who]
    text = csv_text("engagement,service,title", f"{world.engagement_a.pk},data-entry,Key forms")
    try:
        plan = parse_work_csv(text, actor=actor, client=world.client_a)
    except NotAllowed:
        plan = None
    assert (plan is not None) == (who in IMPORTERS_FOR_CLIENT_A)
    if plan is not None:
        assert can(actor.role_enum, Permission.SUBMIT_WORK)
        [item] = do_import_work(actor, plan, skip_invalid=False).created
        assert item.client == world.client_a and item.submitted_by == actor


def test_the_example_file_imports_cleanly(iw: ImportWorld) -> None:
    plan = _plan(iw, example_csv(iw.firm))
    assert plan.is_clean and len(plan.rows) == 2


# The portal page ------------------------------------------------------------------------


URL = "/portal/import/"


def _upload(name: str, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), "text/csv")


def test_the_url_is_named(iw: ImportWorld) -> None:
    assert reverse("portal:import") == URL


@pytest.mark.parametrize("who", ["firm_admin", "firm_member"])
def test_the_page_shows_the_form_and_the_columns(iw: ImportWorld, who: str) -> None:
    response = signed_in(getattr(iw, who)).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="skip_invalid"' in page
    for column in importing.COLUMNS:
        assert f'<td class="ref">{column.name}</td>' in page
    assert "Claims intake" in page and "Support desk" not in page


@pytest.mark.parametrize("who", ["agent", "lead"])
def test_the_page_is_for_client_users_only(iw: ImportWorld, who: str) -> None:
    assert signed_in(getattr(iw, who)).get(URL).status_code == 403
    response = signed_in(getattr(iw, who)).post(URL, {"file": _upload("a.csv", "x")})
    assert response.status_code == 403
    assert WorkItem.objects.count() == 0


def test_the_page_needs_sign_in(iw: ImportWorld) -> None:
    from django.test import Client as HttpClient

    response = HttpClient().get(URL)
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_example_file_downloads(iw: ImportWorld) -> None:
    response = signed_in(iw.firm_admin).get(URL, {"example": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().startswith("engagement,service,title,")
    assert "Claims intake" in response.content.decode()


def test_posting_a_bad_file_shows_every_problem_and_imports_nothing(iw: ImportWorld) -> None:
    response = signed_in(iw.firm_admin).post(URL, {"file": _upload("claims.csv", BAD_FILE)})
    assert response.status_code == 422
    page = response.content.decode()
    assert "3 rows have problems; nothing was imported." in page
    assert '<td class="ref">3</td>' in page and "does not cover the service" in page
    assert '<td class="ref">6</td>' in page and "A title is required." in page
    assert '<td class="ref">7</td>' in page
    assert "Import only the valid rows" in page
    assert WorkItem.objects.count() == 0


def test_posting_a_good_file_imports_it_and_goes_to_the_requests(iw: ImportWorld) -> None:
    text = csv_text("service,title,priority", "data-entry,One,high", "data-entry,Two,")
    browser = signed_in(iw.firm_member)
    response = browser.post(URL, {"file": _upload("claims.csv", text)})
    assert response.status_code == 302 and response["Location"] == reverse("portal:items")
    items = WorkItem.objects.order_by("pk")
    assert [(i.title, i.priority, i.submitted_by) for i in items] == [
        ("One", Priority.HIGH, iw.firm_member),
        ("Two", Priority.NORMAL, iw.firm_member),
    ]
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Imported 2 requests from claims.csv: RD-")


def test_ticking_import_only_the_valid_rows_imports_them(iw: ImportWorld) -> None:
    response = signed_in(iw.firm_admin).post(
        URL, {"file": _upload("claims.csv", BAD_FILE), "skip_invalid": "on"}
    )
    assert response.status_code == 302
    assert WorkItem.objects.count() == 3
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages[0].startswith("Imported 3 requests")
    assert messages[1] == "Skipped 3 rows with problems: line 3, 6, 7."


def test_posting_without_a_file_or_with_a_bad_file_says_why(iw: ImportWorld) -> None:
    browser = signed_in(iw.firm_admin)
    response = browser.post(URL, {})
    assert (
        response.status_code == 422 and "Choose a CSV file to import." in response.content.decode()
    )
    response = browser.post(URL, {"file": _upload("x.csv", "title,colour\r\nA,red\r\n")})
    assert response.status_code == 422
    assert "Unknown column: colour." in response.content.decode()
    response = browser.post(
        URL, {"file": _upload("x.csv", "title,colour\r\nA,red\r\n"), "skip_invalid": "on"}
    )
    assert response.status_code == 422
    assert WorkItem.objects.count() == 0


def test_a_client_user_cannot_import_into_another_clients_engagement(iw: ImportWorld) -> None:
    text = csv_text("engagement,service,title", f"{iw.claims.pk},data-entry,Not yours")
    response = signed_in(iw.retailer_admin).post(
        URL, {"file": _upload("x.csv", text), "skip_invalid": "on"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Bravo Retail has no engagement" in page and "Hartwell" not in page
    assert WorkItem.objects.count() == 0
