"""The work-item API: intake, lists, lifecycle, assignment, comments and attachments."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, File, Form, Header, Query, Router, Schema, Status
from ninja.files import UploadedFile

from relaydesk.accounts.models import User
from relaydesk.core.lifecycle import Action
from relaydesk.errors import Invalid, NotFound
from relaydesk.web import client_ip
from relaydesk.work import actions, queries
from relaydesk.work.downloads import attachment_response
from relaydesk.work.models import Attachment, WorkItem
from relaydesk.work.schemas import (
    PRIORITY_NAMES,
    PRIORITY_VALUES,
    AssignmentIn,
    AttachmentOut,
    CommentIn,
    CommentOut,
    ErrorOut,
    EventOut,
    PersonOut,
    RevealedOut,
    SensitiveOut,
    TransitionIn,
    WorkItemIn,
    WorkItemOut,
    WorkItemPage,
)
from relaydesk.workforce.models import Agent

router = Router(tags=["work items"])

ERRORS = {
    400: ErrorOut,  # a body that is not JSON
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def _item(request: HttpRequest, item_id: int) -> WorkItem:
    item = queries.get_visible_item(_user(request), item_id)
    if item is None:
        raise NotFound(f"No work item {item_id}.")
    return item


def item_out(user: User, item: WorkItem, *, with_actions: bool = True) -> WorkItemOut:
    """The API shape of ``item`` for ``user`` (lists leave out the allowed actions)."""
    return WorkItemOut(
        id=item.pk,
        reference=item.reference,
        client=item.client.name,
        engagement_id=item.engagement_id,
        service=item.service.slug,
        service_line=item.service.line.code,
        title=item.title,
        description=item.description,
        priority=PRIORITY_NAMES[item.priority],  # type: ignore[arg-type]
        jurisdiction=item.jurisdiction,
        language=item.language,
        external_ref=item.external_ref,
        due_at=item.due_at,
        state=item.state,
        owner=PersonOut(id=item.owner.pk, full_name=item.owner.full_name) if item.owner else None,
        created_at=item.created_at,
        updated_at=item.updated_at,
        delivered_at=item.delivered_at,
        sensitive=[
            SensitiveOut(id=d.pk, kind=d.kind, label=d.label, masked=d.masked)  # type: ignore[arg-type]
            for d in item.sensitive_details.all()
        ],
        allowed_actions=(
            [a.value for a in actions.actions_for(user, item)] if with_actions else None
        ),
    )


class ItemFilters(Schema):
    """Filters for the item list."""

    state: str = ""
    service: str = ""
    client: str = ""
    owner: str = ""
    search: str = ""
    limit: int = Field(50, ge=1, le=500)
    # Bounded: a larger offset overflows the database's integer (a 500, not an empty page).
    offset: int = Field(0, ge=0, le=1_000_000_000)


@router.get("/work-items", response={200: WorkItemPage, **ERRORS}, summary="List work items")
def list_work_items(request: HttpRequest, filters: Query[ItemFilters]) -> WorkItemPage:
    """Items you may see, newest first. ``state=open`` lists everything not yet closed."""
    user = _user(request)
    wanted = filters.dict(exclude={"limit", "offset"})
    items = queries.filter_items(queries.visible_work_items(user), **wanted)
    page = items[filters.offset : filters.offset + filters.limit]
    return WorkItemPage(
        count=items.count(),
        items=[item_out(user, item, with_actions=False) for item in page],
    )


@router.post(
    "/work-items",
    response={200: WorkItemOut, 201: WorkItemOut, **ERRORS},
    summary="Submit a work item",
)
def submit_work_item(
    request: HttpRequest,
    response: HttpResponse,
    payload: WorkItemIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description="Repeat a request safely: the same key returns the same item (200).",
        max_length=200,
    ),
) -> Status[WorkItemOut]:
    """Submit a request. With an ``Idempotency-Key`` a retry never makes a duplicate."""
    user = _user(request)
    item, created = actions.do_submit_work_item(
        user,
        actions.NewWorkItem(
            engagement_id=payload.engagement_id,
            service_slug=payload.service,
            title=payload.title,
            description=payload.description,
            priority=PRIORITY_VALUES[payload.priority],
            jurisdiction=payload.jurisdiction,
            language=payload.language,
            external_ref=payload.external_ref,
            due_at=payload.due_at,
            sensitive=tuple((d.kind, d.label, d.value) for d in payload.sensitive),
        ),
        idempotency_key=idempotency_key,
        source_ip=client_ip(request),
    )
    if not created:
        response["Idempotent-Replayed"] = "true"
    return Status(201 if created else 200, item_out(user, _item(request, item.pk)))


@router.get(
    "/work-items/{item_id}", response={200: WorkItemOut, **ERRORS}, summary="Get a work item"
)
def get_work_item(request: HttpRequest, item_id: int) -> WorkItemOut:
    """One item, with the actions you may take on it now."""
    return item_out(_user(request), _item(request, item_id))


@router.post(
    "/work-items/{item_id}/transitions",
    response={200: WorkItemOut, **ERRORS},
    summary="Move a work item through its lifecycle",
)
def transition_work_item(request: HttpRequest, item_id: int, payload: TransitionIn) -> WorkItemOut:
    """Take a lifecycle action (start, complete, approve, accept, …). 409 when the item's
    state does not admit it, 403 when your role or relation to the item does not."""
    user = _user(request)
    item = actions.do_transition(
        user,
        _item(request, item_id),
        Action(payload.action),
        note=payload.note,
        source_ip=client_ip(request),
    )
    return item_out(user, item)


@router.post(
    "/work-items/{item_id}/assignment",
    response={200: WorkItemOut, **ERRORS},
    summary="Assign a work item to an agent",
)
def assign_work_item(request: HttpRequest, item_id: int, payload: AssignmentIn) -> WorkItemOut:
    """An operations lead assigns or reassigns; an agent names themself to take a queued item."""
    user = _user(request)
    item = _item(request, item_id)
    agent = Agent.objects.select_related("user", "site").filter(pk=payload.agent_id).first()
    if agent is None or user.is_client_user:
        raise NotFound(f"No agent {payload.agent_id}.")
    item = actions.do_assign(user, item, agent, note=payload.note, source_ip=client_ip(request))
    return item_out(user, item)


@router.get(
    "/work-items/{item_id}/events",
    response={200: list[EventOut], **ERRORS},
    summary="Timeline of a work item",
)
def list_events(request: HttpRequest, item_id: int) -> list[EventOut]:
    """What happened to the item, oldest first."""
    user = _user(request)
    return [
        EventOut(
            at=e.at,
            kind=e.kind,
            actor=e.actor.full_name if e.actor else None,
            from_state=e.from_state,
            to_state=e.to_state,
            note=e.note,
        )
        for e in queries.visible_events(user, _item(request, item_id))
    ]


def _comment_out(comment: object) -> CommentOut:
    from relaydesk.work.models import Comment

    assert isinstance(comment, Comment)
    return CommentOut(
        id=comment.pk,
        author=comment.author.full_name,
        body=comment.body,
        visibility=comment.visibility,
        created_at=comment.created_at,
        purged_at=comment.purged_at,
    )


@router.get(
    "/work-items/{item_id}/comments",
    response={200: list[CommentOut], **ERRORS},
    summary="Comments on a work item",
)
def list_comments(request: HttpRequest, item_id: int) -> list[CommentOut]:
    """Comments you may read, oldest first."""
    user = _user(request)
    return [_comment_out(c) for c in queries.visible_comments(user, _item(request, item_id))]


@router.post(
    "/work-items/{item_id}/comments",
    response={201: CommentOut, **ERRORS},
    summary="Comment on a work item",
)
def add_comment(request: HttpRequest, item_id: int, payload: CommentIn) -> Status[CommentOut]:
    """Post a comment. A client's reply to an item waiting on them resumes the work."""
    comment = actions.do_add_comment(
        _user(request),
        _item(request, item_id),
        payload.body,
        visibility=payload.visibility,
        source_ip=client_ip(request),
    )
    return Status(201, _comment_out(comment))


def _attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.pk,
        name=attachment.original_name,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        visibility=attachment.visibility,
        uploaded_by=attachment.uploaded_by.full_name,
        created_at=attachment.created_at,
        download_url=reverse(
            "api-v1:download_attachment",
            kwargs={"item_id": attachment.item_id, "attachment_id": attachment.pk},
        ),
        purged_at=attachment.purged_at,
    )


@router.get(
    "/work-items/{item_id}/attachments",
    response={200: list[AttachmentOut], **ERRORS},
    summary="Files on a work item",
)
def list_attachments(request: HttpRequest, item_id: int) -> list[AttachmentOut]:
    """Files you may see on the item."""
    user = _user(request)
    return [_attachment_out(a) for a in queries.visible_attachments(user, _item(request, item_id))]


@router.post(
    "/work-items/{item_id}/attachments",
    response={201: AttachmentOut, **ERRORS},
    summary="Attach a file to a work item",
)
def add_attachment(
    request: HttpRequest,
    item_id: int,
    file: File[UploadedFile],
    visibility: Form[str] = "client",
) -> Status[AttachmentOut]:
    """Upload a file (multipart form field ``file``)."""
    attachment = actions.do_add_attachment(
        _user(request),
        _item(request, item_id),
        file,
        visibility=visibility,
        source_ip=client_ip(request),
    )
    return Status(201, _attachment_out(attachment))


@router.get(
    "/work-items/{item_id}/attachments/{attachment_id}/content",
    response={200: None, 410: ErrorOut, **ERRORS},
    url_name="download_attachment",
    summary="Download a file",
)
def download_attachment(request: HttpRequest, item_id: int, attachment_id: int) -> FileResponse:
    """The file's bytes, as an attachment download. Every download is audited.

    A file deleted under the engagement's retention answers 410 Gone.
    """
    user = _user(request)
    attachment = (
        queries.visible_attachments(user, _item(request, item_id)).filter(pk=attachment_id).first()
    )
    if attachment is None:
        raise NotFound(f"No attachment {attachment_id} on this item.")
    if attachment.size < 0:  # pragma: no cover - guarded by the model
        raise Invalid("Corrupt attachment.")
    return attachment_response(user, attachment, client_ip(request))


@router.post(
    "/work-items/{item_id}/sensitive/reveal",
    response={200: list[RevealedOut], **ERRORS},
    summary="Reveal an item's confidential values",
)
def reveal_sensitive(request: HttpRequest, item_id: int) -> list[RevealedOut]:
    """The confidential values in full. Every call is written to the audit trail."""
    details = actions.do_reveal_sensitive(
        _user(request), _item(request, item_id), source_ip=client_ip(request)
    )
    return [
        RevealedOut(id=d.pk, kind=d.kind, label=d.label, masked=d.masked, value=d.value)  # type: ignore[arg-type]
        for d in details
    ]
