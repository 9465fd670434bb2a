"""Retention: closed items past their engagement's retention lose their documents, nothing else.

Given items on engagements with and without a retention, when the purge runs, then
only closed items past it lose their stored files, confidential details,
description and comment bodies; their record, timeline and tombstones (files,
comments with author and time) stay, and downloads say 410.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zoneinfo
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action, State
from relaydesk.errors import NotAllowed
from relaydesk.retention.actions import do_purge_expired
from relaydesk.retention.tasks import purge_expired
from relaydesk.work.actions import (
    NewWorkItem,
    do_add_comment,
    do_assign,
    do_submit_work_item,
    do_transition,
)
from relaydesk.work.models import Attachment, Comment, SensitiveDetail, WorkItem
from tests.conftest import World, login

IBAN = "DE89370400440532013000"
DESCRIPTION = "Claimant Jane Roe, policy 88-1200, see the attached bill."
CLIENT_COMMENT = "Jane Roe's date of birth is 1961-04-12."
INTERNAL_COMMENT = "Called the insurer about policy 88-1200."


def pdf_bytes() -> bytes:
    """A small PDF-looking file with random content, different every time."""
    return b"%PDF-1.4\n" + os.urandom(2048).hex().encode() + b"\n%%EOF\n"


def make_item(
    world: World,
    engagement: Engagement,
    *,
    title: str,
    closed_days_ago: int | None,
    cancel: bool = False,
    content: bytes | None = None,
) -> WorkItem:
    """An item with a file, a confidential detail, a description and two comments (one
    client-visible, one internal); closed that long ago.

    ``closed_days_ago=None`` leaves it open (queued). Closing goes through the real
    lifecycle; only the closing time is then moved back, as if time had passed.
    """
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    client_user = world.member_a if engagement.client_id == world.client_a.pk else world.member_b
    item, _ = do_submit_work_item(
        client_user,
        NewWorkItem(
            engagement_id=engagement.pk,
            service_slug="data-entry",
            title=title,
            description=DESCRIPTION,
            sensitive=(("bank_account", "IBAN", IBAN),),
        ),
        files=[SimpleUploadedFile("claim.pdf", content or pdf_bytes(), "application/pdf")],
    )
    do_add_comment(client_user, item, CLIENT_COMMENT)
    do_add_comment(world.lead, item, INTERNAL_COMMENT, visibility="internal")
    if closed_days_ago is None:
        return item
    if cancel:
        do_transition(client_user, item, Action.CANCEL)
    else:
        do_assign(world.lead, item, world.agent.agent)
        do_transition(world.agent, item, Action.START)
        do_transition(world.agent, item, Action.COMPLETE)
        do_transition(client_user, item, Action.ACCEPT)
    closed = timezone.now() - dt.timedelta(days=closed_days_ago)
    WorkItem.objects.filter(pk=item.pk).update(closed_at=closed)
    item.refresh_from_db()
    return item


def local_day(at: dt.datetime, viewer: User) -> str:
    """The calendar day a viewer reads for an instant: pages show their own time zone."""
    return f"{at.astimezone(zoneinfo.ZoneInfo(viewer.time_zone)):%Y-%m-%d}"


def keep_for(engagement: Engagement, days: int | None) -> None:
    Engagement.objects.filter(pk=engagement.pk).update(document_retention_days=days)


def stored_name(item: WorkItem) -> str:
    return item.attachments.get().file.name or ""


def snapshot(item: WorkItem) -> tuple[object, ...]:
    """Everything the purge could change on an item."""
    item.refresh_from_db()
    attachment = item.attachments.get()
    return (
        item.state,
        item.title,
        item.description,
        item.closed_at,
        list(item.events.values_list("kind", "note")),
        attachment.purged_at,
        attachment.file.name,
        bool(attachment.file.name) and default_storage.exists(attachment.file.name or ""),
        list(item.sensitive_details.values_list("label", "last4", "encryption_id")),
        list(item.comments.values_list("author", "created_at", "body", "purged_at")),
    )


@pytest.fixture
def expired(world: World) -> WorkItem:
    keep_for(world.engagement_a, 30)
    return make_item(world, world.engagement_a, title="Old accepted claim", closed_days_ago=31)


def test_an_accepted_item_past_retention_loses_files_details_and_text_but_keeps_its_record(
    world: World, expired: WorkItem
) -> None:
    name = stored_name(expired)
    assert default_storage.exists(name)
    states = list(expired.events.values_list("kind", "to_state"))

    run = do_purge_expired()

    assert [p.reference for p in run.purged] == [expired.reference]
    assert not default_storage.exists(name), "the stored file must be gone"
    expired.refresh_from_db()
    assert expired.description == ""
    assert expired.title == "Old accepted claim" and expired.state == State.ACCEPTED
    assert not SensitiveDetail.objects.filter(item=expired).exists()
    tombstone = Attachment.objects.get(item=expired)
    assert tombstone.purged_at == run.at and tombstone.file.name == ""
    assert tombstone.original_name == "claim.pdf" and tombstone.sha256
    # The timeline is whole, with one more client-visible entry saying what happened.
    events = list(expired.events.values_list("kind", "to_state"))
    assert events == [*states, ("purged", "")]
    purged = expired.events.get(kind="purged")
    assert not purged.internal
    assert purged.note == (
        "Documents, comments and confidential details deleted under the engagement's "
        "30-day retention."
    )
    record = AuditRecord.objects.get(action="retention.purge")
    assert record.object_id == str(expired.pk) and record.client_id == world.client_a.pk
    assert record.detail["files"] == 1 and record.detail["details"] == 1
    assert record.detail["comments"] == 2
    summary = AuditRecord.objects.get(action="retention.purge_run")
    assert summary.detail["items"] == 1 and summary.detail["files"] == 1
    # The client reads it on the item page: the file is listed, no longer linked.
    page = login(world.member_a).get(f"/items/{expired.pk}/").content.decode()
    assert f"deleted under retention on {local_day(run.at, world.member_a)}" in page
    assert f"/items/{expired.pk}/attachments/{tombstone.pk}/" not in page
    assert "Documents deleted under retention" in page
    assert DESCRIPTION not in page and "•••• 3000" not in page


def test_comment_bodies_are_removed_and_their_author_and_time_kept(
    world: World, expired: WorkItem
) -> None:
    before = list(expired.comments.values_list("pk", "author", "created_at", "visibility"))

    run = do_purge_expired()

    comments = list(expired.comments.values_list("pk", "author", "created_at", "visibility"))
    assert comments == before and len(comments) == 2
    assert set(expired.comments.values_list("body", "purged_at")) == {("", run.at)}
    for user in (world.member_a, world.lead):
        page = login(user).get(f"/items/{expired.pk}/").content.decode()
        assert CLIENT_COMMENT not in page and INTERNAL_COMMENT not in page
        assert f"Removed under retention on {local_day(run.at, user)}." in page
        assert "Member" in page  # who wrote it is still shown
    _, secret = do_create_api_token(world.member_a, name="retention")
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    (listed,) = api.get(f"/api/v1/work-items/{expired.pk}/comments").json()
    assert listed["body"] == "" and listed["purged_at"] is not None
    assert listed["author"] == world.member_a.full_name


def test_an_item_purged_while_comments_were_kept_loses_them_on_the_next_run(
    world: World, expired: WorkItem
) -> None:
    # Purged before comments were in scope: files, details and text gone, comments kept.
    do_purge_expired()
    Comment.objects.filter(item=expired).update(body=CLIENT_COMMENT, purged_at=None)

    run = do_purge_expired()

    assert [(p.reference, p.files, p.details, p.comments) for p in run.purged] == [
        (expired.reference, 0, 0, 2)
    ]
    assert not Comment.objects.filter(item=expired).exclude(body="").exists()
    assert AuditRecord.objects.filter(action="retention.purge").count() == 2
    assert do_purge_expired().purged == []


def test_a_purged_file_answers_410_gone_on_the_page_and_in_the_api(
    world: World, expired: WorkItem
) -> None:
    run = do_purge_expired()
    attachment = Attachment.objects.get(item=expired)
    sentence = (
        f"This file was deleted on {local_day(run.at, world.member_a)} under the engagement&#x27;s "
        "retention policy."
    )
    page = login(world.member_a).get(f"/items/{expired.pk}/attachments/{attachment.pk}/")
    assert page.status_code == 410
    assert sentence in page.content.decode()

    _, secret = do_create_api_token(world.member_a, name="retention")
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = api.get(f"/api/v1/work-items/{expired.pk}/attachments").json()
    assert listed[0]["purged_at"] is not None
    gone = api.get(listed[0]["download_url"])
    assert gone.status_code == 410
    # The API speaks UTC, like every timestamp it returns.
    assert gone.json()["detail"] == (
        f"This file was deleted on {run.at:%Y-%m-%d} under the engagement's retention policy."
    )
    assert not AuditRecord.objects.filter(action="attachment.download").exists()


def test_410_is_a_documented_answer_of_the_download_operation() -> None:
    from relaydesk.config.api import api

    schema = api.get_openapi_schema()
    download = schema["paths"]["/api/v1/work-items/{item_id}/attachments/{attachment_id}/content"]
    assert 410 in download["get"]["responses"]
    attachment_out = schema["components"]["schemas"]["AttachmentOut"]
    assert "purged_at" in attachment_out["properties"]


def test_items_inside_retention_open_or_without_retention_are_untouched(world: World) -> None:
    keep_for(world.engagement_a, 30)
    due = make_item(world, world.engagement_a, title="Due", closed_days_ago=31)
    cancelled = make_item(
        world, world.engagement_a, title="Cancelled", closed_days_ago=45, cancel=True
    )
    recent = make_item(world, world.engagement_a, title="Recent", closed_days_ago=29)
    still_open = make_item(world, world.engagement_a, title="Open", closed_days_ago=None)
    WorkItem.objects.filter(pk=still_open.pk).update(
        created_at=timezone.now() - dt.timedelta(days=400)
    )
    # An engagement without retention keeps everything, however old.
    archive = Engagement.objects.create(
        client=world.client_a,
        name="Archive",
        time_zone="America/New_York",
        allowed_countries=["PH", "US"],
        starts_on=dt.date(2026, 1, 1),
    )
    archive.services.set(Service.objects.filter(slug="data-entry"))
    forever = make_item(world, archive, title="Kept", closed_days_ago=400)
    other_client = make_item(world, world.engagement_b, title="Bravo", closed_days_ago=400)
    untouched = [recent, still_open, forever, other_client]
    before = [snapshot(item) for item in untouched]

    run = do_purge_expired()

    assert sorted(p.reference for p in run.purged) == sorted([due.reference, cancelled.reference])
    assert [snapshot(item) for item in untouched] == before
    for item in untouched:
        assert default_storage.exists(stored_name(item))
        assert item.description == DESCRIPTION
    cancelled.refresh_from_db()
    assert cancelled.state == State.CANCELLED and cancelled.description == ""


def test_a_second_run_changes_nothing(world: World, expired: WorkItem) -> None:
    do_purge_expired()
    after_first = snapshot(expired)
    records = AuditRecord.objects.filter(action="retention.purge").count()

    again = do_purge_expired()

    assert again.purged == [] and again.failed == []
    assert snapshot(expired) == after_first
    assert AuditRecord.objects.filter(action="retention.purge").count() == records
    last_run = AuditRecord.objects.filter(action="retention.purge_run").order_by("-seq").first()
    assert last_run is not None and last_run.detail["items"] == 0


def test_a_dry_run_lists_what_would_go_and_changes_nothing(world: World, expired: WorkItem) -> None:
    before = snapshot(expired)
    records = AuditRecord.objects.count()

    run = do_purge_expired(dry_run=True)
    out = io.StringIO()
    call_command("purge", "--dry-run", stdout=out)

    assert [(p.reference, p.files, p.details, p.comments, p.description) for p in run.purged] == [
        (expired.reference, 1, 1, 2, True)
    ]
    assert f"{expired.reference} Alpha Law · Claims support: 1 file(s)" in out.getvalue()
    assert "2 comment(s)" in out.getvalue()
    assert "Would delete 1 file(s)" in out.getvalue()
    assert snapshot(expired) == before
    assert AuditRecord.objects.count() == records


def test_the_command_and_the_task_purge_and_report_progress(world: World) -> None:
    keep_for(world.engagement_a, 7)
    first = make_item(world, world.engagement_a, title="One", closed_days_ago=8)
    second = make_item(world, world.engagement_a, title="Two", closed_days_ago=9)
    out = io.StringIO()

    call_command("purge", stdout=out)

    assert "[2/2] items checked" in out.getvalue()
    assert "Deleted 2 file(s)" in out.getvalue()
    for item in (first, second):
        assert Attachment.objects.get(item=item).purged_at is not None
    third = make_item(world, world.engagement_a, title="Three", closed_days_ago=10)
    assert purge_expired.call() == {
        "items": 1,
        "files": 1,
        "bytes": Attachment.objects.get(item=third).size,
        "details": 1,
        "comments": 2,
        "reports": 0,
        "deliveries": 0,
        "failed": 0,
    }
    assert not default_storage.exists(Attachment.objects.get(item=third).file.name or "x")


def test_the_worker_backend_accepts_the_purge_task(world: World) -> None:
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    result = purge_expired.enqueue()
    assert result.status == TaskResultStatus.READY
    assert DBTaskResult.objects.filter(id=result.id).exists()


def test_the_purge_task_runs_when_enqueued(world: World, settings: Any) -> None:
    # The database backend's worker (``relaydesk worker``) runs it the same way,
    # in its own process; the immediate backend runs it here and now.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    keep_for(world.engagement_a, 7)
    item = make_item(world, world.engagement_a, title="Queued purge", closed_days_ago=8)

    result = purge_expired.enqueue()

    assert result.return_value == {
        "items": 1,
        "files": 1,
        "bytes": Attachment.objects.get(item=item).size,
        "details": 1,
        "comments": 2,
        "reports": 0,
        "deliveries": 0,
        "failed": 0,
    }
    assert Attachment.objects.get(item=item).purged_at is not None


def test_retention_counts_from_closing_at_the_time_given(world: World) -> None:
    keep_for(world.engagement_a, 30)
    item = make_item(world, world.engagement_a, title="Closed today", closed_days_ago=0)
    assert do_purge_expired(now=timezone.now() + dt.timedelta(days=29)).purged == []
    assert default_storage.exists(stored_name(item))
    later = do_purge_expired(now=timezone.now() + dt.timedelta(days=31))
    assert [p.reference for p in later.purged] == [item.reference]


def test_only_a_provider_admin_or_the_system_may_purge(world: World, expired: WorkItem) -> None:
    for who in (world.lead, world.client_admin_a, world.agent):
        with pytest.raises(NotAllowed):
            do_purge_expired(who)
    assert Attachment.objects.get(item=expired).purged_at is None
    run = do_purge_expired(world.admin)
    assert AuditRecord.objects.get(action="retention.purge").actor_id == world.admin.pk
    assert len(run.purged) == 1


def test_a_file_that_cannot_be_deleted_leaves_its_item_untouched_for_the_next_run(
    world: World, expired: WorkItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(expired)
    storage = Attachment.objects.get(item=expired).file.storage

    def refuse(name: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(storage, "delete", refuse)
    run = do_purge_expired()
    assert run.purged == [] and [ref for ref, _ in run.failed] == [expired.reference]
    assert snapshot(expired) == before
    monkeypatch.undo()
    assert [p.reference for p in do_purge_expired().purged] == [expired.reference]


def test_the_back_office_lists_and_offers_an_engagements_retention(world: World) -> None:
    from relaydesk.accounts.actions import do_create_user
    from relaydesk.core.roles import Role
    from tests.conftest import PASSWORD

    staff = do_create_user(
        None,
        email="office@provider.test",
        full_name="Office",
        role=Role.PROVIDER_ADMIN,
        password=PASSWORD,
        is_staff=True,
    )
    url = f"/admin/clients/engagement/{world.engagement_a.pk}/change/"
    form = login(staff).get(url).content.decode()
    assert 'name="document_retention_days"' in form
    assert "Delete documents, comments and confidential details this many days after the" in form
    listing = login(staff).get("/admin/clients/engagement/").content.decode()
    assert "Document retention days" in listing
