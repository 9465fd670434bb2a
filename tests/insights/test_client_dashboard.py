"""The client dashboard: hand-worked figures, the same on the page, in each chart's CSV and
in the objectives, and a client's own only."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.core.sla import ClockKind
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.insights.actions import (
    do_agree_objective,
    do_propose_objective,
    do_retire_objective,
)
from relaydesk.insights.objectives import standing
from relaydesk.insights.queries import client_dashboard
from relaydesk.sla.actions import do_replay_clocks, do_set_sla_policy
from relaydesk.sla.queries import attainment_figures
from relaydesk.work.actions import NewWorkItem, do_assign, do_submit_work_item, do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import World, login

pytestmark = pytest.mark.django_db
UTC = dt.UTC
H = dt.timedelta(hours=1)


def _noon(days_ago: int) -> dt.datetime:
    today = timezone.now().astimezone(UTC).date()
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12), tzinfo=UTC)


def _received(world: World, at: dt.datetime, *, title: str = "Key forms", member=None) -> WorkItem:
    item, _ = do_submit_work_item(
        member or world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk
            if member is None or member == world.member_a
            else world.engagement_b.pk,
            service_slug="data-entry",
            title=title,
        ),
        at=at,
    )
    return item


def _deliver(world: World, item: WorkItem, at: dt.datetime) -> None:
    received = item.created_at
    do_assign(world.lead, item, world.agent.agent, at=received + dt.timedelta(minutes=1))
    do_transition(world.agent, item, Action.START, at=received + dt.timedelta(minutes=2))
    do_transition(world.agent, item, Action.COMPLETE, at=at)


@pytest.fixture
def week(world: World) -> dict[str, WorkItem]:
    """Client A over the last days (UTC noon): three received 4 days ago, two delivered
    3 days ago (after 2 h and after 26 h... see the test), one cancelled 2 days ago; client
    B one item received and delivered 3 days ago."""
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    first = _received(world, _noon(4) - 2 * H, title="first")
    second = _received(world, _noon(4), title="second")
    third = _received(world, _noon(4) + H, title="third")
    # Before the period: one received 20 days ago and never delivered (already backlog).
    old = _received(world, _noon(20), title="old")
    _deliver(world, first, _noon(4) + 2 * H)  # 4 h after receipt, on day -4
    _deliver(world, second, _noon(3) + 2 * H)  # 26 h after receipt, on day -3
    do_transition(world.member_a, third, Action.CANCEL, at=_noon(2))
    theirs = _received(world, _noon(3), member=world.member_b)
    _deliver(world, theirs, _noon(3) + 5 * H)
    return {"first": first, "second": second, "third": third, "old": old, "theirs": theirs}


def _period(days: int = 6) -> tuple[dt.date, dt.date]:
    today = timezone.now().astimezone(UTC).date()
    return today - dt.timedelta(days=days - 1), today


def test_hand_worked_volume_backlog_and_turnaround(world: World, week: dict) -> None:
    start, end = _period()
    figures = client_dashboard(world.client_admin_a, start=start, end=end)

    volume = figures.chart("volume")
    assert volume is not None
    received, delivered = (list(s.values) for s in volume.series)
    # Days: -5 .. today.
    assert received == [0, 3, 0, 0, 0, 0]
    assert delivered == [0, 1, 1, 0, 0, 0]
    backlog = figures.chart("backlog")
    assert backlog is not None
    # The old item, then +3 received -1 delivered, -1 delivered, -1 cancelled.
    assert list(backlog.series[0].values) == [1, 3, 2, 1, 1, 1]
    assert (figures.received, figures.delivered, figures.backlog) == (3, 2, 1)
    # 4 h and 26 h: a mean of 15 h; one under 8 h ("4–8 h"), one of 1–2 days.
    assert figures.mean_turnaround == Decimal("15.0")
    turnaround = figures.chart("turnaround")
    assert turnaround is not None
    assert list(turnaround.series[0].values) == [0, 1, 0, 1, 0, 0, 0]
    services = figures.chart("services")
    assert services is not None and services.labels == ["Data entry"]
    assert [list(s.values) for s in services.series] == [[3], [2]]


def test_the_page_and_each_charts_csv_show_the_same_figures(world: World, week: dict) -> None:
    start, end = _period()
    figures = client_dashboard(world.client_admin_a, start=start, end=end)
    browser = login(world.client_admin_a)
    query = f"start={start}&end={end}"
    page = browser.get(f"/dashboard/?{query}")
    assert page.status_code == 200
    html = page.content.decode()
    for chart in figures.charts:
        assert f'id="{chart.dom_id}"' in html or chart.is_empty
        response = browser.get(f"/dashboard/?{query}&chart={chart.key}&format=csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == [chart.label_heading, *(s.label for s in chart.series)]
        assert [r[0] for r in rows[1:]] == list(chart.labels)
        for n, series in enumerate(chart.series):
            assert [r[n + 1] for r in rows[1:]] == [
                "" if v is None else str(v) for v in series.values
            ]
    unknown = browser.get(f"/dashboard/?{query}&chart=nope&format=csv")
    assert unknown.status_code == 400
    assert "Name one of the dashboard's charts" in unknown.content.decode()


def test_a_client_sees_only_its_own_work(world: World, week: dict) -> None:
    start, end = _period()
    theirs = client_dashboard(world.client_admin_b, start=start, end=end)
    assert (theirs.received, theirs.delivered) == (1, 1)
    page = login(world.member_b).get(f"/dashboard/?engagement={world.engagement_a.pk}")
    assert page.status_code == 400  # another client's engagement is not on their list
    provider = client_dashboard(world.lead, start=start, end=end)
    assert (provider.received, provider.delivered) == (4, 3)


@pytest.mark.parametrize("who", ["agent", "qa"])
def test_agents_and_reviewers_have_no_dashboard(world: World, who: str) -> None:
    user = getattr(world, who)
    assert login(user).get("/dashboard/").status_code == 403
    start, end = _period()
    with pytest.raises(NotAllowed):
        client_dashboard(user, start=start, end=end)


def test_bad_periods_are_clear_errors(world: World) -> None:
    browser = login(world.client_admin_a)
    reversed_period = browser.get("/dashboard/?start=2026-05-10&end=2026-05-01")
    assert reversed_period.status_code == 400
    assert "The period ends before it starts." in reversed_period.content.decode()
    assert browser.get("/dashboard/?start=1990-01-01&end=2026-05-01").status_code == 400


def test_an_objective_is_proposed_agreed_and_agrees_with_the_service_levels_page(
    world: World,
) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=60, turnaround_business=False
    )
    items = []
    for minutes in (30, 40, 90):
        item = _received(world, timezone.now() - dt.timedelta(days=1))
        _deliver(world, item, item.created_at + dt.timedelta(minutes=minutes))
        items.append(item.pk)
    do_replay_clocks(items)
    objective = do_propose_objective(
        world.client_admin_a, world.engagement_a, metric="sla_attainment", target="95"
    )
    with pytest.raises(Conflict, match="the provider"):
        do_agree_objective(world.client_admin_a, objective)
    do_agree_objective(world.lead, objective)
    objective.refresh_from_db()
    assert objective.is_agreed and objective.agreed_by == world.lead

    today = timezone.now().astimezone(UTC).date()
    page = attainment_figures(
        world.client_admin_a,
        kind=ClockKind.TURNAROUND,
        start=today - dt.timedelta(days=29),
        end=today,
        engagement_id=world.engagement_a.pk,
    )
    assert page.total.percent == 66.7  # two of three on time
    seen = standing(world.client_admin_a, objective)
    assert seen.value == Decimal("66.7") and seen.status == "missed"
    html = login(world.client_admin_a).get("/dashboard/").content.decode()
    assert "Turnaround SLA attainment" in html and "66.7 %" in html and "Missed" in html


@pytest.mark.parametrize(
    ("metric", "target", "message"),
    [
        ("sla_attainment", "120", "at most 100"),
        ("backlog_ceiling", "12.5", "whole number"),
        ("turnaround_hours", "0", "more than zero"),
        ("quality_score", "lots", "as a number"),
        ("quality_score", "-1", "zero or more"),
        ("speed", "1", "Choose one of"),
    ],
)
def test_bad_targets_are_refused_and_nothing_is_stored(
    world: World, metric: str, target: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        do_propose_objective(world.client_admin_a, world.engagement_a, metric=metric, target=target)
    response = login(world.client_admin_a).post(
        "/dashboard/objectives/new/",
        {"engagement": world.engagement_a.pk, "metric": metric, "target": target},
    )
    assert response.status_code == 400
    from relaydesk.insights.models import Objective

    assert not Objective.objects.exists()


def test_a_new_target_replaces_the_old_which_stays_on_record(world: World) -> None:
    from relaydesk.insights.models import Objective

    first = do_propose_objective(
        world.lead, world.engagement_a, metric="backlog_ceiling", target=50
    )
    do_agree_objective(world.client_admin_a, first)
    second = do_propose_objective(
        world.client_admin_a, world.engagement_a, metric="backlog_ceiling", target=40
    )
    first.refresh_from_db()
    assert first.retired_at is not None and second.retired_at is None
    assert Objective.objects.count() == 2
    do_retire_objective(world.lead, second)
    with pytest.raises(Conflict):
        do_retire_objective(world.lead, second)
    page = login(world.client_admin_a).get("/dashboard/objectives/")
    assert "No objectives yet." in page.content.decode()


def test_objectives_never_cross_clients(world: World) -> None:
    theirs = do_propose_objective(
        world.client_admin_b, world.engagement_b, metric="monthly_volume", target=100
    )
    with pytest.raises(NotFound):
        do_propose_objective(
            world.client_admin_a, world.engagement_b, metric="monthly_volume", target=1
        )
    with pytest.raises(NotFound):
        do_agree_objective(world.client_admin_a, theirs)
    browser = login(world.client_admin_a)
    assert browser.post(f"/dashboard/objectives/{theirs.pk}/agree/").status_code == 404
    listed = browser.get("/dashboard/objectives/").content.decode()
    assert "No objectives yet." in listed and world.engagement_b.name not in listed
    # A client's member sees objectives but does not set them.
    member = login(world.member_a)
    assert member.get("/dashboard/objectives/").status_code == 200
    refused = member.post(
        "/dashboard/objectives/new/",
        {"engagement": world.engagement_a.pk, "metric": "backlog_ceiling", "target": "5"},
    )
    assert refused.status_code == 403


def test_the_api_gives_the_pages_figures_and_sets_objectives(world: World, week: dict) -> None:
    from django.test import Client as HttpClient

    from relaydesk.accounts.actions import do_create_api_token

    start, end = _period()
    secret = do_create_api_token(world.client_admin_a, name="dash")[1]
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = api.get(f"/api/v1/dashboard?start={start}&end={end}").json()
    figures = client_dashboard(world.client_admin_a, start=start, end=end)
    assert (body["received"], body["delivered"], body["backlog"]) == (3, 2, 1)
    assert body["mean_turnaround_hours"] == "15.0"
    volume = next(c for c in body["charts"] if c["key"] == "volume")
    chart = figures.chart("volume")
    assert chart is not None
    assert volume["labels"] == list(chart.labels)
    assert [s["values"] for s in volume["series"]] == [
        [None if v is None else float(v) for v in s.values] for s in chart.series
    ]
    assert api.get(f"/api/v1/dashboard?engagement_id={world.engagement_b.pk}").status_code == 404
    assert api.get("/api/v1/dashboard?start=2026-05-10&end=2026-05-01").status_code in (400, 422)

    made = api.post(
        "/api/v1/objectives",
        {"engagement_id": world.engagement_a.pk, "metric": "backlog_ceiling", "target": "2"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["value"] == "1" and made.json()["status"] == "met"
    bad = api.post(
        "/api/v1/objectives",
        {"engagement_id": world.engagement_a.pk, "metric": "sla_attainment", "target": "101"},
        content_type="application/json",
    )
    assert bad.status_code == 422, bad.content
    assert "at most 100" in bad.json()["detail"]
    own = api.post(f"/api/v1/objectives/{made.json()['id']}/agree")
    assert own.status_code == 409
    listed = api.get("/api/v1/objectives").json()
    assert [o["metric"] for o in listed] == ["backlog_ceiling"]


def test_cost_follows_each_engagements_pricing(world: World) -> None:
    from relaydesk.clients.models import Engagement, PricingBasis
    from relaydesk.insights.daily import CountedWork, WorkScope
    from relaydesk.insights.measures import refresh_measure
    from relaydesk.insights.queries import cost_by_day

    Service.objects.filter(slug="data-entry").update(review_policy="none")
    # Per item at 12.50: two items delivered yesterday.
    Engagement.objects.filter(pk=world.engagement_a.pk).update(
        pricing_basis=PricingBasis.PER_ITEM, rate=Decimal("12.50"), currency="USD"
    )
    for _ in range(2):
        item = _received(world, _noon(1) - 5 * H)
        _deliver(world, item, _noon(1))
    # Per hour at 30 EUR: one item worked 1 h 30 min (started 2 min after receipt).
    Engagement.objects.filter(pk=world.engagement_b.pk).update(
        pricing_basis=PricingBasis.PER_HOUR, rate=Decimal(30), currency="EUR"
    )
    theirs = _received(world, _noon(1) - 2 * H, member=world.member_b)
    _deliver(world, theirs, theirs.created_at + dt.timedelta(minutes=92))
    refresh_measure(theirs.pk)

    start, end = _period(3)
    everyone = CountedWork(WorkScope(client_id=None), start, end)
    costs = {c.currency: c for c in cost_by_day(everyone, Engagement.objects.all())}
    assert costs["USD"].total == Decimal("25.00")
    assert costs["USD"].per_day == [Decimal(0), Decimal("25.00"), Decimal(0)]
    assert costs["EUR"].total == Decimal("45.00")
    # Per full-time equivalent: 3,650 a month for one (no dedicated agents) is 120 a day.
    Engagement.objects.filter(pk=world.engagement_a.pk).update(
        pricing_basis=PricingBasis.PER_FTE, rate=Decimal(3650)
    )
    fte = {c.currency: c for c in cost_by_day(everyone, Engagement.objects.all())}
    assert fte["USD"].per_day == [Decimal("120.00")] * 3
