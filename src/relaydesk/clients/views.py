"""Client pages: the list of clients for the provider, and each client's security statement."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from relaydesk.accounts.models import User
from relaydesk.clients.compliance import build_security_report
from relaydesk.clients.queries import visible_clients
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.permissions import roles_required

_PER = {"s": "a second", "m": "a minute", "h": "an hour", "d": "a day"}


def _rate_text(rate: str) -> str:
    """A throttle rate as a person reads it: "600/m" -> "600 requests a minute"."""
    number, _, unit = rate.partition("/")
    per = _PER.get(unit[:1])
    return f"{number} requests {per}" if per and number.isdigit() else rate


@roles_required(*roles_with(Permission.VIEW_ALL_ENGAGEMENTS))
def client_list(request: HttpRequest) -> HttpResponse:
    """The provider's clients, with their engagements and a link to each statement."""
    user = request.user
    assert isinstance(user, User)
    clients = visible_clients(user).select_related("sso").prefetch_related("engagements__services")
    return render(request, "clients/client_list.html", {"clients": clients})


@roles_required(*roles_with(Permission.VIEW_ALL_WORK, Permission.VIEW_CLIENT_WORK))
def security(request: HttpRequest, client_slug: str) -> HttpResponse:
    """The client's Security & compliance statement, computed from the configuration."""
    user = request.user
    assert isinstance(user, User)
    client = visible_clients(user).filter(slug=client_slug).first()
    if client is None:
        raise Http404("No such client.")
    report = build_security_report(client)
    # The same statement reads "your users" to the client and "<client>'s users" to the provider.
    own = user.client_id == client.pk
    return render(
        request,
        "clients/security.html",
        {"report": report, "own": own, "api_rate": _rate_text(report.api_rate)},
    )


@roles_required(*roles_with(Permission.VIEW_CLIENT_WORK))
def my_security(request: HttpRequest) -> HttpResponse:
    """A client user's own firm's statement."""
    user = request.user
    assert isinstance(user, User) and user.client is not None
    return security(request, user.client.slug)
