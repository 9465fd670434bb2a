"""Small helpers shared by pages and the API."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponseBase

# A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, as the server saw it.

    Forwarded headers are not trusted here: a proxy in front must set
    REMOTE_ADDR itself.
    """
    return request.META.get("REMOTE_ADDR") or None


# The address of the request being served, for records written far from the view
# (the back office's log entries reach the audit trail through a signal).
_request_ip: ContextVar[str | None] = ContextVar("relaydesk_request_ip", default=None)


def current_request_ip() -> str | None:
    """The address of the request this code runs for, or ``None`` outside a request."""
    return _request_ip.get()


class RequestAddressMiddleware:
    """Make :func:`client_ip` of the current request available to signal receivers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        token = _request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _request_ip.reset(token)
