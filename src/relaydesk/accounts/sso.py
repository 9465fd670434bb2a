"""Single sign-on decisions: which Relaydesk account an identity from a client's IdP may reach.

An OpenID Connect app belongs to exactly one client (``ClientSSO``). Signing in
through it reaches only that client's own users at the client's e-mail domains:
never provider staff, never another client's users. An unknown address gets an
account (client member) only when the client's admin allowed sign-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from allauth.socialaccount.models import SocialApp

from relaydesk.accounts.models import ClientSSO, User

Outcome = Literal["login", "link", "signup", "refuse"]


@dataclass(frozen=True)
class SSODecision:
    """What to do with one identity: sign in, link an account, create one, or refuse."""

    outcome: Outcome
    reason: str = ""
    mapping: ClientSSO | None = None
    user: User | None = None


def _refuse(reason: str, mapping: ClientSSO | None = None) -> SSODecision:
    return SSODecision("refuse", reason, mapping)


def decide(
    app: SocialApp | None,
    *,
    email: str,
    email_verified: bool,
    linked_user: User | None,
) -> SSODecision:
    """Decide for an identity that ``app`` vouched for.

    ``linked_user`` is the account this identity was linked to before, if any;
    ``email`` and ``email_verified`` are what the IdP said about the address.
    """
    mapping = (
        ClientSSO.objects.select_related("client").filter(app=app).first()
        if app is not None and app.pk
        else None
    )
    if mapping is None:
        return _refuse("This sign-in service is not set up for any client of Relaydesk.")
    client = mapping.client
    if linked_user is not None:
        if (
            linked_user.is_client_user
            and linked_user.client_id == client.pk
            and mapping.covers(linked_user.email)
        ):
            return SSODecision("login", mapping=mapping, user=linked_user)
        return _refuse(
            f"{client}'s sign-in service cannot sign in this account. "
            "Sign in with your e-mail address and password.",
            mapping,
        )
    email = email.strip().lower()
    if not email or not mapping.covers(email):
        domains = ", ".join(mapping.domains) or "no domain yet"
        return _refuse(
            f"{client} signs in here with addresses at {domains}; "
            f"{email or 'no address'} is not one of them.",
            mapping,
        )
    if not email_verified:
        return _refuse(
            f"{client}'s sign-in service did not confirm the address {email}. "
            "Ask your administrator to check the service's settings.",
            mapping,
        )
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if existing.is_client_user and existing.client_id == client.pk:
            return SSODecision("link", mapping=mapping, user=existing)
        return _refuse(
            f"{client}'s sign-in service cannot sign in the account for {email}. "
            "Sign in with your e-mail address and password.",
            mapping,
        )
    if not mapping.allow_signup:
        return _refuse(
            f"There is no Relaydesk account for {email}. Ask your firm's client admin to add you.",
            mapping,
        )
    return SSODecision("signup", mapping=mapping)
