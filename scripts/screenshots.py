"""Screenshots of the demo for the README and for looking at pages as their users do.

Start the product first (``make run``), then:

    .venv/bin/python scripts/screenshots.py [--base http://127.0.0.1:8000] [--out docs/screenshots]
        [--only 'security-*' ...]

It signs in as the demo people and saves one PNG per page, using Debian's Chromium:
the work pages, and the security pages (sign-in and its one-time-code step, two-factor
set-up, recovery codes, sign-in history, the security statement, sign-in rules, the audit
trail, the data export, the lockout message, the error pages) for the roles that see
them, some of them also on a 390-pixel-wide phone screen. ``--only`` takes shell-style
patterns of the names to save.

Two shots change something: the lockout shot makes five failed sign-ins as an address
that has no account, which pauses sign-in for that address alone, and the agent's
workspace shot sets the demo agent available.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import hmac
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, StorageState, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

PASSWORD = "relaydesk-demo-2026"
DEMO_TOTP_SECRET = "RELAYDESKDEMO234"
DESKTOP: ViewportSize = {"width": 1360, "height": 860}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# An address with no account: failing to sign in as it locks out nobody real.
LOCKOUT_LOGIN = "nobody@hartwell-cole.test"
LOCKOUT_FAILURES = 5
TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "relaydesk" / "templates"

CLIENT_ADMIN = "dana@hartwell-cole.test"
CLIENT_MEMBER = "paul@hartwell-cole.test"
LEAD = "lead@relaydesk.test"
ADMIN = "admin@relaydesk.test"
AGENT = "agent@relaydesk.test"


@dataclass(frozen=True)
class Shot:
    """One page to photograph: who looks, where, and on what screen."""

    name: str
    email: str | None
    path: str
    viewport: ViewportSize
    full_page: bool = False
    # What to do on the page before the picture (click, open something).
    step: Callable[[Page], None] | None = None
    # Only this part of the page (a CSS selector), instead of the screen.
    part: str | None = None


def become_available(page: Page) -> None:
    """The agent says they are available (their presence: the one change a work shot makes)."""
    page.click("button.seg-available")
    page.wait_for_selector("button.seg-available.on")


def open_first_item(page: Page) -> None:
    """Open the first item of a list."""
    page.locator("td.ref a").first.click()
    page.wait_for_load_state("networkidle")


PAGES = [
    # The work pages (the README shows the first two and the agent's).
    Shot("ops-board", LEAD, "/ops/board/", DESKTOP),
    Shot("ops-items", LEAD, "/ops/", DESKTOP),
    Shot("ops-service-levels", LEAD, "/service-levels/?group_by=service", DESKTOP, True),
    Shot("client-service-levels", CLIENT_ADMIN, "/service-levels/?group_by=week", DESKTOP, True),
    Shot("ops-quality", LEAD, "/quality/?group_by=service", DESKTOP, True),
    Shot("client-quality", CLIENT_ADMIN, "/quality/?group_by=week", DESKTOP, True),
    Shot("client-dashboard", CLIENT_ADMIN, "/dashboard/", DESKTOP, True),
    Shot("ops-dashboard", LEAD, "/ops/dashboard/", DESKTOP),
    Shot("client-objectives", CLIENT_ADMIN, "/dashboard/objectives/", DESKTOP, True),
    Shot("ops-objectives", LEAD, "/dashboard/objectives/", DESKTOP, True),
    Shot("ops-quality-disputes", LEAD, "/ops/quality/disputes/", DESKTOP, True),
    Shot("agent-my-reviews", AGENT, "/quality/mine/", DESKTOP, True),
    Shot("ops-calibration", LEAD, "/ops/quality/calibration/", DESKTOP, True),
    Shot("ops-calibration-results", LEAD, "/ops/quality/calibration/1/", DESKTOP, True),
    Shot("ops-calibration-open", LEAD, "/ops/quality/calibration/2/", DESKTOP, True),
    Shot("client-portal", CLIENT_MEMBER, "/portal/", DESKTOP),
    Shot("client-new-request", CLIENT_MEMBER, "/portal/new/", DESKTOP),
    Shot("client-import", CLIENT_ADMIN, "/portal/import/", DESKTOP),
    Shot("agent-workspace", AGENT, "/workspace/", DESKTOP, step=become_available),
    # A queued item as the operations lead sees it, and its routing section alone.
    Shot("ops-item-routing", LEAD, "/ops/?state=queued", DESKTOP, True, step=open_first_item),
    Shot(
        "item-routing",
        LEAD,
        "/ops/?state=queued",
        DESKTOP,
        step=open_first_item,
        part="#routing",
    ),
    Shot("attorney-reviews", "attorney@relaydesk.test", "/workspace/reviews/", DESKTOP),
    Shot("api-tokens", CLIENT_MEMBER, "/account/tokens/", DESKTOP),
    Shot("sign-in", None, "/accounts/login/", DESKTOP),
    Shot("api-docs", None, "/api/v1/docs", DESKTOP),
    # The security pages, for each role that sees them.
    Shot("security-sign-in-phone", None, "/accounts/login/", PHONE),
    Shot("security-mfa-client-member", CLIENT_MEMBER, "/accounts/2fa/", LAPTOP),
    Shot("security-mfa-provider", LEAD, "/accounts/2fa/", LAPTOP),
    Shot("security-mfa-provider-phone", LEAD, "/accounts/2fa/", PHONE, full_page=True),
    Shot("security-totp-setup", CLIENT_MEMBER, "/accounts/2fa/totp/activate/", LAPTOP, True),
    Shot("security-totp-setup-phone", CLIENT_MEMBER, "/accounts/2fa/totp/activate/", PHONE, True),
    Shot("security-recovery-codes", LEAD, "/accounts/2fa/recovery-codes/", LAPTOP, True),
    Shot("security-recovery-codes-phone", LEAD, "/accounts/2fa/recovery-codes/", PHONE, True),
    Shot("security-sign-ins-client", CLIENT_ADMIN, "/account/sign-ins/", LAPTOP, True),
    Shot("security-sign-ins-provider", LEAD, "/account/sign-ins/", LAPTOP, True),
    Shot("security-sign-ins-phone", CLIENT_MEMBER, "/account/sign-ins/", PHONE, True),
    Shot("security-statement-client", CLIENT_ADMIN, "/clients/security/", LAPTOP, True),
    Shot("security-statement-member", CLIENT_MEMBER, "/clients/security/", LAPTOP),
    Shot("security-clients-provider", LEAD, "/clients/", LAPTOP, True),
    Shot("security-statement-provider", ADMIN, "/clients/hartwell-cole/security/", LAPTOP, True),
    Shot("security-sign-in-rules", CLIENT_ADMIN, "/account/client-security/", LAPTOP, True),
    Shot("security-audit-trail", CLIENT_ADMIN, "/portal/audit/", LAPTOP, True),
    Shot(
        "security-audit-trail-filtered",
        CLIENT_ADMIN,
        "/portal/audit/?action=work_item.accept&date_from=2000-01-01",
        LAPTOP,
    ),
    Shot("security-audit-trail-empty", CLIENT_ADMIN, "/portal/audit/?date_from=2099-01-01", LAPTOP),
    Shot("security-data-export", CLIENT_ADMIN, "/portal/export/", LAPTOP, True),
    Shot("security-api-tokens-provider", LEAD, "/account/tokens/", LAPTOP),
    Shot("security-403-client", CLIENT_MEMBER, "/portal/audit/", LAPTOP),
    Shot("security-403-provider", AGENT, "/ops/", LAPTOP),
    Shot("security-404", CLIENT_ADMIN, "/items/999999999/", LAPTOP),
]
# Pages whose first item's detail page is photographed too.
WITH_ITEM = ("client-portal", "agent-workspace")


def sign_in(page: Page, base: str, email: str, *, code: bool = True) -> None:
    """Sign in through the real form; give the demo's one-time code when asked and ``code``."""
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if code and page.locator("input[name=code]").count():  # provider staff give a code
        page.fill("input[name=code]", demo_code())
        page.click("button[type=submit]")
        page.wait_for_load_state()


def demo_code() -> str:
    """The demo's current one-time code (TOTP, 30 s, 6 digits, SHA-1)."""
    key = base64.b32decode(DEMO_TOTP_SECRET)
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def code_step(page: Page, base: str) -> None:
    """The one-time-code step of a provider's sign-in, before the code is typed."""
    sign_in(page, base, LEAD, code=False)


def menu_open(page: Page, base: str) -> None:
    """A client admin's portal with the Security menu opened."""
    sign_in(page, base, CLIENT_ADMIN)
    page.goto(f"{base}/portal/audit/")
    page.click("details.nav-menu > summary")


def lockout(page: Page, base: str) -> None:
    """Enough wrong passwords for an address with no account to be paused."""
    for _ in range(LOCKOUT_FAILURES):
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_login", LOCKOUT_LOGIN)
        page.fill("#id_password", "not-the-password")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        if page.locator("#lockout").count():
            return


def server_error(page: Page, base: str) -> None:
    """The 500 page as served (it has no template tags), over the site's own stylesheet."""
    page.goto(f"{base}/static/relaydesk/app.css")
    page.set_content((TEMPLATES / "500.html").read_text(encoding="utf-8"))


FLOWS: list[tuple[str, ViewportSize, Callable[[Page, str], None]]] = [
    ("security-mfa-code", LAPTOP, code_step),
    ("security-mfa-code-phone", PHONE, code_step),
    ("security-nav-menu", LAPTOP, menu_open),
    ("security-lockout", LAPTOP, lockout),
    ("security-lockout-phone", PHONE, lockout),
    ("security-500", LAPTOP, server_error),
]


def save(page: Page, out: Path, name: str, *, full_page: bool) -> None:
    page.screenshot(path=out / f"{name}.png", full_page=full_page)
    print(f"{name}: {out / (name + '.png')}")


def shoot_pages(browser: Browser, base: str, out: Path, wanted: Callable[[str], bool]) -> None:
    # One sign-in per person: a one-time code is accepted only once.
    sessions: dict[str, StorageState] = {}
    for shot in PAGES:
        extra = [f"{shot.name}-item"] if shot.name in WITH_ITEM else []
        if not any(wanted(name) for name in [shot.name, *extra]):
            continue
        state = sessions.get(shot.email or "")
        context = browser.new_context(viewport=shot.viewport, storage_state=state)
        page = context.new_page()
        if shot.email and state is None:
            sign_in(page, base, shot.email)
            sessions[shot.email] = context.storage_state()
        page.goto(base + shot.path)
        page.wait_for_load_state("networkidle")
        if shot.step is not None and wanted(shot.name):
            shot.step(page)
        if wanted(shot.name) and shot.part:
            page.locator(shot.part).screenshot(path=out / f"{shot.name}.png")
            print(f"{shot.name}: {out / (shot.name + '.png')}")
        elif wanted(shot.name):
            save(page, out, shot.name, full_page=shot.full_page)
        # The first item on a list, to show a detail page too.
        if extra and wanted(extra[0]):
            link = page.locator("td.ref a").first
            if link.count():
                link.click()
                page.wait_for_load_state("networkidle")
                save(page, out, extra[0], full_page=True)
        context.close()


def shoot_flows(browser: Browser, base: str, out: Path, wanted: Callable[[str], bool]) -> None:
    for name, viewport, flow in FLOWS:
        if not wanted(name):
            continue
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        try:
            flow(page, base)
            page.wait_for_load_state("networkidle")
            save(page, out, name, full_page=viewport is PHONE)
        except PlaywrightError as error:
            print(f"{name}: not taken: {error.message.splitlines()[0]}")
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument(
        "--only", nargs="*", default=[], metavar="PATTERN", help="names to save, e.g. 'security-*'"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.base.rstrip("/")

    def wanted(name: str) -> bool:
        return not args.only or any(fnmatch.fnmatch(name, pattern) for pattern in args.only)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        shoot_pages(browser, base, out, wanted)
        shoot_flows(browser, base, out, wanted)
        browser.close()


if __name__ == "__main__":
    main()
