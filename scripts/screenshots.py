"""Screenshots of the demo for the README and for looking at pages as their users do.

Start the product first (``make run``), then:

    .venv/bin/python scripts/screenshots.py [--base http://127.0.0.1:8000] [--out docs/screenshots]

It signs in as the demo people and saves one PNG per page, using Debian's Chromium.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import shutil
import struct
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

PASSWORD = "relaydesk-demo-2026"
DEMO_TOTP_SECRET = "RELAYDESKDEMO234"
PAGES = [
    ("lead@relaydesk.test", "/ops/", "ops-board"),
    ("paul@hartwell-cole.test", "/portal/", "client-portal"),
    ("paul@hartwell-cole.test", "/portal/new/", "client-new-request"),
    ("dana@hartwell-cole.test", "/portal/import/", "client-import"),
    ("agent@relaydesk.test", "/workspace/", "agent-workspace"),
    ("attorney@relaydesk.test", "/workspace/reviews/", "attorney-reviews"),
    ("paul@hartwell-cole.test", "/account/tokens/", "api-tokens"),
    (None, "/accounts/login/", "sign-in"),
    (None, "/api/v1/docs", "api-docs"),
]


def sign_in(page: Page, base: str, email: str) -> None:
    """Sign in through the real form."""
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.locator("input[name=code]").count():  # provider staff give a one-time code
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for email, path, name in PAGES:
            context = browser.new_context(viewport={"width": 1360, "height": 860})
            page = context.new_page()
            if email:
                sign_in(page, args.base, email)
            page.goto(args.base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=out / f"{name}.png", full_page=False)
            print(f"{name}: {out / (name + '.png')}")
            # The first item on a list, to show a detail page too.
            if name in ("client-portal", "agent-workspace"):
                link = page.locator("td.ref a").first
                if link.count():
                    link.click()
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=out / f"{name}-item.png", full_page=True)
                    print(f"{name}-item: {out / (name + '-item.png')}")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
