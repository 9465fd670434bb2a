"""A client admin sets an objective, watches the dashboard move as work is delivered, and
downloads a chart's figures and the report PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from tests.browser.test_walkthrough import sign_in
from tests.conftest import World, submit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_catalog"),
]


def _received_two(world: World) -> list[WorkItem]:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    return [
        submit(world.member_a, world.engagement_a, title=title)
        for title in ("Key March claim forms", "Key April claim forms")
    ]


def _deliver(world: World, items: list[WorkItem]) -> None:
    for item in items:
        do_assign(world.lead, item, world.agent.agent)
        do_transition(world.agent, item, Action.START)
        do_transition(world.agent, item, Action.COMPLETE)


def _delivered_today(page: Any) -> int:
    spec = json.loads(page.inner_text("#chart-volume"))
    today = timezone.now().astimezone(dt.UTC).date().isoformat()
    delivered = next(s for s in spec["series"] if s["label"] == "Delivered")
    return delivered["values"][spec["labels"].index(today)]


def test_client_admin_sets_an_objective_and_sees_the_dashboard_follow_the_work(
    browser: Any, live_server: Any, world: World, shots: Path, tmp_path: Path
) -> None:
    base = live_server.url
    # Given two requests received today and a client admin on the objectives page
    items = _received_two(world)
    page = sign_in(browser, base, world.client_admin_a.email)
    page.goto(f"{base}/dashboard/objectives/")

    # When they propose a monthly volume of two delivered items
    page.select_option("#id_engagement", str(world.engagement_a.pk))
    page.select_option("#id_metric", "monthly_volume")
    page.fill("#id_target", "2")
    page.fill("#id_note", "The first two batches this month.")
    page.click("button:has-text('Propose')")
    page.wait_for_selector("text=target proposed")
    page.screenshot(path=shots / "dashboard-1-objective.png", full_page=True)

    # Then the dashboard shows it not reached yet, and a drawn chart with nothing delivered
    page.goto(f"{base}/dashboard/")
    card = page.locator(".objective", has_text="Monthly volume")
    assert "Not reached yet" in card.inner_text()
    page.wait_for_selector("canvas[data-chart='chart-volume'][data-drawn]")
    assert _delivered_today(page) == 0

    # When two items are delivered and the page is shown again
    _deliver(world, items)
    page.reload()
    page.wait_for_selector("canvas[data-chart='chart-volume'][data-drawn]")

    # Then the chart and the objective moved
    assert _delivered_today(page) == 2
    card = page.locator(".objective", has_text="Monthly volume")
    assert "Met" in card.inner_text()
    assert card.locator(".objective-value").inner_text().startswith("2")
    page.screenshot(path=shots / "dashboard-2-delivered.png", full_page=True)

    # And the volume chart's CSV holds the same figures
    with page.expect_download() as download:
        page.locator("#volume a:has-text('Download CSV')").click()
    saved = tmp_path / "volume.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text())))
    assert rows[0] == ["Day", "Received", "Delivered"]
    today = timezone.now().astimezone(dt.UTC).date().isoformat()
    assert [r for r in rows if r[0] == today] == [[today, "2", "2"]]

    # And a report of the month so far, made from the dashboard, prints the same figures
    page.goto(f"{base}/dashboard/")
    page.click("a:has-text('Reports')")
    page.select_option("#id_engagement", str(world.engagement_a.pk))
    first = timezone.now().astimezone(dt.UTC).date().replace(day=1)
    page.fill("#id_start", first.isoformat())
    page.fill("#id_end", today)
    page.click("button:has-text('Create report')")
    page.wait_for_selector("a:has-text('Download PDF')")
    page.screenshot(path=shots / "dashboard-3-report.png", full_page=True)
    with page.expect_download() as download:
        page.click("a:has-text('Download PDF')")
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert world.engagement_a.name in text
    assert "Monthly volume" in text and "Received and delivered per day" in text
