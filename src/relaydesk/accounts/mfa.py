"""Who must use two-factor sign-in, and whether this session has done it.

allauth records each way a person proved who they are in the session
(``account_authentication_methods``); a sign-in that passed the authenticator
step carries a record with method ``"mfa"``.
"""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.http import HttpRequest

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client
from relaydesk.tenancy import rowsecurity


def mfa_required(user: User) -> bool:
    """True when ``user`` may not work without an authenticator app.

    Provider staff always (unless ``RELAYDESK_REQUIRE_MFA_FOR_PROVIDER`` is off);
    a client's users when their client switched it on.
    """
    if user.is_provider_staff:
        return bool(getattr(settings, "RELAYDESK_REQUIRE_MFA_FOR_PROVIDER", True))
    if user.client_id is None:
        return False
    # Asked during sign-in too, before the request carries the person's scope.
    with rowsecurity.within(rowsecurity.scope_of(user)):
        return Client.objects.filter(pk=user.client_id, require_mfa=True).exists()


def has_totp(user: User) -> bool:
    """True when ``user`` has an authenticator app set up."""
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def missing_mfa(user: User) -> str:
    """Why ``user`` may not work until they set up an authenticator app; empty when they may.

    The one rule for the pages (:class:`~relaydesk.accounts.middleware.MfaRequiredMiddleware`)
    and API tokens alike: two-factor sign-in is required of them and they have no app.
    """
    if not mfa_required(user) or has_totp(user):
        return ""
    if user.is_client_user and user.client is not None:
        return f"{user.client} requires two-factor sign-in for its users."
    return "Relaydesk requires two-factor sign-in for provider staff."


def session_passed_mfa(request: HttpRequest, user: User) -> bool:
    """True when this session's sign-in (or a later confirmation) used an authenticator."""
    return any(
        record.get("method") == "mfa" for record in get_authentication_records(request, user)
    )


def sign_in_method(request: HttpRequest, user: User) -> str:
    """How this session's sign-in was made: ``mfa``, ``sso``, ``password`` or ``""``."""
    methods = {record.get("method") for record in get_authentication_records(request, user)}
    if "mfa" in methods:
        return "mfa"
    if "socialaccount" in methods:
        return "sso"
    if "password" in methods:
        return "password"
    return ""


def record_mfa(request: HttpRequest, user: User, authenticator: Authenticator) -> None:
    """Note in the session that ``user`` just proved they hold ``authenticator``.

    Used when a person sets up their authenticator app: they typed a valid code
    for it, which is the same proof the sign-in step asks for.
    """
    from allauth.account.internal.flows.login import record_authentication

    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
