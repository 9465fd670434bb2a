"""Open items' clocks move when the back office changes what they count on: a business
calendar edited, an engagement's calendar swapped (on the engagement's own page or on its
client's), an SLA policy deleted (one, or several from the list)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django import forms
from django.test import Client as HttpClient

from relaydesk.catalog.models import Service
from relaydesk.sla.actions import do_replay_clocks, do_set_sla_policy
from relaydesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from relaydesk.work.actions import NewWorkItem, do_submit_work_item
from relaydesk.work.models import WorkItem
from tests.audit.test_recording import back_office_user
from tests.conftest import World, login

UTC = dt.UTC
pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 09:00 in New York (EST, UTC-5): the start of a business day.
SUBMITTED = dt.datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
# Eight business hours later on a 09:00-17:00 day: Monday 17:00 in New York.
DUE_ON_A_FULL_DAY = dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
# On 09:00-13:00 mornings: four hours on Monday, four on Tuesday, due Tuesday 13:00.
DUE_ON_MORNINGS = dt.datetime(2026, 3, 3, 18, 0, tzinfo=UTC)


def _open_item(world: World) -> WorkItem:
    """An item of engagement A submitted at ``SUBMITTED`` (still queued), its clocks replayed."""
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(
            engagement_id=world.engagement_a.pk, service_slug="data-entry", title="Key forms"
        ),
        at=SUBMITTED,
    )
    do_replay_clocks([item.pk])
    item.refresh_from_db()
    return item


def _due(item: WorkItem) -> dt.datetime | None:
    item.refresh_from_db()
    return item.due_at


def _calendar(name: str, hours: str) -> BusinessCalendar:
    return BusinessCalendar.objects.create(
        name=name, time_zone="America/New_York", working_hours=hours
    )


def _values(form: forms.BaseForm) -> dict[str, Any]:
    """What a browser posts for ``form`` left as it was shown."""
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        widget = bound.field.widget
        if isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value) or []):
                data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
        elif value is None:
            data[bound.html_name] = ""
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = str(value)
    return data


def _change_form(browser: HttpClient, url: str) -> dict[str, Any]:
    """The back office's change form at ``url`` as it would be posted unchanged, inlines
    included."""
    page = browser.get(url)
    assert page.status_code == 200
    data = _values(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        data |= _values(inline.formset.management_form)
        for form in inline.formset.forms:
            data |= _values(form)
    return data


def _saved(page: Any) -> None:
    assert page.status_code == 302, page.content.decode()[:2000]


@pytest.fixture
def eight_business_hours(world: World) -> SlaPolicy:
    """Engagement A promises a turnaround of eight business hours."""
    return do_set_sla_policy(world.lead, world.engagement_a, turnaround_minutes=8 * 60)


def test_editing_a_calendar_in_the_back_office_moves_the_due_times_of_its_open_items(
    world: World, eight_business_hours: SlaPolicy, django_capture_on_commit_callbacks: Any
) -> None:
    calendar = _calendar("New York office", "mon-fri 09:00-17:00")
    world.engagement_a.calendar = calendar
    world.engagement_a.save()
    item = _open_item(world)
    assert item.due_at == DUE_ON_A_FULL_DAY

    browser = login(back_office_user())
    url = f"/admin/sla/businesscalendar/{calendar.pk}/change/"
    data = _change_form(browser, url) | {"working_hours": "mon-fri 09:00-13:00"}
    with django_capture_on_commit_callbacks(execute=True):
        _saved(browser.post(url, data))

    assert _due(item) == DUE_ON_MORNINGS
    assert SlaClock.objects.get(item=item, kind="turnaround").due_at == DUE_ON_MORNINGS


def test_swapping_an_engagements_calendar_on_its_page_moves_its_open_items(
    world: World, eight_business_hours: SlaPolicy, django_capture_on_commit_callbacks: Any
) -> None:
    item = _open_item(world)  # no calendar: every hour counts, so due 8 h after submission
    assert item.due_at == SUBMITTED + dt.timedelta(hours=8)
    mornings = _calendar("Mornings", "mon-fri 09:00-13:00")

    browser = login(back_office_user())
    url = f"/admin/clients/engagement/{world.engagement_a.pk}/change/"
    data = _change_form(browser, url) | {"calendar": str(mornings.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        _saved(browser.post(url, data))

    assert _due(item) == DUE_ON_MORNINGS


def test_swapping_an_engagements_calendar_on_its_clients_page_moves_its_open_items(
    world: World, eight_business_hours: SlaPolicy, django_capture_on_commit_callbacks: Any
) -> None:
    world.engagement_a.calendar = _calendar("New York office", "mon-fri 09:00-17:00")
    world.engagement_a.save()
    item = _open_item(world)
    assert item.due_at == DUE_ON_A_FULL_DAY
    mornings = _calendar("Mornings", "mon-fri 09:00-13:00")

    browser = login(back_office_user())
    url = f"/admin/clients/client/{world.client_a.pk}/change/"
    data = _change_form(browser, url)
    [row] = [
        key.removesuffix("-id")
        for key, value in data.items()
        if key.endswith("-id") and value == str(world.engagement_a.pk)
    ]
    data[f"{row}-calendar"] = str(mornings.pk)
    with django_capture_on_commit_callbacks(execute=True):
        _saved(browser.post(url, data))

    world.engagement_a.refresh_from_db()
    assert world.engagement_a.calendar == mornings
    assert _due(item) == DUE_ON_MORNINGS


@pytest.fixture
def service_policy(world: World, django_capture_on_commit_callbacks: Any) -> SlaPolicy:
    """Engagement A promises 8 hours in calendar time, and 2 hours for data entry."""
    do_set_sla_policy(
        world.lead, world.engagement_a, turnaround_minutes=8 * 60, turnaround_business=False
    )
    return do_set_sla_policy(
        world.lead,
        world.engagement_a,
        service=Service.objects.get(slug="data-entry"),
        turnaround_minutes=2 * 60,
        turnaround_business=False,
    )


def test_deleting_a_policy_in_the_back_office_falls_back_to_the_engagements_default(
    world: World, service_policy: SlaPolicy, django_capture_on_commit_callbacks: Any
) -> None:
    item = _open_item(world)
    assert item.due_at == SUBMITTED + dt.timedelta(hours=2)

    browser = login(back_office_user())
    with django_capture_on_commit_callbacks(execute=True):
        _saved(browser.post(f"/admin/sla/slapolicy/{service_policy.pk}/delete/", {"post": "yes"}))

    assert not SlaPolicy.objects.filter(pk=service_policy.pk).exists()
    assert _due(item) == SUBMITTED + dt.timedelta(hours=8)


def test_deleting_policies_from_the_back_office_list_replays_their_engagements(
    world: World, service_policy: SlaPolicy, django_capture_on_commit_callbacks: Any
) -> None:
    item = _open_item(world)
    other, _ = do_submit_work_item(
        world.member_b,
        NewWorkItem(
            engagement_id=world.engagement_b.pk, service_slug="data-entry", title="Key orders"
        ),
        at=SUBMITTED,
    )
    do_set_sla_policy(
        world.lead, world.engagement_b, turnaround_minutes=3 * 60, turnaround_business=False
    )
    do_replay_clocks([item.pk, other.pk])
    assert _due(other) == SUBMITTED + dt.timedelta(hours=3)

    browser = login(back_office_user())
    every_policy = [str(pk) for pk in SlaPolicy.objects.values_list("pk", flat=True)]
    with django_capture_on_commit_callbacks(execute=True):
        _saved(
            browser.post(
                "/admin/sla/slapolicy/",
                {"action": "delete_selected", "_selected_action": every_policy, "post": "yes"},
            )
        )

    # Nothing is promised any more: no clocks, and no due time without a hard deadline.
    assert not SlaPolicy.objects.exists()
    assert not SlaClock.objects.filter(item__in=[item, other]).exists()
    assert _due(item) is None and _due(other) is None
