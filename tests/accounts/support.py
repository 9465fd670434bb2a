"""Test helpers: sessions that passed two-factor sign-in, and authenticator codes."""

from __future__ import annotations

import time

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.http import HttpRequest
from django.test import Client as HttpClient

from relaydesk.accounts.models import User


def mark_session_mfa_verified(client: HttpClient, user: User) -> None:
    """Record in the test client's session that ``user`` passed the authenticator step.

    Uses allauth's own record, the one its sign-in writes after a valid code.
    """
    request = HttpRequest()
    request.session = client.session
    record_authentication(request, user, "mfa", type="totp")
    request.session.save()


def totp_code(secret: str, *, at: float | None = None) -> str:
    """The code an authenticator app shows for ``secret`` now (or at ``at``).

    Now, a code about to expire is not used: like a person, the test waits the second or
    two for the next one, so a slow machine never posts a code the server sees expired.
    """
    period = int(getattr(settings, "MFA_TOTP_PERIOD", 30))
    if at is None:
        left = period - time.time() % period
        if left < 3:
            time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int((at or time.time()) // period)))
