"""Small helpers shared by pages and the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template import loader

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


_NUL = "\x00"
_TOO_BIG = {
    RequestDataTooBig: "The request body is too large.",
    TooManyFieldsSent: "The request has too many fields.",
    TooManyFilesSent: "The request has too many files.",
}
NUL_REFUSED = "Text may not contain NUL characters (\\u0000)."


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return _NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _json_holds_nul(body: bytes) -> bool:
    # A NUL is written \u0000 in UTF-8 JSON; UTF-16 and UTF-32 JSON, which json.loads
    # also reads whatever the content type says, have raw zero bytes to look into.
    if b"\\u0000" not in body and b"\x00" not in body:
        return False
    try:
        return _holds_nul(json.loads(body))
    except ValueError:
        return False  # the API answers a body that is not JSON itself


def nul_field(request: HttpRequest) -> str | None:
    """Where the request holds a NUL character, if anywhere: ``header.NAME``,
    ``cookie.NAME``, ``query.NAME``, ``form.NAME`` or ``body``.

    Under /api/ the body is read as JSON, whatever its content type (as the API reads
    it); elsewhere the form fields of a POST. Uploaded files are not text and are
    checked by their own rules.
    """
    for key, value in request.META.items():
        if key.startswith("HTTP_") and _NUL in str(value):
            return f"header.{key[5:].replace('_', '-').title()}"
    for key, value in request.COOKIES.items():
        if _NUL in key or _NUL in value:
            return f"cookie.{key.replace(_NUL, '')}"
    sources = [("query", request.GET)]
    api = request.path.startswith("/api/")
    if not api and request.method == "POST":
        sources.append(("form", request.POST))
    for source, values in sources:
        for key, items in values.lists():
            if _NUL in key or any(_NUL in item for item in items):
                return f"{source}.{key.replace(_NUL, '')}"
    # Reading the body caches it, so the API still parses it afterwards.
    if api and request.method in ("POST", "PUT", "PATCH") and _json_holds_nul(request.body):
        return "body"
    return None


class RefuseNulMiddleware:
    """Refuse text holding NUL characters before any view sees it.

    PostgreSQL cannot store or even compare text with NUL in it, so such a value
    would end as a server error deep in a query; it is never legitimate input.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            field = nul_field(request)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as refused:
            if not request.path.startswith("/api/"):
                raise  # Django's 400 page
            return JsonResponse({"detail": _TOO_BIG.get(type(refused), str(refused))}, status=400)
        if field is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": f"The request is not valid. {field}: {NUL_REFUSED}",
                    "errors": [{"field": field, "message": NUL_REFUSED}],
                },
                status=422,
            )
        page = loader.get_template("nul_refused.html").render({"message": NUL_REFUSED})
        return HttpResponse(page, status=400)
