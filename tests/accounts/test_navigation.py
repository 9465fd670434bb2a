"""The top bar: work pages at the top level, security pages under one Security menu."""

from __future__ import annotations

import html
import re

import pytest

from relaydesk.accounts.models import User
from tests.conftest import World, login

pytestmark = pytest.mark.django_db


def top_bar(user: User, path: str) -> tuple[list[str], list[str], str]:
    """The top-level link labels, the menu's link labels and the menu's summary text."""
    page = login(user).get(path).content.decode()
    nav = page.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    menu = nav.split('<details class="nav-menu"', 1)[1]
    link = r"<a href=\"[^\"]+\"[^>]*>([^<]+)</a>"
    top = [html.unescape(text) for text in re.findall(link, nav.split("<details", 1)[0])]
    inside = [html.unescape(text) for text in re.findall(link, menu)]
    summary = re.sub(r"<[^>]+>", "", menu.split("<summary", 1)[1].split("</summary>", 1)[0])
    return top, inside, summary.split(">", 1)[1].strip()


def test_a_client_admin_sees_five_work_links_and_one_security_menu(world: World) -> None:
    top, inside, summary = top_bar(world.client_admin_a, "/portal/")
    assert top == [
        "Dashboard",
        "Requests",
        "New request",
        "Import CSV",
        "Service levels",
        "Quality",
    ]
    assert summary == "Security"
    assert inside == [
        "Security & compliance",
        "Sign-in rules",
        "Audit trail",
        "Export data",
        "Webhooks",
        "Two-factor sign-in",
        "Sign-in history",
        "API tokens",
        "Notification settings",
    ]


def test_the_menu_names_the_page_you_are_on(world: World) -> None:
    page = login(world.client_admin_a).get("/portal/audit/").content.decode()
    assert '<a href="/portal/audit/" class="active" aria-current="page">Audit trail</a>' in page
    _, _, summary = top_bar(world.client_admin_a, "/portal/audit/")
    assert summary == "Security › Audit trail"
    # A work page lights its own link and leaves the menu plain.
    page = login(world.client_admin_a).get("/portal/new/").content.decode()
    assert '<a href="/portal/new/" class="active" aria-current="page">New request</a>' in page
    assert "<summary>Security </summary>" in page


def test_members_get_the_statement_but_not_the_admin_pages(world: World) -> None:
    _, inside, _ = top_bar(world.member_a, "/portal/")
    assert "Security & compliance" in inside and "Sign-in history" in inside
    assert not {"Sign-in rules", "Audit trail", "Export data", "Webhooks"} & set(inside)


@pytest.mark.parametrize(
    ("who", "path", "work"),
    [
        (
            "admin",
            "/ops/",
            [
                "Operations",
                "Board",
                "Dashboard",
                "Service levels",
                "Quality",
                "Clients",
                "Back office",
            ],
        ),
        (
            "lead",
            "/ops/",
            ["Operations", "Board", "Dashboard", "Service levels", "Quality", "Clients"],
        ),
        ("agent", "/workspace/", ["My work", "My reviews"]),
        ("qa", "/workspace/reviews/", ["Reviews", "Calibration"]),
        ("attorney", "/workspace/reviews/", ["Reviews", "Calibration"]),
        ("analyst", "/workspace/reviews/", ["Reviews", "Calibration"]),
    ],
)
def test_provider_staff_keep_their_account_pages_in_the_same_menu(
    world: World, who: str, path: str, work: list[str]
) -> None:
    top, inside, _ = top_bar(getattr(world, who), path)
    assert top == work
    assert inside == [
        "Two-factor sign-in",
        "Sign-in history",
        "API tokens",
        "Notification settings",
    ]


def test_the_operations_dashboard_lights_its_own_link_not_operations(world: World) -> None:
    page = login(world.lead).get("/ops/dashboard/").content.decode()
    assert '<a href="/ops/dashboard/" class="active" aria-current="page">Dashboard</a>' in page
    assert '<a href="/ops/" class="active"' not in page


def test_every_page_of_the_menu_opens(world: World) -> None:
    browser = login(world.client_admin_a)
    page = browser.get("/portal/").content.decode()
    menu = page.split('<details class="nav-menu"', 1)[1].split("</details>", 1)[0]
    for href in re.findall(r'href="([^"]+)"', menu):
        assert browser.get(href).status_code == 200, href
