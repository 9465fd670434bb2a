"""Calibration sessions: a lead opens one, reviewers score the same items blind, the lead
closes it and everyone in it sees the spread and each reviewer's alignment."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core import quality as qa
from relaydesk.core.roles import Role
from relaydesk.quality.actions import do_submit_review
from relaydesk.quality.calibration_actions import do_close_calibration, do_score_calibration_item
from relaydesk.quality.models import (
    CalibrationItem,
    CalibrationParticipant,
    CalibrationScore,
    CalibrationSession,
)
from relaydesk.work.actions import do_add_attachment, do_add_comment
from relaydesk.work.models import WorkItem
from tests.conftest import PASSWORD, World, login, submit
from tests.quality.calibration_support import items_to_calibrate, open_session

LIST = "/ops/quality/calibration/"
NEW = "/ops/quality/calibration/new/"


def _session_url(session: CalibrationSession) -> str:
    return f"{LIST}{session.pk}/"


def _item_url(session: CalibrationSession, item: WorkItem) -> str:
    return f"{LIST}{session.pk}/items/{item.pk}/"


def _answers(accuracy: int, privacy: int = 1) -> dict[str, str]:
    """The scorecard form's fields (support.CRITERIA): accuracy 1-5, privacy yes/no, no bonus."""
    return {
        "answer-accuracy": str(accuracy),
        "answer-privacy": str(privacy),
        "answer-notes": "na",
    }


def _score(user: User, session: CalibrationSession, item: WorkItem, accuracy: int) -> int:
    response = login(user).post(_item_url(session, item) + "score/", _answers(accuracy))
    return response.status_code


def _text(page: bytes) -> str:
    """The page's words without tags, entities decoded and spaces squeezed."""
    words = re.sub(r"<[^>]+>", " ", page.decode())
    return re.sub(r"\s+", " ", html.unescape(words))


def _row(page: bytes, attribute: str, value: str) -> str:
    """The text of the table row marked ``data-<attribute>="<value>"``."""
    found = re.search(
        rf'<tr data-{attribute}="{re.escape(value)}">(.*?)</tr>', page.decode(), re.DOTALL
    )
    assert found is not None, f"no row for {value}"
    return _text(found.group(1).encode()).strip()


def _reviewer(email: str, role: Role = Role.QA_REVIEWER) -> User:
    return do_create_user(
        None, email=email, full_name=email.split("@")[0].title(), role=role, password=PASSWORD
    )


# --- opening a session --------------------------------------------------------------------------


def test_a_lead_opens_a_session_from_recent_items_and_typed_references(world: World) -> None:
    first, second, third = items_to_calibrate(world, 3)
    lead = login(world.lead)

    form = lead.get(f"{NEW}?engagement={world.engagement_a.pk}").content.decode()
    assert f'name="items" value="{first.pk}"' in form and first.reference in form
    # Who worked on each item, so that the lead does not invite them.
    assert re.search(rf'id="item-{first.pk}".*?data-label="Worked by"[^>]*>Agent<', form, re.S)
    assert f'name="reviewers" value="{world.qa.pk}"' in form
    assert f'name="reviewers" value="{world.lead.pk}"' not in form
    assert f'name="reviewers" value="{world.agent.pk}"' not in form

    created = lead.post(
        NEW,
        {
            "engagement": world.engagement_a.pk,
            "title": "Claim forms, March",
            "items": [first.pk, second.pk],
            "references": f"{third.reference.lower()}",
            "reviewers": [world.qa.pk, world.attorney.pk],
            "tolerance": "7.5",
        },
    )

    session = CalibrationSession.objects.get()
    assert created.status_code == 302 and created["Location"] == _session_url(session)
    assert session.tolerance == 7.5 and session.scorecard_version.scorecard.name == "Data entry QA"
    assert list(
        CalibrationItem.objects.filter(session=session).values_list("item_id", flat=True)
    ) == [first.pk, second.pk, third.pk]
    assert set(
        CalibrationParticipant.objects.filter(session=session).values_list("reviewer_id", flat=True)
    ) == {world.qa.pk, world.attorney.pk}
    opened = AuditRecord.objects.get(action="quality.calibration_open")
    assert opened.actor_id == world.lead.pk and opened.client_id == world.client_a.pk
    listed = login(world.attorney).get(LIST).content.decode()
    assert "Claim forms, March" in listed and "You scored 0 of 3" in listed


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one item", "Choose at least 2 items"),
        ("item of another engagement", "is not an item of Claims support (Alpha Law)"),
        ("reviewer who worked on an item", "Promoted worked on RD-"),
        ("one reviewer", "Invite at least 2 reviewers"),
        ("not a reference", "'batch-7' is not an item reference"),
        ("an agent as reviewer", "Agent cannot take part in calibration as agent"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(
    world: World, case: str, message: str
) -> None:
    first, second = items_to_calibrate(world, 2)
    # A former agent, now a QA reviewer, who worked on a third item of the engagement.
    promoted = _reviewer("promoted@provider.test", Role.AGENT)
    from tests.conftest import make_agent

    make_agent(
        promoted,
        world.agent.agent.site,
        code="M-009",
        skills={"data-entry": 4},
        languages=["en"],
    )
    theirs = items_to_calibrate(world, 1, agent=promoted)[0]
    User.objects.filter(pk=promoted.pk).update(role=Role.QA_REVIEWER.value)
    other_engagement = items_to_calibrate(world, 1, world.engagement_b)[0]
    form = {
        "engagement": world.engagement_a.pk,
        "title": "Typed title kept",
        "items": [first.pk, second.pk],
        "references": "",
        "reviewers": [world.qa.pk, world.attorney.pk],
        "tolerance": "5",
    }
    if case == "one item":
        form["items"] = [first.pk]
    elif case == "item of another engagement":
        form["references"] = other_engagement.reference
    elif case == "reviewer who worked on an item":
        form["references"] = theirs.reference
        form["reviewers"] = [world.qa.pk, promoted.pk]
    elif case == "one reviewer":
        form["reviewers"] = [world.qa.pk]
    elif case == "not a reference":
        form["references"] = "batch-7"
    elif case == "an agent as reviewer":
        form["reviewers"] = [world.qa.pk, world.agent.pk]

    refused = login(world.lead).post(NEW, form)

    page = refused.content.decode()
    assert refused.status_code == 422
    assert message in html.unescape(page), page[:3000]
    assert 'value="Typed title kept"' in page
    assert f'value="{first.pk}" id="item-{first.pk}" checked' in page
    assert CalibrationSession.objects.count() == 0
    assert not AuditRecord.objects.filter(action="quality.calibration_open").exists()


def test_items_scored_with_different_scorecards_cannot_share_a_session(world: World) -> None:
    items = items_to_calibrate(world, 1)
    from tests.quality.support import item_in_review

    # Document processing has no scorecard of its own: the lead is told which items differ.
    document = item_in_review(world, service="document-processing", title="Scan letters")
    refused = login(world.lead).post(
        NEW,
        {
            "engagement": world.engagement_a.pk,
            "title": "Mixed",
            "items": [items[0].pk, document.pk],
            "reviewers": [world.qa.pk, world.attorney.pk],
            "tolerance": "5",
        },
    )
    assert refused.status_code == 422
    assert f"There is no scorecard for Document processing ({document.reference})" in (
        html.unescape(refused.content.decode())
    )


# --- scoring, blind -----------------------------------------------------------------------------


def test_scores_are_blind_while_the_session_is_open(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])

    # 3 on accuracy: (3 * 50 + 100) / 4 = 62.50, a figure found nowhere else on the pages.
    assert _score(world.qa, session, first, 3) == 302

    qa_page = login(world.qa).get(_session_url(session)).content
    assert "62.50" in _text(qa_page) and "Your scores · 1 of 2" in _text(qa_page)
    for who in (world.attorney, world.lead):
        for url in (_session_url(session), _item_url(session, first)):
            assert "62.50" not in _text(login(who).get(url).content), (who, url)
    progress = _text(login(world.lead).get(_session_url(session)).content)
    assert "Qa 1 of 2" in progress
    assert "Lead (benchmark) 0 of 2" in progress and "Attorney 0 of 2" in progress
    # The reviewer's own page keeps their answers, ready to change.
    mine = login(world.qa).get(_item_url(session, first)).content.decode()
    assert 'name="answer-accuracy" value="3" checked' in mine


def test_a_reviewer_changes_their_score_until_the_session_closes(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    browser = login(world.qa)

    browser.post(_item_url(session, first) + "score/", _answers(3))
    changed = browser.post(
        _item_url(session, first) + "score/", {**_answers(5), "comments": "All lines right."}
    )

    score = CalibrationScore.objects.get(session=session, item=first, scorer=world.qa)
    assert str(score.score) == "100.00" and score.comments == "All lines right."
    # Saved, and on to the next item not scored yet.
    assert changed["Location"] == _item_url(session, second)
    records = AuditRecord.objects.filter(action="quality.calibration_score").order_by("pk")
    assert [r.detail["changed"] for r in records] == [False, True]
    # Blind in the audit trail too: provider admins read it while the session is open.
    assert all("score" not in r.detail and "passed" not in r.detail for r in records)


def test_participants_read_the_items_through_the_session_only(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    do_add_comment(world.member_a, first, "Please key from the scans of March 3.")
    scan = do_add_attachment(
        world.member_a, first, SimpleUploadedFile("scan.txt", b"line 1: 4,200.00", "text/plain")
    )
    # A real review of the item says nothing to the calibrating reviewers.
    do_submit_review(world.qa, first, {"accuracy": 2, "privacy": 1}, "Re-key lines 3 to 9.")
    submitted_with_file = submit(world.member_a, world.engagement_a, with_file=True)
    session = open_session(world, [first, second])
    attorney = login(world.attorney)

    page = attorney.get(_item_url(session, first))

    text = _text(page.content)
    assert page.status_code == 200
    assert first.title in text and "Data entry" in text
    assert "Please key from the scans of March 3." in text
    assert "Re-key lines 3 to 9." not in text and "43.75" not in text
    # The attorney reviews no data entry: the item's own page stays closed to them.
    assert attorney.get(f"/items/{first.pk}/").status_code == 404
    download = attorney.get(f"{_item_url(session, first)}files/{scan.pk}/")
    assert download.status_code == 200 and download.getvalue() == b"line 1: 4,200.00"
    # Files of items outside the session cannot be reached through it.
    other_file = submitted_with_file.attachments.get()
    assert attorney.get(_item_url(session, submitted_with_file)).status_code == 404
    assert attorney.get(f"{_item_url(session, first)}files/{other_file.pk}/").status_code == 404


# --- closing and the results --------------------------------------------------------------------


def test_the_lead_cannot_close_before_the_benchmark_is_complete(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    lead = login(world.lead)
    _score(world.lead, session, first, 4)
    _score(world.qa, session, first, 4)

    page = lead.get(_session_url(session)).content.decode()
    assert "disabled" in page.split("Close and show results")[0].rsplit("<button", 1)[1]
    refused = lead.post(_session_url(session) + "close/")

    assert refused.status_code == 409
    assert f"Score the benchmark for {second.reference} first" in _text(refused.content)
    session.refresh_from_db()
    assert session.is_open and session.closed_at is None
    assert not AuditRecord.objects.filter(action="quality.calibration_close").exists()


def test_the_lead_cannot_close_before_any_reviewer_scored(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    _score(world.lead, session, first, 4)
    _score(world.lead, session, second, 4)

    refused = login(world.lead).post(_session_url(session) + "close/")

    assert refused.status_code == 409
    assert "No reviewer has scored an item yet" in _text(refused.content)


def test_only_the_lead_who_runs_the_session_closes_it(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    for user in (world.qa, world.admin):
        assert login(user).post(_session_url(session) + "close/").status_code == 403
    session.refresh_from_db()
    assert session.is_open


def test_the_results_match_the_hand_worked_figures(world: World) -> None:
    a, b = items_to_calibrate(world, 2)
    session = open_session(world, [a, b], tolerance=10)
    # Accuracy weighs 3, privacy 1 (yes = 100): 5 -> 100, 4 -> 81.25, 3 -> 62.5, 2 -> 43.75.
    #              A        B
    # benchmark    81.25    62.50
    # QA           100.00   62.50   differences +18.75, 0       -> mean abs 9.375, lenient
    # attorney     62.50    43.75   differences -18.75, -18.75  -> mean abs 18.75, harsher
    # With a tolerance of 10 the QA reviewer is aligned and the attorney is not.
    # Spread of the reviewers' scores: A 62.5-100 (37.5), mean 81.25, population sd 18.75;
    #                                  B 43.75-62.5 (18.75), mean 53.125, sd 9.375.
    for who, accuracy_a, accuracy_b in (
        (world.lead, 4, 3),
        (world.qa, 5, 3),
        (world.attorney, 3, 2),
    ):
        assert _score(who, session, a, accuracy_a) == 302
        assert _score(who, session, b, accuracy_b) == 302
    expected = qa.calibration(
        {"qa": {"A": 100.0, "B": 62.5}, "attorney": {"A": 62.5, "B": 43.75}},
        {"A": 81.25, "B": 62.5},
        10,
    )
    assert expected.items["A"] == qa.ItemSpread("A", 2, 62.5, 100.0, 81.25, 18.75, 81.25)
    assert expected.items["B"] == qa.ItemSpread("B", 2, 43.75, 62.5, 53.125, 9.375, 62.5)
    assert expected.reviewers["qa"].mean_abs_difference == 9.375
    assert expected.reviewers["qa"].mean_difference == 9.375
    assert expected.reviewers["attorney"].mean_difference == -18.75
    assert expected.misaligned == ("attorney",)

    closed = login(world.lead).post(_session_url(session) + "close/")

    assert closed.status_code == 302
    close_record = AuditRecord.objects.get(action="quality.calibration_close")
    assert close_record.detail["misaligned"] == [world.attorney.pk]
    for who in (world.attorney, world.qa, world.lead, world.admin):
        page = login(who).get(_session_url(session)).content
        # reviewers, lowest, highest, spread, mean, standard deviation, benchmark
        assert _row(page, "item", a.reference).endswith("2 62.50 100.00 37.50 81.25 18.75 81.25"), (
            who
        )
        assert _row(page, "item", b.reference).endswith("2 43.75 62.50 18.75 53.13 9.38 62.50")
        assert _row(page, "reviewer", "Qa") == (
            "Qa 2 9.38 More lenient by 9.38 points on average Aligned"
        )
        assert _row(page, "reviewer", "Attorney") == (
            "Attorney 2 18.75 Harsher by 18.75 points on average Not aligned"
        )
        assert "1 of 2 aligned within 10 pts" in _text(page)
    criteria = _text(login(world.qa).get(_session_url(session)).content)
    # Accuracy: only the QA reviewer's B matched the benchmark; privacy always did.
    assert "Data keyed correctly 25 % 1 of 4 answers matched" in criteria
    assert "No personal data exposed 100 % 4 of 4 answers matched" in criteria
    assert criteria.index("Data keyed correctly") < criteria.index("No personal data exposed")
    # Everyone's answers beside the benchmark on the item page.
    answers = _text(login(world.attorney).get(_item_url(session, a)).content)
    assert "Data keyed correctly 4 of 5 5 of 5 3 of 5" in answers


def test_scores_are_refused_after_closing(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    for item in (first, second):
        do_score_calibration_item(world.lead, session, item, {"accuracy": 4, "privacy": 1})
    do_score_calibration_item(world.qa, session, first, {"accuracy": 4, "privacy": 1})
    do_close_calibration(world.lead, session)

    late = login(world.attorney).post(_item_url(session, second) + "score/", _answers(2))
    changed = login(world.qa).post(_item_url(session, first) + "score/", _answers(1))

    for refused in (late, changed):
        assert refused.status_code == 409
        assert "its scores are frozen" in _text(refused.content)
    assert not CalibrationScore.objects.filter(scorer=world.attorney).exists()
    assert str(CalibrationScore.objects.get(scorer=world.qa).score) == "81.25"


# --- who sees what ------------------------------------------------------------------------------


def test_a_reviewer_who_was_not_invited_gets_404(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    outsider = login(_reviewer("outsider@provider.test"))

    assert "Claim forms, March" not in outsider.get(LIST).content.decode()
    for url, method in (
        (_session_url(session), "get"),
        (_item_url(session, first), "get"),
        (_item_url(session, first) + "score/", "post"),
        (_session_url(session) + "close/", "post"),
    ):
        response = getattr(outsider, method)(url, _answers(4) if method == "post" else None)
        assert response.status_code == 404, url
    assert not CalibrationScore.objects.exists()


@pytest.mark.parametrize("who", ["client_admin_a", "member_a", "agent"])
def test_clients_and_agents_are_refused_everywhere(world: World, who: str) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    browser = login(getattr(world, who))

    assert browser.get(LIST).status_code == 403
    assert browser.get(NEW).status_code == 403
    assert browser.get(_session_url(session)).status_code == 404
    assert browser.get(_item_url(session, first)).status_code == 404
    assert browser.post(_item_url(session, first) + "score/", _answers(4)).status_code == 404


def test_the_list_shows_open_sessions_first_with_progress(world: World) -> None:
    items = items_to_calibrate(world, 2)
    done = open_session(world, items, title="February")
    for item in items:
        do_score_calibration_item(world.lead, done, item, {"accuracy": 4, "privacy": 1})
    do_score_calibration_item(world.qa, done, items[0], {"accuracy": 4, "privacy": 1})
    do_close_calibration(world.lead, done)
    open_session(world, items, title="March")

    lead_list = _text(login(world.lead).get(LIST).content)
    assert lead_list.index("March") < lead_list.index("February")
    assert "benchmark 0 of 2 · 0 of 2 reviewers finished" in lead_list
    assert "results ready" in lead_list


def test_the_lead_narrows_the_items_to_one_service(world: World) -> None:
    from relaydesk.catalog.models import Service
    from tests.quality.support import item_in_review

    (entry,) = items_to_calibrate(world, 1)
    letters = item_in_review(world, service="document-processing", title="Scan letters")
    data_entry = Service.objects.get(slug="data-entry")

    page = login(world.lead).get(
        f"{NEW}?engagement={world.engagement_a.pk}&service={data_entry.pk}"
    )

    form = page.content.decode()
    assert f'value="{entry.pk}" id="item-{entry.pk}"' in form
    assert f'id="item-{letters.pk}"' not in form
    assert f'name="service" value="{data_entry.pk}"' in form


def test_the_clients_audit_trail_leaves_calibration_out(world: World) -> None:
    first, second = items_to_calibrate(world, 2)
    session = open_session(world, [first, second])
    do_score_calibration_item(world.qa, session, first, {"accuracy": 4, "privacy": 1})

    trail = login(world.client_admin_a).get("/portal/audit/")

    assert trail.status_code == 200
    assert "alibration" not in trail.content.decode()
    # The provider keeps the records, under the client they concern.
    assert (
        AuditRecord.objects.filter(
            client_id=world.client_a.pk, action__startswith="quality.calibration_"
        ).count()
        == 2
    )
