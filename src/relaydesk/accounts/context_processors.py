"""Template context shared by every page: the navigation for the signed-in person's role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from relaydesk.core.roles import Role

_NAV: dict[Role, list[tuple[str, str]]] = {
    Role.PROVIDER_ADMIN: [
        ("Operations", "ops:items"),
        ("Clients", "clients:list"),
        ("Back office", "admin:index"),
    ],
    Role.OPS_LEAD: [("Operations", "ops:items"), ("Clients", "clients:list")],
    Role.AGENT: [("My work", "workspace:home")],
    Role.QA_REVIEWER: [("Reviews", "workspace:reviews")],
    Role.SUPERVISING_ATTORNEY: [("Reviews", "workspace:reviews")],
    Role.CLIENT_ADMIN: [
        ("Requests", "portal:items"),
        ("New request", "portal:submit"),
        ("Import CSV", "portal:import"),
        ("Security", "clients:my_security"),
        ("Sign-in rules", "accounts:client_security"),
        ("Audit trail", "audit:portal"),
        ("Export data", "retention:export"),
    ],
    Role.CLIENT_MEMBER: [
        ("Requests", "portal:items"),
        ("New request", "portal:submit"),
        ("Import CSV", "portal:import"),
        ("Security", "clients:my_security"),
    ],
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The links a person's role gets in the top bar, with the current one marked."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    links: list[dict[str, Any]] = []
    account = [("API tokens", "accounts:tokens"), ("Sign-ins", "accounts:sign_ins")]
    for label, name in [*_NAV.get(user.role_enum, []), *account]:
        url = reverse(name)
        links.append({"label": label, "url": url, "active": request.path.startswith(url)})
    # The most specific match wins, so "/portal/new/" does not also light "/portal/".
    active = [link for link in links if link["active"]]
    if len(active) > 1:
        longest = max(active, key=lambda link: len(link["url"]))
        for link in active:
            link["active"] = link is longest
    return {"nav_links": links}
