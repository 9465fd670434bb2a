"""Lockout after repeated failed sign-ins (django-axes), fitted to allauth's e-mail sign-in."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    """Refuses any password while the e-mail address and network address are locked out.

    Checks only attempts made over HTTP: a call to ``authenticate()`` without a
    request (the shell, a management command, a test's ``Client.login``) has no
    address to count against, so it is left to the next backend.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username=username, password=password, **kwargs)
        return None


def attempted_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The address a sign-in attempt was for, lower-cased.

    allauth passes ``email=`` to ``authenticate()``; its form posts the field ``login``.
    """
    for source in (credentials or {}, getattr(request, "POST", {}) or {}):
        for key in ("email", "login", "username"):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return ""
