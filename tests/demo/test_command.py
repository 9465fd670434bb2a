"""The demo command on a fresh database, and the same seed giving the same demo."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from relaydesk.demo.builder import DEMO_LOGINS, DEMO_PASSWORD, build_demo
from relaydesk.demo.plan import plan_items, plan_people
from relaydesk.quality.models import Dispute, Review
from relaydesk.work.models import WorkItem

from .conftest import NOW


class _Undo(Exception):
    """Raised to roll a build back."""


def _snapshot() -> list[tuple[str, str, str, int, list[tuple[str, bool, str, str]]]]:
    return [
        (
            item.title,
            item.state,
            item.owner.email if item.owner else "",
            item.events.count(),
            # Its reviews: score, outcome, comments, and any dispute's outcome.
            [
                (str(r.score), r.passed, r.comments, r.dispute.state if _disputed(r) else "")
                for r in item.reviews.order_by("created_at")
            ],
        )
        for item in WorkItem.objects.select_related("owner").order_by("pk")
    ]


def _disputed(review: Review) -> bool:
    return Dispute.objects.filter(review=review).exists()


def test_the_plan_is_a_pure_function_of_the_seed():
    assert plan_items(5, 30, NOW) == plan_items(5, 30, NOW)
    assert plan_people(5, NOW.date()) == plan_people(5, NOW.date())
    assert [i.title for i in plan_items(5, 3, NOW)] != [i.title for i in plan_items(6, 3, NOW)]


def test_thirty_days_make_a_believable_volume():
    items = plan_items(7, 30, NOW)
    assert 1400 <= len(items) <= 2500
    assert [i.submitted_at for i in items] == sorted(i.submitted_at for i in items)
    assert all(i.submitted_at < NOW for i in items)
    assert {i.client for i in items} == {"hartwell-cole", "northwind", "brightpath", "meridian"}
    assert any(i.language == "es" for i in items)
    weekday = [i for i in items if i.submitted_at.weekday() == 2]
    sunday = [i for i in items if i.submitted_at.weekday() == 6]
    assert len(weekday) > len(sunday)


@pytest.mark.django_db
def test_the_same_seed_builds_the_same_demo():
    with pytest.raises(_Undo), transaction.atomic():
        build_demo(seed=11, days=2, now=NOW)
        first = _snapshot()
        raise _Undo
    assert not WorkItem.objects.exists()
    # The second build gets other ids on PostgreSQL (rolled-back ids are not handed
    # back); nothing of the demo, QA sampling included, may depend on them.
    build_demo(seed=11, days=2, now=NOW)
    assert _snapshot() == first
    assert len(first) > 40
    assert any(reviews for *_, reviews in first)


@pytest.mark.django_db
def test_the_command_loads_a_fresh_database_and_prints_the_logins():
    out = StringIO()
    call_command("demo", "--days", "1", "--seed", "2", "--now", NOW.isoformat(), stdout=out)
    text = out.getvalue()
    assert "history: day 1/1," in text
    for role, name, email in DEMO_LOGINS:
        assert role in text and name in text and email in text
    assert DEMO_PASSWORD in text
    assert "Done in" in text
    assert WorkItem.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_nonsense():
    with pytest.raises(CommandError):
        call_command("demo", "--days", "0", stdout=StringIO())
