"""Template context shared by every page: the navigation for the signed-in person's role.

The top bar keeps the everyday work pages at the top level and gathers the security
and account pages under one "Security" menu, so a client admin's bar stays short.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from relaydesk.core.roles import Role

_CLIENT_WORK = [
    ("Dashboard", "insights:dashboard"),
    ("Requests", "portal:items"),
    ("New request", "portal:submit"),
    ("Import CSV", "portal:import"),
    ("Service levels", "sla:attainment"),
    ("Quality", "quality:figures"),
]

_NAV: dict[Role, list[tuple[str, str]]] = {
    Role.PROVIDER_ADMIN: [
        ("Operations", "ops:items"),
        ("Board", "board:board"),
        ("Dashboard", "ops_dashboard:dashboard"),
        ("Service levels", "sla:attainment"),
        ("Quality", "quality:figures"),
        ("Clients", "clients:list"),
        ("Back office", "admin:index"),
    ],
    Role.OPS_LEAD: [
        ("Operations", "ops:items"),
        ("Board", "board:board"),
        ("Dashboard", "ops_dashboard:dashboard"),
        ("Service levels", "sla:attainment"),
        ("Quality", "quality:figures"),
        ("Clients", "clients:list"),
    ],
    Role.AGENT: [("My work", "workspace:home"), ("My reviews", "quality:mine")],
    Role.QA_REVIEWER: [("Reviews", "workspace:reviews"), ("Calibration", "quality:calibration")],
    Role.SUPERVISING_ATTORNEY: [
        ("Reviews", "workspace:reviews"),
        ("Calibration", "quality:calibration"),
    ],
    Role.SENIOR_ANALYST: [
        ("Reviews", "workspace:reviews"),
        ("Calibration", "quality:calibration"),
    ],
    Role.CLIENT_ADMIN: _CLIENT_WORK,
    Role.CLIENT_MEMBER: _CLIENT_WORK,
}

# The firm-wide security pages under the Security menu, by role.
_FIRM_SECURITY: dict[Role, list[tuple[str, str]]] = {
    Role.CLIENT_ADMIN: [
        ("Security & compliance", "clients:my_security"),
        ("Sign-in rules", "accounts:client_security"),
        ("Audit trail", "audit:portal"),
        ("Export data", "retention:export"),
        ("Webhooks", "webhooks:list"),
    ],
    Role.CLIENT_MEMBER: [("Security & compliance", "clients:my_security")],
}

# One's own sign-in, credentials and notification settings, for everyone.
_ACCOUNT = [
    ("Two-factor sign-in", "mfa_index"),
    ("Sign-in history", "accounts:sign_ins"),
    ("API tokens", "accounts:tokens"),
    ("Notification settings", "notifications:preferences"),
]

SECURITY_MENU_LABEL = "Security"
# Shorter names for the top bar's "Security › ..." mark, where the full one repeats the menu's.
_SHORT = {"clients:my_security": "Compliance", "notifications:preferences": "Notifications"}


# Pages a link stands for besides those under its own address: the quality section's
# disputes and calibration pages live under /ops/quality/.
_ALSO_UNDER = {"quality:figures": ("/ops/quality/",)}


def _link(request: HttpRequest, label: str, name: str) -> dict[str, Any]:
    url = reverse(name)
    prefixes = (url, *_ALSO_UNDER.get(name, ()))
    return {
        "label": label,
        "short": _SHORT.get(name, label),
        "url": url,
        "active": request.path.startswith(prefixes),
    }


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The top bar for a person's role: ``nav_links`` and the ``nav_menu`` of security pages.

    The link of the current page is marked ``active``; when it sits in the menu, the
    menu is marked too, so the top bar always shows where one is.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": [], "nav_menu": None}
    role = user.role_enum
    links = [_link(request, label, name) for label, name in _NAV.get(role, [])]
    groups: list[dict[str, Any]] = [
        {"heading": heading, "links": [_link(request, label, name) for label, name in pages]}
        for heading, pages in (
            ("Your firm", _FIRM_SECURITY.get(role, [])),
            ("Your account", _ACCOUNT),
        )
        if pages
    ]
    every: list[dict[str, Any]] = links + [link for group in groups for link in group["links"]]
    # The most specific match wins, so "/portal/new/" does not also light "/portal/".
    active = [link for link in every if link["active"]]
    if len(active) > 1:
        longest = max(active, key=lambda link: len(link["url"]))
        for link in active:
            link["active"] = link is longest
    menu = {
        "label": SECURITY_MENU_LABEL,
        "groups": groups,
        "active": any(link["active"] for group in groups for link in group["links"]),
    }
    return {"nav_links": links, "nav_menu": menu}
