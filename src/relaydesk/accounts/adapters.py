"""allauth adjustments: invitation-only accounts, two-factor rules, per-client single sign-on."""

from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import render

from relaydesk.accounts import sso
from relaydesk.accounts.mfa import mfa_required
from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.core.roles import Role
from relaydesk.tenancy import rowsecurity
from relaydesk.web import client_ip


class InvitationOnlyAccountAdapter(DefaultAccountAdapter):
    """Closes public sign-up; accounts are created by admins."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """A sign-in moments ago counts as a fresh confirmation of who you are.

        So a person sent to set up their authenticator right after signing in is
        not asked for their password a second time.
        """
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = getattr(context, "request", None)
        user = getattr(request, "user", None)
        if request is None or user is None or not user.is_authenticated:
            return True
        records = get_authentication_records(request, user)
        if not records:
            return True
        latest = max(float(record.get("at", 0)) for record in records)
        return time.time() - latest >= account_settings.REAUTHENTICATION_TIMEOUT


class RelaydeskMFAAdapter(DefaultMFAAdapter):
    """Keeps the authenticator app of anyone who is required to have one."""

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        user = authenticator.user
        if (
            authenticator.type == Authenticator.Type.TOTP
            and isinstance(user, User)
            and mfa_required(user)
        ):
            return False
        return super().can_delete_authenticator(authenticator)


def _identity(sociallogin: SocialLogin) -> tuple[str, bool]:
    """The address the IdP gave, and whether it vouched for it."""
    for address in sociallogin.email_addresses:
        if address.primary or len(sociallogin.email_addresses) == 1:
            return address.email, bool(address.verified)
    email = getattr(sociallogin.user, "email", "") or ""
    return email, False


def _decision(sociallogin: SocialLogin) -> sso.SSODecision:
    email, verified = _identity(sociallogin)
    linked = sociallogin.user if sociallogin.is_existing else None
    # Nobody is signed in yet: finding which client owns the IdP crosses clients.
    with rowsecurity.within(rowsecurity.PROVIDER):
        return sso.decide(
            getattr(sociallogin.provider, "app", None),
            email=email,
            email_verified=verified,
            linked_user=linked if isinstance(linked, User) else None,
        )


def _refused(request: HttpRequest, reason: str) -> ImmediateHttpResponse:
    return ImmediateHttpResponse(
        render(request, "account/sso_refused.html", {"reason": reason}, status=403)
    )


class ClientSSOAdapter(DefaultSocialAccountAdapter):
    """Single sign-on that only ever reaches the users of the client who owns the IdP."""

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if sociallogin.state.get("process") == "connect":
            raise _refused(
                request,
                "Accounts are linked to your firm's sign-in service "
                "when you first sign in through it.",
            )
        decision = _decision(sociallogin)
        if decision.outcome == "refuse":
            raise _refused(request, decision.reason)
        if decision.outcome == "link":
            assert decision.user is not None
            sociallogin.connect(request, decision.user)

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return _decision(sociallogin).outcome == "signup"

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def populate_user(
        self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]
    ) -> Any:
        user = super().populate_user(request, sociallogin, data)
        name = " ".join(
            part for part in (data.get("first_name"), data.get("last_name")) if part
        ) or (data.get("name") or "")
        user.full_name = (name or user.email.partition("@")[0])[:150]
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        decision = _decision(sociallogin)
        if decision.outcome != "signup" or decision.mapping is None:
            raise _refused(request, decision.reason or "This account cannot be created here.")
        client = decision.mapping.client
        user = sociallogin.user
        assert isinstance(user, User)
        user.email = user.email.strip().lower()
        user.role = Role.CLIENT_MEMBER.value
        user.client = client
        user.time_zone = user.time_zone or "UTC"
        with transaction.atomic():
            saved = super().save_user(request, sociallogin, form)
            record(
                actor=None,
                action="user.create",
                obj=saved,
                client=client,
                source_ip=client_ip(request),
                detail={"role": Role.CLIENT_MEMBER.value, "via": "sso"},
            )
        return saved
