"""What a client's people see of the provider's QA on an item's timeline.

Given an item that a QA reviewer first returned for rework with a failing score and
then passed with a perfect one, when the client's admin reads the item page, the
API's timeline of the item and the client's export, then they see that the work
passed review and was delivered, and at most that it went back into work between
the two reviews; never a score, the reviewer's comments, the sampling decision or
the failed verdict. Provider people on the client's timeline are named the way
agents are, so the approval names its reviewer as work started names its agent.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token, do_create_user
from relaydesk.accounts.models import User
from relaydesk.core.lifecycle import Action
from relaydesk.core.roles import Role
from relaydesk.quality.actions import do_submit_review
from relaydesk.work.actions import do_transition
from relaydesk.work.models import WorkItem
from tests.conftest import PASSWORD, World, login
from tests.quality.support import (
    LOW,
    PASSING,
    item_in_review,
    publish_scorecard,
    review_everything,
)

RETURN_COMMENTS = "Re-key lines 3 to 9; the dates were misread again."
PASS_COMMENTS = "Clean second pass; worth showing at calibration."
# What only the provider may know about the two reviews and why the item was sampled.
PROVIDER_ONLY = (
    RETURN_COMMENTS,
    PASS_COMMENTS,
    "43.75",  # the failing score
    "100.00",  # the passing score
    "QA sampling",
    "sampled at the base rate",
    "Returned for rework",
    "return_for_rework",
    "qa_sampling",
    "Data entry QA",  # the scorecard
)


@dataclass
class Reviewed:
    """An item returned once by QA, reworked, passed and delivered; and its reviewer."""

    item: WorkItem
    reviewer: User


@pytest.fixture
def reviewed(world: World) -> Reviewed:
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    reviewer = do_create_user(
        world.admin,
        email="rosalind@provider.test",
        full_name="Rosalind Quayle",
        role=Role.QA_REVIEWER,
        password=PASSWORD,
    )
    item = item_in_review(world)
    do_submit_review(reviewer, item, LOW, RETURN_COMMENTS)
    do_transition(world.agent, item, Action.START)
    do_transition(world.agent, item, Action.COMPLETE)
    do_submit_review(reviewer, item, {**PASSING, "notes": 1}, PASS_COMMENTS)
    item.refresh_from_db()
    assert item.state == "delivered"
    return Reviewed(item, reviewer)


def _api(user: User) -> HttpClient:
    _, secret = do_create_api_token(user, name="client view test")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _exported_item(world: World, item: WorkItem) -> dict[str, Any]:
    download = login(world.client_admin_a).post("/portal/export/")
    assert download.status_code == 200
    data = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        lines = archive.read("items.jsonl").decode().splitlines()
    records = [json.loads(line) for line in lines]
    return next(r for r in records if r["id"] == item.pk)


def test_the_item_page_shows_the_client_the_work_passed_review_and_nothing_of_the_reviews(
    world: World, reviewed: Reviewed
) -> None:
    page = login(world.client_admin_a).get(f"/items/{reviewed.item.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    timeline = html[html.index("<h2>Timeline</h2>") :]
    assert "Approved in review" in timeline and "state-delivered" in timeline
    for secret in PROVIDER_ONLY:
        assert secret not in html, secret
    assert 'id="qa"' not in html


def test_the_api_timeline_shows_the_client_the_approval_without_score_comments_or_sampling(
    world: World, reviewed: Reviewed
) -> None:
    answer = _api(world.client_admin_a).get(f"/api/v1/work-items/{reviewed.item.pk}/events")

    assert answer.status_code == 200
    events = answer.json()
    kinds = [e["kind"] for e in events]
    assert kinds.count("approve") == 1 and kinds.count("complete") == 2
    assert "return_for_rework" not in kinds and "qa_sampling" not in kinds
    approved = next(e for e in events if e["kind"] == "approve")
    assert (approved["from_state"], approved["to_state"], approved["note"]) == (
        "in_review",
        "delivered",
        "",
    )
    # At most: work started again from rework, between the two completions.
    restarted = [e for e in events if e["kind"] == "start"][-1]
    assert restarted["from_state"] == "rework" and restarted["note"] == ""
    for secret in PROVIDER_ONLY:
        assert secret not in answer.content.decode(), secret


def test_the_client_timeline_names_the_reviewer_as_it_names_the_agent(
    world: World, reviewed: Reviewed
) -> None:
    events = _api(world.client_admin_a).get(f"/api/v1/work-items/{reviewed.item.pk}/events")

    actors = {e["kind"]: e["actor"] for e in events.json()}
    assert actors["start"] == world.agent.full_name
    assert actors["approve"] == reviewed.reviewer.full_name


def test_the_client_export_holds_the_same_timeline_as_the_api(
    world: World, reviewed: Reviewed
) -> None:
    record = _exported_item(world, reviewed.item)

    api = _api(world.client_admin_a).get(f"/api/v1/work-items/{reviewed.item.pk}/events")
    assert [e["kind"] for e in record["timeline"]] == [e["kind"] for e in api.json()]
    approved = next(e for e in record["timeline"] if e["kind"] == "approve")
    assert approved["label"] == "Approved in review" and approved["to_state"] == "delivered"
    assert approved["note"] == "" and approved["data"] == {}
    assert approved["actor"] == reviewed.reviewer.full_name
    exported = json.dumps(record)
    for secret in PROVIDER_ONLY:
        assert secret not in exported, secret


def test_the_provider_still_sees_both_verdicts_the_scores_and_why_the_item_was_sampled(
    world: World, reviewed: Reviewed
) -> None:
    events = _api(world.lead).get(f"/api/v1/work-items/{reviewed.item.pk}/events").json()

    kinds = [e["kind"] for e in events]
    assert kinds.count("qa_sampling") == 2 and kinds.count("return_for_rework") == 1
    returned = next(e for e in events if e["kind"] == "return_for_rework")
    assert returned["note"] == RETURN_COMMENTS
    assert returned["actor"] == reviewed.reviewer.full_name
    page = login(world.lead).get(f"/items/{reviewed.item.pk}/").content.decode()
    for known in (RETURN_COMMENTS, PASS_COMMENTS, "43.75", "100.00", "QA sampling"):
        assert known in page, known
