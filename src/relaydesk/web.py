"""Small helpers shared by pages and the API."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, as the server saw it.

    Forwarded headers are not trusted here: a proxy in front must set
    REMOTE_ADDR itself.
    """
    return request.META.get("REMOTE_ADDR") or None
