"""Per-request rules for signed-in people: time zone, session timeouts, two-factor sign-in."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone

from relaydesk.accounts.models import User

SIGNED_IN_AT = "relaydesk.signed_in_at"
LAST_SEEN = "relaydesk.last_seen"
# Touch the last-seen time at most this often, so most requests write no session.
TOUCH_EVERY_SECONDS = 60


class UserTimeZoneMiddleware:
    """Activate the user's time zone for the request; storage stays in UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


def _signed_in_user(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_authenticated:
        return user
    return None


def _is_static(path: str) -> bool:
    return path.startswith(settings.STATIC_URL) or path == "/healthz"


def _leave(request: HttpRequest, to: str, message: str, *, api_status: int) -> HttpResponse:
    """Send the person to ``to`` with ``message``; JSON for the API, a client redirect for htmx."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=api_status)
    messages.info(request, message)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = to
        return response
    return HttpResponseRedirect(to)


class SessionTimeoutMiddleware:
    """Sign out after ``RELAYDESK_SESSION_IDLE_MINUTES`` without a request, and
    ``RELAYDESK_SESSION_MAX_HOURS`` after sign-in, whatever the activity.

    The sign-in time is set when the person signs in (``accounts.receivers``);
    the last-seen time is touched at most once a minute.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = _signed_in_user(request)
        if user is None or _is_static(request.path):
            return self.get_response(request)
        now = time.time()
        session = request.session
        signed_in_at = float(session.get(SIGNED_IN_AT) or now)
        last_seen = float(session.get(LAST_SEEN) or signed_in_at)
        idle_minutes = settings.RELAYDESK_SESSION_IDLE_MINUTES
        max_hours = settings.RELAYDESK_SESSION_MAX_HOURS
        reason = ""
        if now - last_seen > idle_minutes * 60:
            reason = f"You were signed out after {idle_minutes} minutes without activity."
        elif now - signed_in_at > max_hours * 3600:
            reason = f"You were signed out because you signed in more than {max_hours} hours ago."
        if reason:
            from relaydesk.accounts.receivers import note_timeout

            note_timeout(request, user, reason)
            logout(request)
            return _leave(request, reverse("account_login"), reason, api_status=401)
        if SIGNED_IN_AT not in session:
            session[SIGNED_IN_AT] = now
        if now - last_seen >= TOUCH_EVERY_SECONDS or LAST_SEEN not in session:
            session[LAST_SEEN] = now
        return self.get_response(request)


class MfaRequiredMiddleware:
    """Hold people to two-factor sign-in.

    - Anyone with an authenticator app must have used it in this session's
      sign-in; a session that skipped it (another sign-in path) is signed out.
    - Provider staff (``RELAYDESK_REQUIRE_MFA_FOR_PROVIDER``) and the users of a
      client that requires it are sent to set up an authenticator app, and may
      open only that page, re-authentication and sign-out until they do.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = _signed_in_user(request)
        if user is None or _is_static(request.path):
            return self.get_response(request)
        from relaydesk.accounts.mfa import has_totp, missing_mfa, session_passed_mfa

        if session_passed_mfa(request, user):
            return self.get_response(request)
        logout_url = reverse("account_logout")
        if request.path == logout_url:
            return self.get_response(request)
        if has_totp(user):
            logout(request)
            return _leave(
                request,
                reverse("account_login"),
                "Sign in again and enter the code from your authenticator app.",
                api_status=401,
            )
        why = missing_mfa(user)
        if not why:
            return self.get_response(request)
        setup_url = reverse("mfa_activate_totp")
        allowed = {setup_url, reverse("mfa_index"), reverse("account_reauthenticate")}
        if request.path in allowed:
            return self.get_response(request)
        return _leave(
            request,
            setup_url,
            f"{why} Set up an authenticator app to continue.",
            api_status=403,
        )
