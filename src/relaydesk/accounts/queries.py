"""Reads of account data that depend on who asks."""

from __future__ import annotations

from django.db.models import QuerySet

from relaydesk.accounts.models import SignInEvent, User


def visible_sign_in_events(actor: User) -> QuerySet[SignInEvent]:
    """The actor's own sign-ins, failed attempts, lockouts and timeouts, newest first."""
    return SignInEvent.objects.filter(user=actor).order_by("-at", "-pk")
