"""allauth adjustments: people are invited by an admin, never self-registered."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class InvitationOnlyAccountAdapter(DefaultAccountAdapter):
    """Closes public sign-up; accounts are created by admins."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
