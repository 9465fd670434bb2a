"""Writes to people and their API tokens."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from relaydesk.accounts.models import ApiToken, SignInEvent, User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Client
from relaydesk.core.permissions import Permission, can
from relaydesk.core.roles import Role
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound

TOKEN_PREFIX = "rdk_"
TOKEN_NEEDS_MFA = (
    "Set up an authenticator app (Security › Two-factor sign-in) before creating an API token."
)
TOKEN_OWNER_NEEDS_MFA = (
    "This API token works again once its owner has set up an authenticator app "
    "(Security › Two-factor sign-in)."
)


def token_digest(token: str) -> str:
    """The stored fingerprint of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def do_create_api_token(
    actor: User,
    *,
    name: str,
    expires_at: dt.datetime | None = None,
    source_ip: str | None = None,
) -> tuple[ApiToken, str]:
    """Create a personal token for ``actor``; the plain token is returned once, never stored.

    Refused while ``actor`` must use two-factor sign-in and has no authenticator app:
    a token would let them work without the second factor.
    """
    from relaydesk.accounts.mfa import missing_mfa

    why = missing_mfa(actor)
    if why:
        raise NotAllowed(f"{why} {TOKEN_NEEDS_MFA}")
    name = name.strip()
    if not name:
        raise Invalid("Give the token a name, such as the program that will use it.")
    if len(name) > 100:
        raise Invalid("A token name is limited to 100 characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("The expiry must be in the future.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor,
            name=name,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            digest=token_digest(secret),
            expires_at=expires_at,
        )
        record(
            actor=actor,
            action="api_token.create",
            obj=token,
            client=actor.client_id,
            source_ip=source_ip,
            detail={"name": name},
        )
    return token, secret


def do_revoke_api_token(actor: User, token_id: int, *, source_ip: str | None = None) -> ApiToken:
    """Revoke one of ``actor``'s own tokens."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
        if token is None:
            raise NotFound("No such token.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record(
                actor=actor,
                action="api_token.revoke",
                obj=token,
                client=actor.client_id,
                source_ip=source_ip,
                detail={"name": token.name},
            )
    return token


def authenticate_token(secret: str) -> User | None:
    """The active user a token belongs to, or ``None`` for an unknown, expired or revoked one."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(secret)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute, so busy programs don't write on every call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def do_create_user(
    actor: User | None,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str | None,
    client: Client | None = None,
    time_zone: str = "UTC",
    is_staff: bool = False,
) -> User:
    """Create a person. Provider admins create anyone; client admins their own client's users.

    ``actor`` is ``None`` only for the command line (``relaydesk createadmin``, the demo).
    """
    if actor is not None:
        if not can(actor.role_enum, Permission.MANAGE_PEOPLE):
            raise NotAllowed("Only admins can add people.")
        # The matrix lets a client's admin add people; only to their own client.
        if actor.is_client_user and (not role.is_client or client != actor.client):
            raise NotAllowed("A client admin can only add users to their own client.")
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise Invalid(f"There is already an account for {email}.")
    if role.is_client != (client is not None):
        raise Invalid("Client roles need a client; provider roles must not have one.")
    with transaction.atomic():
        user = User.objects.create_user(
            email,
            password,
            full_name=full_name,
            role=role.value,
            client=client,
            time_zone=time_zone,
            is_staff=is_staff,
            is_superuser=is_staff and role is Role.PROVIDER_ADMIN,
        )
        record(
            actor=actor,
            action="user.create",
            obj=user,
            client=client.pk if client else None,
            detail={"role": role.value},
        )
    return user


def do_record_sign_in_event(
    user: User,
    *,
    kind: str,
    method: str = "",
    source_ip: str | None = None,
    user_agent: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> SignInEvent:
    """Add one line to ``user``'s own sign-in history.

    Called by the sign-in receivers for the person themself, so there is no
    permission to check; the audit trail records the same moments on its own.
    Never give it a password or a code.
    """
    if kind not in SignInEvent.Kind.values:
        raise Invalid(f"Unknown sign-in event kind {kind!r}.")
    return SignInEvent.objects.create(
        user=user,
        at=at or timezone.now(),
        kind=kind,
        method=method if method in SignInEvent.Method.values else "",
        ip_address=source_ip or None,
        user_agent=user_agent[:300],
        note=note[:200],
    )


def do_set_client_mfa_requirement(
    actor: User, client: Client, *, required: bool, source_ip: str | None = None
) -> Client:
    """Switch on (or off) two-factor sign-in for every user of ``client``.

    A client admin decides for their own client; a provider admin for any.
    Another client is "not found" to a client admin; a client member is refused.
    """
    if actor.is_client_user and actor.client_id != client.pk:
        raise NotFound("No such client.")
    if not can(actor.role_enum, Permission.MANAGE_PEOPLE):
        raise NotAllowed(
            "Only your firm's client admin can change sign-in rules."
            if actor.is_client_user
            else "Only a client admin or a provider admin can change sign-in rules."
        )
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.require_mfa != required:
            locked.require_mfa = required
            locked.save(update_fields=["require_mfa"])
            record(
                actor=actor,
                action="client.require_mfa",
                obj=locked,
                client=locked,
                source_ip=source_ip,
                detail={"require_mfa": required},
            )
    return locked


def do_enroll_demo_totp(user: User, secret: str) -> None:
    """Give a demo person an authenticator app with a known ``secret`` (base32).

    Only for the demo, so its printed logins work where two-factor sign-in is
    required: anyone with the secret can compute the codes. Refused in production.
    """
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    if getattr(settings, "PRODUCTION", False):
        raise NotAllowed("Demo authenticators are not allowed in production.")
    try:
        base64.b32decode(secret, casefold=True)
    except ValueError as error:
        raise Invalid("The secret must be base32, like 'JBSWY3DPEHPK3PXP'.") from error
    with transaction.atomic():
        if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            raise Conflict(f"{user.email} already has an authenticator app.")
        totp = TOTP.activate(user, secret.upper()).instance
        RecoveryCodes.activate(user)
        record(
            actor=None,
            action="mfa.demo_enroll",
            obj=totp,
            client=user.client_id,
            detail={"user": user.email},
        )
