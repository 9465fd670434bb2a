"""Figures downloaded as CSV leave one audit record each: who, whose, what and when for.

Given the dashboard's chart CSV, the SLA attainment CSV and the quality figures CSV,
when someone downloads one, then exactly one ``figures.export`` record is written with
the actor, the client (when the figures are a client's), what and the period, never a
figure; a client's own download shows in the client's audit trail.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.insights.queries import client_dashboard
from tests.conftest import World, login

pytestmark = pytest.mark.django_db

WORDS = {"what", "period", "engagement", "service", "group_by", "kind"}


def period() -> tuple[dt.date, dt.date]:
    today = timezone.now().astimezone(dt.UTC).date()
    return today - dt.timedelta(days=13), today


def downloads(world: World) -> dict[str, tuple[str, str]]:
    """Each figures CSV as client A's admin asks for it: its URL and what it is called."""
    start, end = period()
    dates = f"start={start}&end={end}"
    chart = client_dashboard(world.client_admin_a, start=start, end=end).charts[0].key
    return {
        "dashboard": (
            f"/dashboard/?{dates}&chart={chart}&format=csv",
            f"Dashboard chart {chart}",
        ),
        "sla": (
            f"/service-levels/?{dates}&kind=turnaround&group_by=service&format=csv",
            "SLA attainment",
        ),
        "quality": (f"/quality/?{dates}&group_by=service&format=csv", "Quality figures"),
    }


@pytest.mark.parametrize("download", ["dashboard", "sla", "quality"])
def test_each_download_writes_one_record_seen_in_the_clients_trail(
    world: World, download: str
) -> None:
    url, what = downloads(world)[download]
    browser = login(world.client_admin_a)
    page = browser.get(url.replace("&format=csv", ""))
    assert page.status_code == 200
    assert not AuditRecord.objects.filter(action="figures.export").exists(), "a page view"

    response = browser.get(url, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    (exported,) = AuditRecord.objects.filter(action="figures.export")
    assert exported.actor_id == world.client_admin_a.pk
    assert exported.client_id == world.client_a.pk
    assert exported.source_ip == "198.51.100.7"
    start, end = period()
    assert exported.detail["what"] == what
    assert exported.detail["period"] == f"{start:%Y-%m-%d}/{end:%Y-%m-%d}"
    assert set(exported.detail) <= WORDS, "names and filters only, never a figure"
    trail = login(world.client_admin_a).get("/portal/audit/").content.decode()
    assert "Figures exported" in trail and what in trail
    other = login(world.client_admin_b).get("/portal/audit/").content.decode()
    assert "Figures exported" not in other


def test_a_members_download_belongs_to_their_client(world: World) -> None:
    url, _ = downloads(world)["sla"]
    assert login(world.member_b).get(url).status_code == 200
    (exported,) = AuditRecord.objects.filter(action="figures.export")
    assert exported.actor_id == world.member_b.pk and exported.client_id == world.client_b.pk


def test_the_providers_download_names_the_client_only_when_narrowed_to_one(
    world: World,
) -> None:
    start, end = period()
    browser = login(world.lead)
    across = f"/service-levels/?start={start}&end={end}&group_by=engagement&format=csv"
    assert browser.get(across).status_code == 200
    narrowed = f"{across}&engagement={world.engagement_b.pk}"
    assert browser.get(narrowed).status_code == 200

    first, second = AuditRecord.objects.filter(action="figures.export").order_by("seq")
    assert first.actor_id == second.actor_id == world.lead.pk
    assert first.client_id is None and "engagement" not in first.detail
    assert second.client_id == world.client_b.pk
    assert second.detail["engagement"] == world.engagement_b.pk
    assert second.detail["group_by"] == "engagement" and second.detail["kind"] == "turnaround"


def test_an_operations_dashboard_download_is_recorded_for_the_provider(world: World) -> None:
    start, end = period()
    browser = login(world.lead)
    url = f"/ops/dashboard/?start={start}&end={end}&chart=utilisation-by-site&format=csv"

    assert browser.get(url).status_code == 200
    assert browser.get(url.replace("utilisation-by-site", "no-such-chart")).status_code == 400

    [record] = AuditRecord.objects.filter(action="figures.export")
    assert record.actor_id == world.lead.pk
    assert record.client_id is None  # across every client
    assert record.detail["what"] == "Operations dashboard utilisation-by-site"
    assert record.detail["period"] == f"{start:%Y-%m-%d}/{end:%Y-%m-%d}"
