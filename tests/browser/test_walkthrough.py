"""A client's request walked to acceptance through the real pages in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import State
from relaydesk.work.models import WorkItem
from tests.accounts.support import totp_code
from tests.conftest import PASSWORD, STAFF_TOTP_SECRET, World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(browser: Any, base: str, email: str) -> Any:
    """A fresh browser context signed in as ``email``."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.url.endswith("/accounts/2fa/authenticate/"):
        # The world's provider staff have an authenticator app: type its code.
        page.fill("#id_code", totp_code(STAFF_TOTP_SECRET))
        with page.expect_navigation(timeout=60_000):
            page.click("button:has-text('Sign in')")
    if page.url.endswith("/accounts/2fa/totp/activate/"):
        # Provider staff must set up an authenticator app first: do it as a phone would.
        secret = page.inner_text("#totp-secret").strip()
        for attempt in range(2):
            page.fill("#id_code", totp_code(secret))
            with page.expect_navigation(timeout=60_000):
                page.click("button:has-text('Turn on two-factor sign-in')")
            # On a busy machine the code can expire on its way; a phone would show a new one.
            if page.is_visible("#recovery-codes") or attempt:
                break
        page.wait_for_selector("#recovery-codes")
        page.goto(f"{base}/")
        page.wait_for_load_state()
    return page


def test_request_to_acceptance_and_isolation(
    browser: Any, live_server: Any, world: World, shots: Path, tmp_path: Path
) -> None:
    Service.objects.filter(slug="document-processing").update(review_policy="none")
    base = live_server.url
    evidence = tmp_path / "bill.pdf"
    evidence.write_bytes(b"%PDF-1.4 medical bill, 3 pages")

    # Given a client member, when they submit a request with an attachment
    client = sign_in(browser, base, world.member_a.email)
    client.click("text=New request")
    client.select_option("#id_engagement", label="Alpha Law · Claims support")
    client.select_option("#id_service", value="document-processing")
    client.fill("#id_title", "PIP bill review – claimant J. Ortiz")
    client.fill("#id_description", "Three pages of medical bills from the ER visit.")
    client.fill("#id_jurisdiction", "US-FL")
    client.set_input_files("#id_attachments", str(evidence))
    client.screenshot(path=shots / "1-client-submit.png", full_page=True)
    client.click("text=Submit request")
    client.wait_for_selector("text=received and queued")
    item_url = client.url
    item_id = int(re.search(r"/items/(\d+)/", item_url).group(1))  # type: ignore[union-attr]
    assert client.inner_text("#item-state") == "Queued"
    assert client.is_visible("text=bill.pdf")

    # When the operations lead assigns it to an eligible agent
    lead = sign_in(browser, base, world.lead.email)
    lead.goto(item_url)
    lead.select_option("#id_agent", value=str(world.agent.agent.pk))
    lead.screenshot(path=shots / "2-lead-assign.png", full_page=True)
    lead.click("#assign button[type=submit]")
    lead.wait_for_selector("text=assigned to Agent")

    # And the agent starts and completes it
    agent = sign_in(browser, base, world.agent.email)
    agent.click(f"text={WorkItem.objects.get(pk=item_id).reference}")
    agent.click("button:has-text('Start work')")
    agent.wait_for_selector("text=work started.")
    agent.screenshot(path=shots / "3-agent-working.png", full_page=True)
    agent.click("button:has-text('Complete')")
    agent.wait_for_load_state()

    # Then the client sees it delivered and accepts it
    client.goto(item_url)
    assert client.inner_text("#item-state") == "Delivered"
    client.click("button:has-text('Accept')")
    client.wait_for_selector("text=accepted by the client.")
    assert client.inner_text("#item-state") == "Accepted"
    client.screenshot(path=shots / "4-client-accepted.png", full_page=True)
    assert WorkItem.objects.get(pk=item_id).state == State.ACCEPTED

    # And a user of another client cannot open it, nor learn that it exists
    outsider = sign_in(browser, base, world.member_b.email)
    response = outsider.goto(item_url)
    assert response is not None and response.status == 404
    assert "PIP bill" not in outsider.content()
    missing = outsider.goto(f"{base}/items/999999/")
    assert missing is not None and missing.status == 404
    outsider.screenshot(path=shots / "5-outsider-404.png", full_page=True)
