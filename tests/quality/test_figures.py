"""Quality figures: worked out by hand, the same on the page, in the CSV and the API, each
client seeing only its own; and the agent's own reviews, disputable from their page."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.core import quality as qa
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.quality.actions import do_decide_dispute, do_dispute_review, do_submit_review
from relaydesk.quality.models import Dispute, Review
from relaydesk.quality.queries import quality_figures
from tests.conftest import World, login
from tests.quality.support import (
    LEAKED,
    LOW,
    PASSING,
    item_in_review,
    publish_scorecard,
    review_everything,
)

pytestmark = pytest.mark.django_db

# 75 on accuracy (4 of 5), 100 on privacy: (3 * 75 + 100) / 4 = 81.25, a pass with a defect.
GOOD_NOT_PERFECT = {"accuracy": 4, "privacy": 1}


@pytest.fixture
def reviewed(world: World) -> dict[str, Review]:
    """Client A: a perfect pass, a low fail (later overturned), an auto-fail, a pass with an
    accuracy defect. Client B: one perfect pass."""
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    review_everything(world, world.engagement_b)
    made = {}
    for name, answers in [
        ("perfect", PASSING),
        ("low", LOW),
        ("leaked", LEAKED),
        ("good", GOOD_NOT_PERFECT),
    ]:
        item = item_in_review(world, title=f"Claim forms: {name}")
        made[name] = do_submit_review(world.qa, item, answers, "See the checklist.")
    made["other"] = do_submit_review(
        world.qa, item_in_review(world, world.engagement_b), PASSING, ""
    )
    dispute = do_dispute_review(world.agent, made["low"], "The scan was illegible.")
    do_decide_dispute(world.lead, dispute, False, "Agreed: the scan could not be read.")
    return made


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def test_the_figures_are_the_ones_worked_out_by_hand(world: World, reviewed: dict) -> None:
    figures = quality_figures(world.lead, start=_today(), end=_today(), group_by="engagement")
    by_label = {row.label: row for row in figures.rows}
    mine = by_label[world.engagement_a.name]
    # Standing: 100, 0 (auto-fail) and 81.25; the overturned 43.75 counts only as overturned.
    assert (mine.reviews, mine.passed, mine.failed, mine.auto_failed, mine.overturned) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert mine.mean_score == 60.4  # 181.25 / 3
    assert mine.pass_rate == 66.7
    # Scored criteria (the bonus left out): 2 per review, at full marks 2 + 1 + 1 of 6.
    assert mine.accuracy == 66.7
    assert mine.defects == {"Compliance": 1, "Accuracy": 1}
    assert mine.top_defect == "Accuracy"  # a tie goes to the name first in order
    theirs = by_label[world.engagement_b.name]
    assert (theirs.reviews, theirs.mean_score, theirs.accuracy, theirs.defects) == (
        1,
        100.0,
        100.0,
        {},
    )
    assert figures.total.reviews == 4 and figures.total.overturned == 1
    assert figures.total.mean_score == 70.3  # 281.25 / 4
    assert figures.categories == [("Accuracy", 1, 25.0), ("Compliance", 1, 25.0)]


def test_the_figures_follow_the_core_definitions(world: World, reviewed: dict) -> None:
    standing = [r for r in reviewed.values() if r.client_id == world.client_a.pk]
    standing = [r for r in standing if not Review.objects.get(pk=r.pk).overturned]
    card = standing[0].scorecard_version.to_core()
    summary = qa.quality_summary(qa.score_review(card, r.answers) for r in standing)
    row = quality_figures(
        world.lead,
        start=_today(),
        end=_today(),
        group_by="engagement",
        engagement_id=world.engagement_a.pk,
    ).total
    assert summary.count == row.reviews
    assert round(summary.mean_score or 0, 1) == row.mean_score
    assert round((summary.pass_rate or 0) * 100, 1) == row.pass_rate
    assert round((summary.accuracy or 0) * 100, 1) == row.accuracy
    assert summary.auto_fail_count == row.auto_failed
    assert summary.defect_counts == row.defects


def test_page_csv_and_api_give_the_same_figures(world: World, reviewed: dict) -> None:
    query = {"group_by": "service"}
    browser = login(world.client_admin_a)
    page = browser.get("/quality/", query)
    assert page.status_code == 200
    text = page.content.decode()
    assert "60.4" in text and "66.7 %" in text and "passed (2 of 3)" in text
    assert "Compliance" in text and "Accuracy" in text
    exported = browser.get("/quality/", {**query, "format": "csv"})
    assert exported["Content-Disposition"].startswith('attachment; filename="quality-by-service')
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    columns = ("group", "reviews", "quality_score", "pass_rate_percent", "accuracy_percent")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        ("Data entry", "3", "60.4", "66.7", "66.7"),
        ("All", "3", "60.4", "66.7", "66.7"),
    ]
    assert rows[-1]["defects: Accuracy"] == "1" and rows[-1]["overturned"] == "1"
    _, secret = do_create_api_token(world.client_admin_a, name="quality")
    answer = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/quality/figures", query)
    assert answer.status_code == 200
    body = answer.json()
    fields = ("label", *columns[1:])
    assert [tuple(r[f] for f in fields) for r in body["rows"]] == [
        ("Data entry", 3, 60.4, 66.7, 66.7)
    ]
    assert body["total"]["defects"] == [
        {"category": "Accuracy", "reviews": 1, "percent": 33.3},
        {"category": "Compliance", "reviews": 1, "percent": 33.3},
    ]


def test_a_client_sees_only_its_own_figures_and_never_by_agent(
    world: World, reviewed: dict
) -> None:
    figures = quality_figures(world.member_b, start=_today(), end=_today(), group_by="service")
    assert figures.total.reviews == 1 and figures.total.mean_score == 100.0
    with pytest.raises(Invalid, match="Group by one of"):
        quality_figures(world.member_b, start=_today(), end=_today(), group_by="agent")
    page = login(world.member_b).get("/quality/").content.decode()
    assert "See the checklist" not in page and world.qa.full_name not in page
    assert world.agent.full_name not in page
    with pytest.raises(NotAllowed):
        quality_figures(world.agent, start=_today(), end=_today())
    assert login(world.agent).get("/quality/").status_code == 403


def test_by_agent_and_by_site_for_the_provider(world: World, reviewed: dict) -> None:
    by_agent = quality_figures(world.lead, start=_today(), end=_today(), group_by="agent")
    assert {row.label: row.reviews for row in by_agent.rows} == {
        world.agent.full_name: 3,
        world.other_agent.full_name: 1,
    }
    by_site = quality_figures(world.lead, start=_today(), end=_today(), group_by="site")
    assert sum(row.reviews for row in by_site.rows) == 4
    by_week = quality_figures(world.lead, start=_today(), end=_today(), group_by="week")
    assert [row.label.startswith("Week of") for row in by_week.rows] == [True]


def test_bad_filters_get_a_clear_answer(world: World) -> None:
    page = login(world.lead).get("/quality/", {"start": "2026-11-20", "end": "2026-11-01"})
    assert page.status_code == 400
    assert "The period ends before it starts." in page.content.decode()
    too_long = login(world.lead).get("/quality/", {"start": "2000-01-01", "end": "2026-01-01"})
    assert too_long.status_code == 400
    assert "Ask for at most three years at a time." in too_long.content.decode()
    # Reviewers score work; the figures are for leads and clients.
    assert login(world.qa).get("/quality/").status_code == 403
    _, secret = do_create_api_token(world.member_a, name="quality")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert http.get("/api/v1/quality/figures", {"group_by": "agent"}).status_code == 422
    theirs = http.get("/api/v1/quality/figures", {"engagement_id": world.engagement_b.pk})
    assert theirs.status_code == 404
    odd = http.get("/api/v1/quality/figures", {"start": "1999-01-01", "end": "2026-01-01"})
    assert odd.status_code == 422 and "Ask for days between" in odd.json()["detail"]


def test_an_agent_reads_and_disputes_their_reviews_on_their_own_page(
    world: World, reviewed: dict
) -> None:
    browser = login(world.agent)
    page = browser.get("/quality/mine/").content.decode()
    # The overturned review and the three others, each with its outcome.
    assert page.count('class="qa-result"') == 4
    assert "Overturned on dispute" in page and "Auto-failed" in page
    # A delivered item is no longer the agent's to open: its reference stays, its title goes.
    assert "Claim forms: perfect" not in page
    passed = reviewed["good"]
    answer = browser.post(
        f"/reviews/{passed.pk}/dispute/",
        {"reason": "Line 4 matched the source.", "return_to": "mine"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/quality/mine/"
    assert Dispute.objects.get(review=passed).reason == "Line 4 matched the source."
    again = browser.get("/quality/mine/").content.decode()
    assert "Line 4 matched the source." in again
    # Someone else's work never shows.
    assert (
        login(world.other_agent).get("/quality/mine/").content.decode().count('class="qa-result"')
        == 1
    )


def test_reviews_stored_before_the_figures_were_kept_get_them_on_migration(
    world: World,
) -> None:
    version = publish_scorecard(world)
    review_everything(world, world.engagement_a)
    item = item_in_review(world)
    # A review as stored before accuracy and defects were kept: the new columns at defaults.
    old = Review.objects.create(
        client_id=item.client_id,
        item=item,
        reviewer=world.qa,
        agent=world.agent,
        scorecard_version=version,
        answers=GOOD_NOT_PERFECT,
        score="81.25",
        passed=True,
    )
    migration = importlib.import_module("relaydesk.quality.migrations.0002_review_figures")

    class Editor:
        connection = connection

    migration.score_stored_reviews(django_apps, Editor())
    old.refresh_from_db()
    assert (old.counted_criteria, old.full_marks_criteria, old.defect_categories) == (
        2,
        1,
        ["Accuracy"],
    )


def test_the_clients_audit_trail_shows_no_scores_or_disputes(world: World, reviewed: dict) -> None:
    from relaydesk.audit.queries import visible_audit_records

    theirs = visible_audit_records(world.client_admin_a)
    assert theirs.filter(action="work_item.approve").exists()  # the outcome stays
    assert not theirs.filter(action__startswith="quality.").exists()
    # The failed reviews sent their items back; the reviewer's comments stay with the provider.
    assert not theirs.filter(action="work_item.return_for_rework").exists()
    page = login(world.client_admin_a).get("/portal/audit/").content.decode()
    assert "43.75" not in page and "The scan was illegible." not in page
    everything = visible_audit_records(world.admin)
    assert everything.filter(action="quality.review").count() == 5
    # A refusal on a review (a second dispute, say) is the provider's business too.
    second = login(world.agent).post(
        f"/reviews/{reviewed['low'].pk}/dispute/", {"reason": "Again."}
    )
    assert second.status_code == 302
    refused = login(world.qa).post(f"/reviews/{reviewed['low'].pk}/dispute/", {"reason": "x"})
    assert refused.status_code in (302, 404)
    denied = visible_audit_records(world.admin).filter(action="permission.denied")
    assert denied.filter(object_type="Review", client=world.client_a).exists()
    assert not visible_audit_records(world.client_admin_a).filter(object_type="Review").exists()
