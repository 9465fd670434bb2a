"""Shapes of webhook endpoints and deliveries in the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import Field, Schema

EventTypeName = Literal[
    "work_item.submitted",
    "work_item.delivered",
    "work_item.accepted",
    "work_item.rework_requested",
    "work_item.cancelled",
    "work_item.state_changed",
    "comment.created",
]
DeliveryStateName = Literal["pending", "succeeded", "failed", "given_up"]

_URL_HELP = (
    "An https:// URL (http://127.0.0.1 and http://localhost are accepted for testing); "
    "no user name or password in it."
)


class EndpointIn(Schema):
    """A new endpoint for one of your engagements."""

    engagement_id: int
    url: str = Field(max_length=2000, description=_URL_HELP)
    event_types: list[EventTypeName] = Field(description="The events to send; at least one.")
    description: str = Field("", max_length=200)
    active: bool = True


class EndpointPatch(Schema):
    """The fields to change; those left out stay as they are."""

    url: str | None = Field(None, max_length=2000, description=_URL_HELP)
    event_types: list[EventTypeName] | None = None
    description: str | None = Field(None, max_length=200)
    active: bool | None = Field(None, description="false disables it: nothing more is sent.")


class EndpointOut(Schema):
    """An endpoint; its secret shows only as its last four characters."""

    id: int
    engagement_id: int
    url: str
    description: str
    event_types: list[str]
    active: bool
    secret_hint: str = Field(description="The last four characters of the signing secret.")
    previous_secret_expires_at: dt.datetime | None = Field(
        description="Until when the secret before the last roll also signs, if it does."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class EndpointCreatedOut(EndpointOut):
    """A new endpoint with its signing secret, given this once."""

    secret: str = Field(description="The signing secret (whsec_…); it is not shown again.")


class RollSecretIn(Schema):
    """How long the old secret keeps signing beside the new one."""

    keep_previous_hours: int = Field(24, ge=0, le=168, description="0 retires it at once.")


class SecretOut(Schema):
    """A new signing secret, given this once."""

    secret: str
    previous_secret_expires_at: dt.datetime | None


class DeliveryOut(Schema):
    """One event sent (or to be sent) to an endpoint, and how its last attempt went."""

    id: int
    event_id: uuid.UUID
    event_type: str
    state: DeliveryStateName
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    last_response_ms: int | None
    created_at: dt.datetime
    payload: dict[str, Any] = Field(description="The event exactly as the endpoint receives it.")


class DeliveryPage(Schema):
    """One page of an endpoint's deliveries, newest first, with the total count."""

    count: int
    items: list[DeliveryOut]
