"""Pages for a person's own account: API tokens, sign-in history; a client's sign-in rules."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from relaydesk.accounts.actions import (
    do_create_api_token,
    do_revoke_api_token,
    do_set_client_mfa_requirement,
)
from relaydesk.accounts.models import User
from relaydesk.accounts.queries import visible_sign_in_events
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.core.roles import CLIENT_ROLES
from relaydesk.errors import ActionRefused, NotFound
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip

SIGN_IN_HISTORY_LENGTH = 50


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """List, create and revoke one's personal API tokens; a new token is shown once."""
    user = request.user
    assert isinstance(user, User)
    new_secret = None
    error = None
    status = 200
    if request.method == "POST":
        try:
            _, new_secret = do_create_api_token(
                user, name=request.POST.get("name", ""), source_ip=client_ip(request)
            )
        except ActionRefused as refusal:
            error, status = refusal.message, refusal.status
    return render(
        request,
        "accounts/tokens.html",
        {"tokens": user.api_tokens.all(), "new_secret": new_secret, "error": error},
        status=status,
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of one's own tokens."""
    user = request.user
    assert isinstance(user, User)
    try:
        token = do_revoke_api_token(user, token_id, source_ip=client_ip(request))
    except NotFound as refusal:
        raise Http404(refusal.message) from refusal
    messages.success(request, f"Token '{token.name}' revoked.")
    return redirect("accounts:tokens")


# Checked in order: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("python-requests", "Python program"),
    ("python-httpx", "Python program"),
    ("curl/", "curl"),
]
_SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def browser_summary(user_agent: str) -> str:
    """A browser's self-description as a person reads it: "Chrome on Windows"."""
    if not user_agent:
        return ""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if not browser and not system:
        return user_agent[:60]
    text = f"{browser or 'Unknown browser'} on {system}" if system else browser
    return f"{text} (automated)" if "Headless" in user_agent else text


@login_required
def sign_ins(request: HttpRequest) -> HttpResponse:
    """One's own recent sign-ins and failed attempts, in one's own time zone."""
    user = request.user
    assert isinstance(user, User)
    events = list(visible_sign_in_events(user)[:SIGN_IN_HISTORY_LENGTH])
    rows = [(event, browser_summary(event.user_agent)) for event in events]
    return render(
        request, "accounts/sign_ins.html", {"rows": rows, "limit": SIGN_IN_HISTORY_LENGTH}
    )


# The page shows the signed-in person's own client, so it is for the client side of the
# permission only.
@roles_required(*roles_with(Permission.MANAGE_PEOPLE) & CLIENT_ROLES)
def client_security(request: HttpRequest) -> HttpResponse:
    """A client admin decides whether their client's users must use two-factor sign-in."""
    user = request.user
    assert isinstance(user, User) and user.client is not None
    client = user.client
    status = 200
    error = None
    if request.method == "POST":
        try:
            client = do_set_client_mfa_requirement(
                user,
                client,
                required=request.POST.get("require_mfa") == "on",
                source_ip=client_ip(request),
            )
        except ActionRefused as refusal:
            error, status = refusal.message, refusal.status
        else:
            messages.success(
                request,
                f"Two-factor sign-in is now required for {client}'s users."
                if client.require_mfa
                else f"Two-factor sign-in is now optional for {client}'s users.",
            )
            return redirect("accounts:client_security")
    users = client.users.filter(is_active=True).order_by("full_name")
    from allauth.mfa.models import Authenticator

    enrolled = set(
        Authenticator.objects.filter(user__in=users, type=Authenticator.Type.TOTP).values_list(
            "user_id", flat=True
        )
    )
    return render(
        request,
        "accounts/client_security.html",
        {
            "client": client,
            "people": [(person, person.pk in enrolled) for person in users],
            "enrolled_count": sum(1 for person in users if person.pk in enrolled),
            "error": error,
        },
        status=status,
    )


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The page shown instead of signing in while an address is locked out (django-axes)."""
    cool_off = get_cool_off(request)
    until = timezone.localtime(timezone.now() + cool_off) if cool_off else None
    return render(
        request,
        "account/lockout.html",
        {"until": until, "minutes": int(cool_off.total_seconds() // 60) if cool_off else None},
        status=429,
    )
