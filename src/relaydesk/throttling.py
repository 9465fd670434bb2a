"""Rate limits for the API, counted in Django's cache.

- ``CallerRateThrottle``: every authenticated call, counted per personal token
  (``Authorization: Bearer rdk_…``) or, for the browser, per signed-in user;
  rate ``RELAYDESK_API_RATE`` (default ``600/m``).
- ``AnonymousRateThrottle``: calls that fail to authenticate, counted per
  client address (``REMOTE_ADDR``; forwarded headers are not trusted, as in
  ``relaydesk.web.client_ip``); rate ``RELAYDESK_API_ANON_RATE`` (default
  ``60/m``). It slows down guessing tokens.

Rates are read from the settings on every request, so a deployment (or a
test) can change them without rebuilding the API. The counters live in the
``default`` cache: with several processes that cache must be shared
(see docs/security.md).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from relaydesk.web import client_ip

__all__ = [
    "DEFAULT_ANON_RATE",
    "DEFAULT_RATE",
    "AnonymousRateThrottle",
    "CallerRateThrottle",
    "parse_rate",
]

DEFAULT_RATE = "600/m"
DEFAULT_ANON_RATE = "60/m"


_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """``"600/m"`` -> (600, 60); ``"10/5m"`` -> (10, 300)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*", text.lower())
    if match is None or match.group(3) not in _UNITS or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"A rate looks like '600/m' (per s, m, h or d), not {text!r}.")
    return int(match.group(1)), int(match.group(2) or 1) * _UNITS[match.group(3)]


class _SettingRateThrottle(BaseThrottle):
    """A sliding-window limit whose rate comes from a setting, safe to share between threads."""

    setting = ""
    default = ""
    scope = ""
    timer = staticmethod(time.time)

    def __init__(self) -> None:
        self._local = threading.local()

    def rate(self) -> tuple[int, int]:
        """(requests, seconds) from the setting, e.g. ``"600/m"`` -> (600, 60)."""
        return parse_rate(getattr(settings, self.setting, None) or self.default)

    def ident(self, request: HttpRequest) -> str | None:
        """Whom the request is counted against; ``None`` leaves it uncounted."""
        raise NotImplementedError("Each throttle says whom a request is counted against.")

    def allow_request(self, request: HttpRequest) -> bool:
        ident = self.ident(request)
        self._local.wait = None
        if ident is None:
            return True
        limit, window = self.rate()
        key = f"throttle:{self.scope}:{ident}"
        now = self.timer()
        history: list[float] = [t for t in cache.get(key, []) if t > now - window]
        if len(history) >= limit:
            self._local.wait = max(1.0, history[-1] + window - now)
            return False
        history.insert(0, now)
        cache.set(key, history[:limit], window)
        return True

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


class CallerRateThrottle(_SettingRateThrottle):
    """Authenticated calls, per personal token, else per signed-in user."""

    setting = "RELAYDESK_API_RATE"
    default = DEFAULT_RATE
    scope = "caller"

    def ident(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        if user is None:
            return None
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()
        return f"user:{user.pk}"


class AnonymousRateThrottle(_SettingRateThrottle):
    """Calls without a valid token or session, per client address."""

    setting = "RELAYDESK_API_ANON_RATE"
    default = DEFAULT_ANON_RATE
    scope = "anon"

    def ident(self, request: HttpRequest) -> str | None:
        if getattr(request, "auth", None) is not None:
            return None
        return "ip:" + (client_ip(request) or "unknown")
