"""Sign-in moments turned into each person's own history, and session bookkeeping at sign-in."""

from __future__ import annotations

import time
from typing import Any

from allauth.core import context
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from relaydesk.accounts.actions import do_record_sign_in_event
from relaydesk.accounts.backends import attempted_username
from relaydesk.accounts.mfa import record_mfa, sign_in_method
from relaydesk.accounts.middleware import LAST_SEEN, SIGNED_IN_AT
from relaydesk.accounts.models import SignInEvent, User
from relaydesk.tenancy import rowsecurity
from relaydesk.tenancy.middleware import ROW_SECURITY_ACTIVE
from relaydesk.web import client_ip


def _where(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {"source_ip": None, "user_agent": ""}
    return {
        "source_ip": client_ip(request),
        "user_agent": str(request.META.get("HTTP_USER_AGENT", "")),
    }


def _user_for(address: str) -> User | None:
    if not address:
        return None
    return User.objects.filter(email__iexact=address).first()


@receiver(user_logged_in, dispatch_uid="relaydesk.accounts.signed_in")
def signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Start the session clocks and add the sign-in to the person's history."""
    if not isinstance(user, User):
        return
    if request is not None and getattr(request, ROW_SECURITY_ACTIVE, False):
        # The rest of this request is theirs (it began anonymous).
        rowsecurity.enter(rowsecurity.scope_of(user))
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN] = now
    method = sign_in_method(request, user) if request is not None else ""
    do_record_sign_in_event(user, kind=SignInEvent.Kind.SIGNED_IN, method=method, **_where(request))


@receiver(user_login_failed, dispatch_uid="relaydesk.accounts.sign_in_failed")
def sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A wrong password (or an attempt during a lockout) for a known address."""
    user = _user_for(attempted_username(request, credentials))
    if user is None:
        return
    locked = bool(getattr(request, "axes_locked_out", False))
    do_record_sign_in_event(
        user,
        kind=SignInEvent.Kind.FAILED,
        method=SignInEvent.Method.PASSWORD,
        note="Refused: the account was locked out." if locked else "Wrong password.",
        **_where(request),
    )


@receiver(user_locked_out, dispatch_uid="relaydesk.accounts.locked_out")
def locked_out(
    sender: Any, request: HttpRequest | None = None, username: str = "", **kwargs: Any
) -> None:
    """Too many wrong passwords: the address is locked out for the cool-off."""
    user = _user_for(username or "")
    if user is None:
        return
    do_record_sign_in_event(
        user,
        kind=SignInEvent.Kind.LOCKED_OUT,
        method=SignInEvent.Method.PASSWORD,
        note="Too many wrong passwords.",
        **_where(request),
    )


@receiver(mfa_signals.authentication_failed, dispatch_uid="relaydesk.accounts.mfa_failed")
def code_failed(
    sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any
) -> None:
    """A wrong authenticator or recovery code."""
    if isinstance(user, User):
        do_record_sign_in_event(
            user,
            kind=SignInEvent.Kind.FAILED,
            method=SignInEvent.Method.MFA,
            note="Wrong authenticator code.",
            **_where(request),
        )


@receiver(post_save, sender=Authenticator, dispatch_uid="relaydesk.accounts.totp_added")
def authenticator_added(sender: Any, instance: Authenticator, created: bool, **kwargs: Any) -> None:
    """Setting up an authenticator app takes a valid code: the session has now passed it.

    Only when the person sets it up themself, on the set-up page (allauth's
    request context); an authenticator made elsewhere proves nothing.
    """
    request = context.request
    if (
        created
        and instance.type == Authenticator.Type.TOTP
        and request is not None
        and hasattr(request, "session")
        and isinstance(getattr(request, "user", None), User)
        and request.user.pk == instance.user_id
    ):
        record_mfa(request, request.user, instance)


def note_timeout(request: HttpRequest, user: User, reason: str) -> None:
    """Add a timeout sign-out to the person's history."""
    do_record_sign_in_event(user, kind=SignInEvent.Kind.TIMED_OUT, note=reason, **_where(request))
