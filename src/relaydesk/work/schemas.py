"""Shapes of work items and their parts in the API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema


class ErrorOut(Schema):
    """Every error answer: a sentence for a person, and field errors where input was wrong."""

    detail: str
    errors: list[dict[str, object]] | None = None


PriorityName = Literal["low", "normal", "high", "urgent"]
PRIORITY_VALUES: dict[str, int] = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
PRIORITY_NAMES = {v: k for k, v in PRIORITY_VALUES.items()}


SensitiveKindName = Literal["phi", "bank_account", "national_id", "other"]


class SensitiveIn(Schema):
    """A confidential value to store with a new item."""

    kind: SensitiveKindName
    label: str = Field(min_length=1, max_length=60)
    value: str = Field(min_length=1, max_length=500)


class WorkItemIn(Schema):
    """A new request."""

    engagement_id: int
    service: str = Field(description="Service slug, e.g. 'e-filing'.")
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    priority: PriorityName = "normal"
    jurisdiction: str = Field("", max_length=10, description="ISO 3166-2 code such as US-FL.")
    language: str = Field("en", max_length=3)
    external_ref: str = Field("", max_length=100)
    due_at: dt.datetime | None = Field(None, description="Requested due time, with an offset.")
    sensitive: list[SensitiveIn] = Field(
        default_factory=list,
        max_length=10,
        description="Confidential values (bank details, national ids, PHI); shown masked.",
    )


class SensitiveOut(Schema):
    """A confidential value, masked unless revealed."""

    id: int
    kind: SensitiveKindName
    label: str
    masked: str


class RevealedOut(SensitiveOut):
    """A confidential value in full (the reveal is audited)."""

    value: str


class PersonOut(Schema):
    """A person as shown beside an item."""

    id: int
    full_name: str


class WorkItemOut(Schema):
    """A work item as the caller may see it."""

    id: int
    reference: str
    client: str
    engagement_id: int
    service: str
    service_line: str
    title: str
    description: str
    priority: PriorityName
    jurisdiction: str
    language: str
    external_ref: str
    due_at: dt.datetime | None
    state: str
    owner: PersonOut | None
    created_at: dt.datetime
    updated_at: dt.datetime
    delivered_at: dt.datetime | None
    sensitive: list[SensitiveOut] = Field(default_factory=list)
    allowed_actions: list[str] | None = Field(
        None, description="What you may do now (only on single-item answers)."
    )


class WorkItemPage(Schema):
    """One page of a list, with the total count."""

    count: int
    items: list[WorkItemOut]


class TransitionIn(Schema):
    """A lifecycle action to take, with an optional note for the timeline.

    Assigning has its own operation (``/assignment``); queueing is done by intake.
    """

    action: Literal[
        "release",
        "start",
        "wait_on_client",
        "resume",
        "complete",
        "approve",
        "return_for_rework",
        "request_rework",
        "accept",
        "cancel",
    ]
    note: str = Field("", max_length=5000)


class AssignmentIn(Schema):
    """Whom to give the item to."""

    agent_id: int
    note: str = Field("", max_length=5000)


class EventOut(Schema):
    """One timeline entry."""

    at: dt.datetime
    kind: str
    actor: str | None
    from_state: str
    to_state: str
    note: str


class CommentIn(Schema):
    """A new comment."""

    body: str = Field(min_length=1, max_length=20000)
    visibility: Literal["client", "internal"] = "client"


class CommentOut(Schema):
    """A comment; one with ``purged_at`` lost its body under retention (``body`` is empty)."""

    id: int
    author: str
    body: str
    visibility: str
    created_at: dt.datetime
    purged_at: dt.datetime | None = None


class AttachmentOut(Schema):
    """A file on an item; download it from ``download_url``."""

    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    visibility: str
    uploaded_by: str
    created_at: dt.datetime
    download_url: str
    purged_at: dt.datetime | None = Field(
        description="When the file was deleted under retention; its download is then 410."
    )
