"""Shapes of notifications and notification settings in the API."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from relaydesk.notifications.kinds import DIGEST_HOUR, Email, Kind

_EMAIL_HELP = (
    "How it is e-mailed: `now` (right away), `digest` (in the daily digest, at about "
    f"{DIGEST_HOUR:02d}:00 in your time zone) or `off`."
)


class NotificationOut(Schema):
    """One of your notifications. About an item you can no longer open (handed to another
    agent, reviewed by someone else) it keeps only the item's number: ``title``, ``body``
    and ``url`` are then null."""

    id: int
    kind: Kind
    kind_label: str = Field(description='The kind as a tag: "Delivered", "SLA warning".')
    item_id: int
    item_reference: str = Field(description="The item's number, e.g. RD-1042.")
    openable: bool = Field(description="Whether you may still open its item.")
    title: str | None
    body: str | None
    url: str | None = Field(description="Where it leads: a path on this site.")
    created_at: dt.datetime
    read_at: dt.datetime | None
    email: Email = Field(description=_EMAIL_HELP)
    emailed_at: dt.datetime | None = Field(
        description="When it was e-mailed, alone or in a digest."
    )


class NotificationPage(Schema):
    """One page of your notifications, with how many match and how many are unread."""

    count: int
    unread: int
    items: list[NotificationOut]


class UnreadCountOut(Schema):
    """How many of your notifications are unread (the bell's count)."""

    unread: int


class MarkedReadOut(Schema):
    """How many notifications were marked read just now."""

    marked: int


class PreferenceOut(Schema):
    """How you are told of one kind: in Relaydesk or not, and how by e-mail."""

    kind: Kind
    label: str
    help: str
    in_app: bool = Field(description="Shown in the list and counted by the bell.")
    email: Email = Field(description=_EMAIL_HELP)


class PreferencesOut(Schema):
    """Your setting for every kind offered to your role (a provider admin is offered none)."""

    digest_hour: int = Field(description="The local hour the daily digest goes out.")
    preferences: list[PreferenceOut]


class PreferenceIn(Schema):
    """The setting for one kind. Off both in Relaydesk and by e-mail, it is not kept at all."""

    kind: Kind
    in_app: bool
    email: Email = Field(description=_EMAIL_HELP)


class PreferencesIn(Schema):
    """The kinds to change, each at most once; kinds left out keep their setting."""

    preferences: list[PreferenceIn] = Field(max_length=len(Kind))
