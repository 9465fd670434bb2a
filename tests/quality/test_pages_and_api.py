"""The QA pages and API: the scorecard form on the item page, review results, disputes, and
404 for anyone outside."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.quality.actions import do_dispute_review, do_submit_review
from relaydesk.quality.models import Dispute, Review
from relaydesk.work.models import WorkItem
from tests.conftest import World, login
from tests.quality.support import LOW, PASSING, item_in_review, publish_scorecard, review_everything


def _api(user: User) -> HttpClient:
    _, secret = do_create_api_token(user, name="qa test")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def in_review(world: World) -> WorkItem:
    publish_scorecard(world)
    review_everything(world, world.engagement_a)
    return item_in_review(world)


def test_the_reviewer_scores_from_the_item_page(world: World, in_review: WorkItem) -> None:
    browser = login(world.qa)
    page = browser.get(f"/items/{in_review.pk}/").content.decode()
    assert 'id="scorecard"' in page
    assert "In review: sampled at the base rate of 100 %." in page
    # 1-5 from five down, yes/no, and N/A for each criterion.
    assert re.findall(r'name="answer-accuracy" value="(\w+)"', page) == [
        "5",
        "4",
        "3",
        "2",
        "1",
        "na",
    ]
    assert re.findall(r'name="answer-privacy" value="(\w+)"', page) == ["1", "0", "na"]

    answer = browser.post(
        f"/items/{in_review.pk}/review/",
        {
            "answer-accuracy": "2",
            "answer-privacy": "1",
            "answer-notes": "na",
            "comments": "Re-key.",
        },
    )

    assert answer.status_code == 302
    in_review.refresh_from_db()
    assert in_review.state == "rework"
    shown = browser.get(f"/items/{in_review.pk}/").content.decode()
    assert "43.75" in shown and "Failed" in shown and 'id="scorecard"' not in shown


def test_a_refused_review_shows_the_form_again_with_the_answers(
    world: World, in_review: WorkItem
) -> None:
    answer = login(world.qa).post(
        f"/items/{in_review.pk}/review/",
        {"answer-accuracy": "2", "answer-privacy": "1", "comments": ""},
    )

    page = answer.content.decode()
    assert answer.status_code == 422
    assert "say in the comments what must be reworked" in page
    assert 'name="answer-accuracy" value="2" checked' in page
    in_review.refresh_from_db()
    assert in_review.state == "in_review"


def test_an_answer_that_is_no_choice_is_refused_not_crashed_on(
    world: World, in_review: WorkItem
) -> None:
    for odd in ("²", "-1", "x"):
        answer = login(world.qa).post(
            f"/items/{in_review.pk}/review/",
            {"answer-accuracy": odd, "answer-privacy": "1", "comments": ""},
        )
        assert answer.status_code == 422, odd
        assert "is not one of the choices" in answer.content.decode()


def test_leads_see_the_result_the_agent_may_dispute_once_the_client_sees_none(
    world: World, in_review: WorkItem
) -> None:
    do_submit_review(world.qa, in_review, {**LOW, "privacy": 0}, "The SSN is in the notes.")
    url = f"/items/{in_review.pk}/"

    lead_page = login(world.lead).get(url).content.decode()
    assert "Auto-failed" in lead_page and "The SSN is in the notes." in lead_page
    assert "is critical and was scored 0" in lead_page
    assert "Dispute this review" not in lead_page

    agent = login(world.agent)
    assert "Dispute this review" in agent.get(url).content.decode()
    review = Review.objects.get(item=in_review)
    sent = agent.post(f"/reviews/{review.pk}/dispute/", {"reason": "It was the client's note."})
    assert sent.status_code == 302
    again = agent.get(url).content.decode()
    assert "Dispute this review" not in again and "It was the client&#x27;s note." in again

    client_page = login(world.member_a).get(url).content.decode()
    assert 'id="qa"' not in client_page and "The SSN is in the notes." not in client_page


def test_leads_decide_disputes_on_their_page(world: World, in_review: WorkItem) -> None:
    review = do_submit_review(world.qa, in_review, LOW, "Re-key lines 3 to 9.")
    dispute = do_dispute_review(world.agent, review, "The scan was illegible.")
    lead = login(world.lead)

    page = lead.get("/ops/quality/disputes/").content.decode()
    assert in_review.reference in page and "The scan was illegible." in page
    missing_note = lead.post(
        f"/ops/quality/disputes/{dispute.pk}/decide/", {"decision": "overturn"}
    )
    assert missing_note.status_code == 422
    done = lead.post(
        f"/ops/quality/disputes/{dispute.pk}/decide/",
        {"decision": "overturn", "note": "Illegible scan; not the agent's fault."},
    )

    assert done.status_code == 302
    dispute.refresh_from_db()
    review.refresh_from_db()
    assert dispute.state == "overturned" and review.overturned
    assert "No open disputes." in lead.get("/ops/quality/disputes/").content.decode()


@pytest.mark.parametrize("who", ["agent", "qa", "member_a"])
def test_the_disputes_page_is_for_leads(world: World, who: str) -> None:
    assert login(getattr(world, who)).get("/ops/quality/disputes/").status_code == 403


def test_the_api_scores_lists_and_disputes(world: World, in_review: WorkItem) -> None:
    created = _api(world.qa).post(
        f"/api/v1/work-items/{in_review.pk}/reviews",
        {"answers": {"accuracy": 2, "privacy": 1}, "comments": "Re-key lines 3 to 9."},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["score"], body["passed"], body["scorecard"]["version"]) == (43.75, False, 1)

    listed = _api(world.lead).get(f"/api/v1/work-items/{in_review.pk}/reviews").json()
    assert [r["id"] for r in listed] == [body["id"]]

    agent = _api(world.agent)
    first = agent.post(
        f"/api/v1/reviews/{body['id']}/dispute",
        {"reason": "Illegible scan."},
        content_type="application/json",
    )
    second = agent.post(
        f"/api/v1/reviews/{body['id']}/dispute",
        {"reason": "Still illegible."},
        content_type="application/json",
    )
    assert first.status_code == 201 and first.json()["state"] == "open"
    assert second.status_code == 409 and "once" in second.json()["detail"]
    assert Dispute.objects.count() == 1


def test_the_api_refuses_bad_answers_and_clients(world: World, in_review: WorkItem) -> None:
    bad = _api(world.qa).post(
        f"/api/v1/work-items/{in_review.pk}/reviews",
        {"answers": {"accuracy": 9, "privacy": 1}},
        content_type="application/json",
    )
    assert bad.status_code == 422 and "1 to 5" in bad.json()["detail"]
    client = _api(world.member_a).get(f"/api/v1/work-items/{in_review.pk}/reviews")
    assert client.status_code == 403
    assert client.json() == {"detail": "Reviews are internal to the provider."}


def test_outsiders_get_the_same_404_as_for_nothing(world: World) -> None:
    publish_scorecard(world)
    review_everything(world, world.engagement_b)
    theirs = item_in_review(world, world.engagement_b)
    review = do_submit_review(world.qa, theirs, LOW, "Bravo secret review note")
    dispute = do_dispute_review(world.other_agent, review, "Bravo secret dispute")
    for user in (world.client_admin_a, world.member_a, world.agent):
        browser, api = login(user), _api(user)
        for real, missing in (
            (f"/items/{theirs.pk}/review/", "/items/999999/review/"),
            (f"/reviews/{review.pk}/dispute/", "/reviews/999999/dispute/"),
            (
                f"/ops/quality/disputes/{dispute.pk}/decide/",
                "/ops/quality/disputes/999999/decide/",
            ),
        ):
            form = {"answer-accuracy": "5", "reason": "x", "decision": "overturn", "note": "x"}
            assert (
                browser.post(real, form).status_code
                == browser.post(missing, form).status_code
                == 404
            )
        for method, path, data in (
            ("get", f"/api/v1/work-items/{theirs.pk}/reviews", None),
            ("post", f"/api/v1/work-items/{theirs.pk}/reviews", {"answers": PASSING}),
            ("post", f"/api/v1/reviews/{review.pk}/dispute", {"reason": "x"}),
        ):
            kwargs = {"data": data, "content_type": "application/json"} if data else {}
            answer = getattr(api, method)(path, **kwargs)
            assert answer.status_code == 404, (user, path, answer.content)
            assert "Bravo secret" not in answer.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == "open" and Dispute.objects.count() == 1
