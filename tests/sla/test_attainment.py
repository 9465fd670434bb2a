"""SLA attainment: one definition, the same figures on the page, in the CSV and the API."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action
from relaydesk.core.sla import ClockKind
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.sla.actions import do_replay_clocks, do_set_sla_policy
from relaydesk.sla.queries import attainment_figures
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, login

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _delivered(world: World, engagement: Engagement, member: object, minutes: int) -> WorkItem:
    """An item submitted two days ago and delivered ``minutes`` later."""
    start = timezone.now() - dt.timedelta(days=2)
    service = "data-entry"
    item, _ = do_submit_work_item(
        member,  # type: ignore[arg-type]
        NewWorkItem(engagement_id=engagement.pk, service_slug=service, title="Key forms"),
        at=start,
    )
    do_assign(world.lead, item, world.agent.agent, at=start + dt.timedelta(minutes=1))
    do_transition(world.agent, item, Action.START, at=start + dt.timedelta(minutes=2))
    do_transition(world.agent, item, Action.COMPLETE, at=start + dt.timedelta(minutes=minutes))
    return item


@pytest.fixture
def history(world: World) -> list[WorkItem]:
    """Client A: three items on time, one late, one overdue and still open; client B: one on
    time. A one-hour turnaround in calendar time everywhere."""
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    for engagement in (world.engagement_a, world.engagement_b):
        do_set_sla_policy(world.lead, engagement, turnaround_minutes=60, turnaround_business=False)
    items = [_delivered(world, world.engagement_a, world.member_a, m) for m in (20, 40, 59, 90)]
    overdue, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Late"),
        at=timezone.now() - dt.timedelta(hours=3),
    )
    items += [overdue, _delivered(world, world.engagement_b, world.member_b, 30)]
    do_replay_clocks([i.pk for i in items])
    return items


def _figures(actor: object, **kwargs: object) -> object:
    today = timezone.now().astimezone(UTC).date()
    return attainment_figures(
        actor,  # type: ignore[arg-type]
        kind=ClockKind.TURNAROUND,
        start=today - dt.timedelta(days=7),
        end=today,
        **kwargs,  # type: ignore[arg-type]
    )


def test_met_and_missed_targets_are_counted_per_engagement(
    world: World, history: list[WorkItem]
) -> None:
    figures = _figures(world.lead, group_by="engagement")
    by_label = {row.label: (row.met, row.breached, row.percent) for row in figures.rows}  # type: ignore[attr-defined]
    # Four of client A's five targets ... three met, the 90-minute one and the open one missed.
    assert by_label == {"Claims support": (3, 2, 60.0), "Support desk": (1, 0, 100.0)}
    assert (figures.total.met, figures.total.breached) == (4, 2)  # type: ignore[attr-defined]


def test_a_client_sees_only_its_own_figures_and_never_by_agent(
    world: World, history: list[WorkItem]
) -> None:
    figures = _figures(world.member_b, group_by="service")
    assert [(r.label, r.met, r.breached) for r in figures.rows] == [("Data entry", 1, 0)]  # type: ignore[attr-defined]
    with pytest.raises(Invalid, match="Group by one of"):
        _figures(world.member_b, group_by="agent")
    with pytest.raises(NotAllowed):
        _figures(world.agent, group_by="service")


def test_page_csv_and_api_give_the_same_figures(world: World, history: list[WorkItem]) -> None:
    query = {"kind": "turnaround", "group_by": "engagement"}
    browser = login(world.client_admin_a)
    page = browser.get("/service-levels/", query).content.decode()
    assert "60.0 %" in page and "3 of 5 turnaround targets met" in page
    exported = browser.get("/service-levels/", {**query, "format": "csv"})
    assert exported["Content-Disposition"].startswith('attachment; filename="sla-turnaround-by')
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(r["group"], r["met"], r["breached"], r["attainment_percent"]) for r in rows] == [
        ("Claims support", "3", "2", "60.0"),
        ("All", "3", "2", "60.0"),
    ]
    _, secret = do_create_api_token(world.client_admin_a, name="figures")
    from django.test import Client as HttpClient

    answer = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/sla/attainment", query)
    assert answer.status_code == 200
    body = answer.json()
    assert [
        (r["label"], r["met"], r["breached"], r["attainment_percent"]) for r in body["rows"]
    ] == [("Claims support", 3, 2, 60.0)]
    assert body["total"]["decided"] == 5


def test_bad_filters_get_a_clear_answer(world: World) -> None:
    browser = login(world.lead)
    page = browser.get("/service-levels/", {"start": "2026-11-20", "end": "2026-11-01"})
    assert page.status_code == 400
    assert "The period ends before it starts." in page.content.decode()
    _, secret = do_create_api_token(world.member_a, name="figures")
    from django.test import Client as HttpClient

    refused = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get(
        "/api/v1/sla/attainment", {"group_by": "agent"}
    )
    assert refused.status_code == 422
    assert "Group by one of" in refused.json()["detail"]


def test_the_item_clocks_api_replays_the_timeline(world: World, history: list[WorkItem]) -> None:
    late = history[3]
    _, secret = do_create_api_token(world.member_a, name="clocks")
    from django.test import Client as HttpClient

    body = (
        HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
        .get(f"/api/v1/work-items/{late.pk}/sla")
        .json()
    )
    [turnaround] = body["clocks"]
    assert turnaround["kind"] == "turnaround" and turnaround["status"] == "breached"
    assert turnaround["elapsed_minutes"] == 90
    assert turnaround["used_percent"] == 150.0


def test_a_miss_counts_on_the_day_it_happened_even_when_delivered_later(world: World) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=60, turnaround_business=False
    )
    late = _delivered(world, world.engagement_a, world.member_a, 60 * 30)  # a day and more
    do_replay_clocks([late.pk])
    missed_on = (late.created_at + dt.timedelta(hours=1)).astimezone(UTC).date()
    delivered_on = (late.created_at + dt.timedelta(hours=30)).astimezone(UTC).date()
    assert missed_on != delivered_on

    def on(day: dt.date) -> tuple[int, int]:
        figures = attainment_figures(
            world.lead, kind=ClockKind.TURNAROUND, start=day, end=day, group_by="engagement"
        )
        return figures.total.met, figures.total.breached

    assert on(missed_on) == (0, 1)
    assert on(delivered_on) == (0, 0)


def test_impossible_dates_and_other_clients_engagements_are_refused(world: World) -> None:
    from django.test import Client as HttpClient

    _, secret = do_create_api_token(world.member_a, name="figures")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for query in ({"end": "0001-01-05"}, {"start": "9999-12-30", "end": "9999-12-31"}):
        answer = http.get("/api/v1/sla/attainment", query)
        assert answer.status_code == 422, query
        assert "Ask for days between" in answer.json()["detail"]
    page = login(world.member_a).get(
        "/service-levels/", {"start": "9999-12-30", "end": "9999-12-31"}
    )
    assert page.status_code == 400 and "Ask for days between" in page.content.decode()
    theirs = http.get("/api/v1/sla/attainment", {"engagement_id": world.engagement_b.pk})
    missing = http.get("/api/v1/sla/attainment", {"engagement_id": 999999})
    assert theirs.status_code == missing.status_code == 404


def test_a_miss_counts_for_whoever_holds_the_item_now(
    world: World, history: list[WorkItem]
) -> None:
    def by_agent() -> dict[str, tuple[int, int]]:
        rows = _figures(world.lead, group_by="agent").rows  # type: ignore[attr-defined]
        return {row.key: (row.met, row.breached) for row in rows}

    agent = str(world.agent.pk)
    assert by_agent() == {agent: (4, 1), "": (0, 1)}  # the overdue item is nobody's yet

    overdue = history[4]
    do_assign(world.lead, overdue, world.agent.agent)
    do_replay_clocks([overdue.pk])  # as after every committed change
    assert by_agent() == {agent: (4, 2)}
    site = _figures(world.lead, group_by="site").rows  # type: ignore[attr-defined]
    assert [(row.label, row.met, row.breached) for row in site] == [
        (world.agent.agent.site.name, 4, 2)
    ]
