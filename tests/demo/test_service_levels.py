"""The demo's service levels: calendars, policies and clocks a person can look at."""

from __future__ import annotations

from collections import Counter

import pytest

from relaydesk.clients.models import Engagement
from relaydesk.demo.builder import DemoSummary
from relaydesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from relaydesk.work.models import WorkItemEvent

pytestmark = pytest.mark.django_db


def test_business_hours_clients_have_an_office_calendar_with_their_states_holidays(
    small_demo: DemoSummary,
) -> None:
    calendars = {
        e.client.slug: e.calendar for e in Engagement.objects.select_related("client", "calendar")
    }
    assert calendars["northwind"] is None  # a 24/7 client: every hour counts
    hartwell = calendars["hartwell-cole"]
    assert isinstance(hartwell, BusinessCalendar)
    assert (hartwell.holiday_country, hartwell.holiday_subdivision) == ("US", "FL")
    assert hartwell.working_hours == "mon-fri 08:30-18:00"
    hartwell.full_clean()


def test_every_engagement_has_policies_and_every_delivered_item_a_decided_turnaround(
    small_demo: DemoSummary,
) -> None:
    # A default for each engagement (service and priority left empty), and more by service.
    defaults = SlaPolicy.objects.filter(service__isnull=True, priority__isnull=True)
    assert defaults.count() == Engagement.objects.count() == 4
    outcomes = Counter(SlaClock.objects.filter(kind="turnaround").values_list("status", flat=True))
    decided = outcomes["met"] + outcomes["breached"]
    assert decided > 0
    # Most targets are met, and there are misses to look at.
    assert 0.6 <= outcomes["met"] / decided < 1
    assert outcomes["running"] + outcomes["paused"] > 0


def test_late_open_items_carry_warnings_and_escalations(small_demo: DemoSummary) -> None:
    said = Counter(
        WorkItemEvent.objects.filter(kind__startswith="sla_").values_list("kind", flat=True)
    )
    assert said["sla_warning"] > 0
    assert said["sla_escalated"] > 0
