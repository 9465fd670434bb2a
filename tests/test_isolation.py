"""Client isolation and agent visibility, for every URL and every API operation.

The URL patterns and the OpenAPI operations are enumerated at run time, so a
new page or endpoint is covered the day it is added. A URL whose parameters
this test cannot fill fails the test, asking for a value instead of being
skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver

from relaydesk.accounts.actions import do_create_api_token, do_create_user
from relaydesk.accounts.models import User
from relaydesk.config.api import api
from relaydesk.core.lifecycle import Action
from relaydesk.core.roles import Role
from relaydesk.insights.actions import do_propose_objective
from relaydesk.insights.report_actions import do_create_report, do_create_schedule
from relaydesk.notifications.actions import Note, do_notify
from relaydesk.notifications.kinds import Email, Kind
from relaydesk.notifications.models import Notification
from relaydesk.notifications.queries import preferences_of
from relaydesk.quality.actions import (
    do_dispute_review,
    do_publish_scorecard_version,
    do_set_sampling_rule,
    do_submit_review,
)
from relaydesk.quality.calibration_actions import (
    do_open_calibration,
    do_score_calibration_item,
)
from relaydesk.quality.models import CalibrationSession, Dispute, Review, Scorecard
from relaydesk.routing.actions import do_hand_off
from relaydesk.webhooks.actions import do_create_endpoint, queue_event
from relaydesk.work.actions import do_add_attachment, do_add_comment, do_assign, do_transition
from relaydesk.work.models import Comment, WorkItem
from relaydesk.workforce.models import Agent, ShiftPattern, Site
from tests.conftest import PASSWORD, World, login, make_agent, submit
from tests.quality.support import CRITERIA as QA_CRITERIA
from tests.quality.support import LOW as QA_LOW

MIDNIGHT = dt.time(0)
# URL prefixes whose pages never show client data and are checked elsewhere.
NOT_CLIENT_DATA = ("accounts/", "static/", "healthz", "api/v1/")


@dataclass
class Target:
    """The objects one actor must not reach, and the words that would betray them."""

    item: WorkItem
    attachment_id: int
    token_id: int
    engagement_id: int
    secrets: tuple[str, ...]
    handoff_id: int = 999_999
    review_id: int = 999_999
    dispute_id: int = 999_999
    calibration_id: int = 999_999
    notification_id: int = 999_999
    webhook_endpoint_id: int = 999_999
    webhook_delivery_id: int = 999_999
    objective_id: int = 999_999
    report_id: int = 999_999
    schedule_id: int = 999_999


def _walk(resolver: URLResolver, prefix: str = "", ns: str = "") -> Iterator[tuple[str, str]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            sub_ns = f"{ns}:{entry.namespace}" if entry.namespace else ns
            yield from _walk(entry, prefix + str(entry.pattern), sub_ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{ns}:{entry.name}".lstrip(":")


def page_routes() -> list[tuple[str, str]]:
    """Every page route outside the API, as (pattern, name)."""
    return [(p, n) for p, n in _walk(get_resolver()) if not p.startswith("api/v1/")]


def _fill(pattern: str, target: Target, action: str = "cancel") -> str:
    values = {
        "item_id": target.item.pk,
        "attachment_id": target.attachment_id,
        "token_id": target.token_id,
        "engagement_id": target.engagement_id,
        "handoff_id": target.handoff_id,
        "review_id": target.review_id,
        "dispute_id": target.dispute_id,
        "calibration_id": target.calibration_id,
        "notification_id": target.notification_id,
        "endpoint_id": target.webhook_endpoint_id,
        "delivery_id": target.webhook_delivery_id,
        "objective_id": target.objective_id,
        "report_id": target.report_id,
        "schedule_id": target.schedule_id,
        "action": action,
        "client_slug": target.item.client.slug if target.item.client_id else "no-such-client",
        # The back office: client users must be turned away from it whatever the object.
        "content_type_id": 1,
        "object_id": target.item.pk,
        "app_label": "work",
        "id": target.item.pk,
        "url": "x",
    }
    path = pattern.lstrip("^").rstrip("$").replace("\\Z", "")

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in values:
            raise AssertionError(
                f"Isolation test has no value for URL parameter '{name}' "
                f"in '{pattern}': add one to _fill()."
            )
        return str(values[name])

    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, path)
    path = re.sub(r"\{(?P<name>\w+)\}", value, path)
    return "/" + path.lstrip("/")


def _has_object_parameter(pattern: str) -> bool:
    return bool(re.search(r"<(?:\w+:)?\w+_id>|\{\w+_id\}", pattern))


def _target_for(world: World, *, owner_client: str) -> Target:
    """An item of client B (or A), with a file and a comment, held by the other agent."""
    if owner_client == "b":
        item = submit(
            world.member_b,
            world.engagement_b,
            "customer-support",
            title="Bravo secret refund case",
            external_ref="BRAVO-SECRET-77",
        )
        engagement_id = world.engagement_b.pk
        owner = world.member_b
    else:
        item = submit(
            world.member_a,
            world.engagement_a,
            "data-entry",
            title="Alpha secret claim batch",
            external_ref="ALPHA-SECRET-55",
        )
        engagement_id = world.engagement_a.pk
        owner = world.member_a
    attachment = do_add_attachment(
        owner, item, SimpleUploadedFile("x.txt", b"secret", "text/plain")
    )
    do_add_comment(owner, item, "Secret comment body 9911")
    do_assign(world.lead, item, world.other_agent.agent)
    # The other agent hands it to an agent of the next shift, who has not acknowledged it yet.
    relay = _next_shift_agent(world)
    handoff = do_hand_off(world.other_agent, item, "Secret handoff note 3141")
    assert handoff.to_agent == relay
    token, _ = do_create_api_token(world.other_agent, name="other's token")
    notification = _notifications_of(world, item, owner)
    review, dispute = _disputed_review(world, owner_client)
    calibration = _calibration(world, review)
    endpoint, _ = do_create_endpoint(
        world.client_admin_b if owner_client == "b" else world.client_admin_a,
        engagement_id=engagement_id,
        url="https://hooks.example.com/secret-webhook-6174",
        event_types=["work_item.delivered"],
        description="Secret webhook endpoint 6174",
    )
    (webhook_delivery,) = queue_event(
        endpoint.engagement,
        "work_item.delivered",
        {"work_item": {"title": "Secret webhook payload 7272"}},
    )
    objective = do_propose_objective(
        world.lead,
        engagement_id,
        metric="backlog_ceiling",
        target=40,
        note="Secret objective note 5150",
    )
    # A kept report of the engagement with the lead's commentary, and a schedule of it.
    today = dt.datetime.now(dt.UTC).date()
    report = do_create_report(
        world.lead,
        engagement_id,
        start=today - dt.timedelta(days=6),
        end=today,
        commentary="Secret report commentary 7070",
    )
    schedule = do_create_schedule(
        world.lead, engagement_id, frequency="weekly", recipients=[owner.pk]
    )
    return Target(
        item=item,
        attachment_id=attachment.pk,
        token_id=token.pk,
        engagement_id=engagement_id,
        secrets=(
            item.title,
            item.external_ref,
            "Secret comment body 9911",
            "Secret handoff note 3141",
            "Secret review comment 2718",
            "Secret dispute reason 1618",
            "Secret calibration 4242",
            "Secret benchmark note 2468",
            "secret-webhook-6174",
            "Secret webhook endpoint 6174",
            "Secret webhook payload 7272",
            "Secret objective note 5150",
            "Secret report commentary 7070",
        ),
        handoff_id=handoff.pk,
        review_id=review.pk,
        dispute_id=dispute.pk,
        calibration_id=calibration.pk,
        notification_id=notification.pk,
        webhook_endpoint_id=endpoint.pk,
        webhook_delivery_id=webhook_delivery.pk,
        objective_id=objective.pk,
        report_id=report.pk,
        schedule_id=schedule.pk,
    )


def _notifications_of(world: World, item: WorkItem, owner: User) -> Notification:
    """The owner's notification about the item, and the agent's and the reviewer's, who can
    no longer open it: none of them may show its title to anyone else, nor to those two."""
    [owned] = do_notify(
        Kind.ITEM_DELIVERED, item, [Note(owner, f"Delivered: {item.title}", item.external_ref)]
    )
    do_notify(Kind.REWORK_REQUESTED, item, [Note(world.agent, f"Rework: {item.title}")])
    do_notify(Kind.REVIEW_WAITING, item, [Note(world.qa, f"Review: {item.title}")])
    return owned


def _disputed_review(world: World, owner_client: str) -> tuple[Review, Dispute]:
    """Another item of the same client, failed in QA by a second reviewer and disputed by
    the other agent who worked it."""
    member, engagement = (
        (world.member_b, world.engagement_b)
        if owner_client == "b"
        else (world.member_a, world.engagement_a)
    )
    if not Scorecard.objects.filter(name="Isolation QA").exists():
        card = Scorecard.objects.create(name="Isolation QA")
        do_publish_scorecard_version(world.lead, card, QA_CRITERIA)
    do_set_sampling_rule(world.lead, engagement, base_rate=100)
    item = submit(member, engagement, "data-entry", title="Reviewed batch")
    do_assign(world.lead, item, world.other_agent.agent)
    do_transition(world.other_agent, item, Action.START)
    do_transition(world.other_agent, item, Action.COMPLETE)
    reviewer = do_create_user(
        None,
        email=f"qa-{owner_client}@provider.test",
        full_name="Second reviewer",
        role=Role.QA_REVIEWER,
        password=PASSWORD,
    )
    review = do_submit_review(reviewer, item, QA_LOW, "Secret review comment 2718")
    dispute = do_dispute_review(world.other_agent, review, "Secret dispute reason 1618")
    return review, dispute


def _calibration(world: World, review: Review) -> CalibrationSession:
    """A calibration session on the reviewed item and another delivered item of its engagement,
    run by the lead with the items' reviewer and an attorney invited, and one benchmark.

    The invited attorney is not the world's, who is tried as an outsider."""
    reviewed = review.item
    other = submit(
        reviewed.submitted_by, reviewed.engagement, "data-entry", title="Calibrated batch"
    )
    do_assign(world.lead, other, world.other_agent.agent)
    do_transition(world.other_agent, other, Action.START)
    do_transition(world.other_agent, other, Action.COMPLETE)
    # Delivered, so that it waits in nobody's review queue.
    do_submit_review(review.reviewer, other, {"accuracy": 5, "privacy": 1})
    invited = do_create_user(
        None,
        email=f"counsel-{reviewed.client.slug}@provider.test",
        full_name="Invited attorney",
        role=Role.SUPERVISING_ATTORNEY,
        password=PASSWORD,
    )
    session = do_open_calibration(
        world.lead,
        reviewed.engagement,
        title="Secret calibration 4242",
        item_ids=[reviewed.pk, other.pk],
        reviewer_ids=[review.reviewer_id, invited.pk],
    )
    do_score_calibration_item(
        world.lead, session, reviewed, {"accuracy": 4, "privacy": 1}, "Secret benchmark note 2468"
    )
    return session


def _next_shift_agent(world: World) -> Agent:
    """An agent at a second Philippine site that never closes: the next shift for everyone."""
    found = Agent.objects.filter(employee_code="C-001").first()
    if found is not None:
        return found
    cebu = Site.objects.create(code="ceb", name="Cebu", country="PH", time_zone="Asia/Manila")
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=cebu, name="all day", weekday=day, starts_at=MIDNIGHT, ends_at=MIDNIGHT)
        for day in range(7)
    )
    user = do_create_user(
        None,
        email="relay@provider.test",
        full_name="Relay",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="Asia/Manila",
    )
    skills = {s.skill.slug: s.proficiency for s in world.agent.agent.skills.select_related("skill")}
    return make_agent(user, cebu, code="C-001", skills=skills, languages=["en"])


def _snapshot(item: WorkItem) -> tuple[Any, ...]:
    item.refresh_from_db()
    return (
        item.state,
        item.owner_id,
        item.title,
        item.events.count(),
        Comment.objects.filter(item=item).count(),
        item.attachments.count(),
    )


def _outsiders(world: World) -> dict[str, tuple[User, str]]:
    """Who must not reach which client's item."""
    return {
        "client_admin_a": (world.client_admin_a, "b"),
        "client_member_a": (world.member_a, "b"),
        "client_admin_b": (world.client_admin_b, "a"),
        "client_member_b": (world.member_b, "a"),
        "agent_not_holding_it": (world.agent, "b"),
        "qa_reviewer_not_reviewing_it": (world.qa, "a"),
        "supervising_attorney_not_reviewing_it": (world.attorney, "a"),
        "senior_analyst_not_reviewing_it": (world.analyst, "a"),
    }


OUTSIDERS = [
    "client_admin_a",
    "client_member_a",
    "client_admin_b",
    "client_member_b",
    "agent_not_holding_it",
    "qa_reviewer_not_reviewing_it",
    "supervising_attorney_not_reviewing_it",
    "senior_analyst_not_reviewing_it",
]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_every_page_hides_objects_the_user_may_not_see(world: World, who: str) -> None:
    user, owner_client = _outsiders(world)[who]
    target = _target_for(world, owner_client=owner_client)
    before = _snapshot(target.item)
    browser = login(user)
    missing = Target(
        item=WorkItem(pk=999_999),
        attachment_id=999_999,
        token_id=999_999,
        engagement_id=999_999,
        secrets=(),
    )
    form = {"note": "x", "body": "x", "agent": "1", "name": "t", "visibility": "client"}
    checked = 0
    for pattern, name in page_routes():
        if pattern.startswith(NOT_CLIENT_DATA):
            continue
        if name.startswith("admin:"):
            response = browser.get(_fill(pattern, target) if "<" in pattern else "/" + pattern)
            if name not in ("admin:login", "admin:logout"):
                assert response.status_code in (302, 404), f"{name} open to {who}"
            assert not any(secret in response.content.decode() for secret in target.secrets)
            continue
        url = _fill(pattern, target)
        for method in ("get", "post"):
            response = getattr(browser, method)(url, form)
            raw = b"".join(response.streaming_content) if response.streaming else response.content
            body = raw.decode(errors="replace")
            if _has_object_parameter(pattern):
                # Refused exactly as if the object did not exist: nothing to learn.
                absent = getattr(browser, method)(_fill(pattern, missing), form)
                assert response.status_code in (404, 405), (
                    f"{method.upper()} {url} ({name}) as {who}: {response.status_code}"
                )
                assert response.status_code == absent.status_code, f"{url} differs from absent"
            for secret in target.secrets:
                assert secret not in body, f"{method.upper()} {url} shows '{secret}' to {who}"
            checked += 1
    assert checked > 10
    assert _snapshot(target.item) == before, f"{who} changed an item they cannot see"


def _api_operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema()
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


def _sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value that passes validation for ``schema``, so authorization is what gets tested."""
    if "$ref" in schema:
        return _sample(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "anyOf" in schema:
        return _sample(schema["anyOf"][0], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            key: _sample(sub, components)
            for key, sub in schema.get("properties", {}).items()
            if key in schema.get("required", [])
        }
    return {"integer": 1, "number": 1, "boolean": False, "array": []}.get(str(kind), "x")


@pytest.mark.parametrize("who", OUTSIDERS)
def test_every_api_operation_answers_404_for_objects_the_caller_may_not_see(
    world: World, who: str
) -> None:
    user, owner_client = _outsiders(world)[who]
    target = _target_for(world, owner_client=owner_client)
    missing = Target(
        item=WorkItem(pk=999_999),
        attachment_id=999_999,
        token_id=999_999,
        engagement_id=999_999,
        secrets=(),
    )
    before = _snapshot(target.item)
    _, secret = do_create_api_token(user, name="isolation test")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    components = api.get_openapi_schema()["components"]["schemas"]
    for path, method, operation in _api_operations():
        body = operation.get("requestBody", {}).get("content", {})
        kwargs: dict[str, Any] = {}
        if "application/json" in body:
            kwargs = {
                "data": _sample(body["application/json"]["schema"], components),
                "content_type": "application/json",
            }
        elif "multipart/form-data" in body:
            kwargs = {
                "data": {
                    "file": SimpleUploadedFile("f.txt", b"data", "text/plain"),
                    "visibility": "client",
                }
            }
        response = getattr(http, method)(_fill(path, target), **kwargs)
        text = response.content.decode(errors="replace")
        for leaked in target.secrets:
            assert leaked not in text, f"{method.upper()} {path} leaks '{leaked}' to {who}"
        if _has_object_parameter(path):
            assert response.status_code == 404, (
                f"{method.upper()} {path} as {who}: {response.status_code} {text[:200]}"
            )
            if "multipart/form-data" in body:
                kwargs["data"]["file"] = SimpleUploadedFile("f.txt", b"data", "text/plain")
            absent = getattr(http, method)(_fill(path, missing), **kwargs)
            assert absent.status_code == 404
            assert absent.json() == response.json() or "999999" in absent.json()["detail"]
    assert _snapshot(target.item) == before, f"{who} changed an item they cannot see via the API"


def test_api_lists_only_the_callers_own_clients_items(world: World) -> None:
    theirs = _target_for(world, owner_client="b")
    mine = submit(world.member_a, world.engagement_a, title="Alpha visible batch")
    _, secret = do_create_api_token(world.member_a, name="list")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = http.get("/api/v1/work-items").json()
    assert [i["id"] for i in listed["items"]] == [mine.pk]
    assert theirs.item.title not in str(http.get("/api/v1/engagements").json())


def test_api_notifications_are_the_callers_own_in_every_operation(world: World) -> None:
    """Listed, counted, read one by one or all at once, and the settings: only the caller's
    own; another person's notification, of another client or of a colleague, is a 404."""
    theirs = Notification.objects.get(pk=_target_for(world, owner_client="b").notification_id)
    item = submit(world.member_a, world.engagement_a, title="Alpha visible batch")
    [mine] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.member_a, "Yours")])
    [colleagues] = do_notify(Kind.ITEM_DELIVERED, item, [Note(world.client_admin_a, "Theirs")])
    others = [theirs.pk, colleagues.pk]
    settings_before = {u.pk: preferences_of(u) for u in (world.member_b, world.client_admin_a)}
    _, secret = do_create_api_token(world.member_a, name="notifications")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")

    listed = http.get("/api/v1/notifications")
    assert [n["id"] for n in listed.json()["items"]] == [mine.pk]
    assert "Bravo secret refund case" not in listed.content.decode()
    assert http.get("/api/v1/notifications/unread-count").json() == {"unread": 1}
    for other in others:
        answer = http.post(f"/api/v1/notifications/{other}/read")
        assert answer.status_code == 404
        assert answer.json() == http.post("/api/v1/notifications/999999/read").json()
    assert http.post("/api/v1/notifications/read-all").json() == {"marked": 1}
    assert Notification.objects.filter(pk__in=others, read_at__isnull=True).count() == 2
    changed = http.patch(
        "/api/v1/notification-preferences",
        {"preferences": [{"kind": "item_delivered", "in_app": True, "email": "off"}]},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert preferences_of(world.member_a)[Kind.ITEM_DELIVERED] == (True, Email.OFF)
    for user in (world.member_b, world.client_admin_a):
        assert preferences_of(user) == settings_before[user.pk]


def test_api_reports_are_the_callers_clients_in_every_operation(world: World) -> None:
    """Listed, read, downloaded (PDF, CSV, XLSX), scheduled and changed: only the caller's
    client's reports and schedules; another client's answer 404, as a missing one does."""
    theirs = _target_for(world, owner_client="b")
    today = dt.datetime.now(dt.UTC).date()
    week = {"start": str(today - dt.timedelta(days=6)), "end": str(today)}
    mine = do_create_report(
        world.lead, world.engagement_a, start=today - dt.timedelta(days=6), end=today
    )
    _, secret = do_create_api_token(world.client_admin_a, name="reports")
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")

    answers = [http.get("/api/v1/reports"), http.get("/api/v1/report-schedules")]
    assert [r["id"] for r in answers[0].json()["items"]] == [mine.pk]
    assert answers[1].json() == []
    for path in ("", "/pdf", "/csv", "/xlsx"):
        answer = http.get(f"/api/v1/reports/{theirs.report_id}{path}")
        assert answer.status_code == 404, path
        assert answer.json() == {"detail": f"No report {theirs.report_id}."}
        answers.append(answer)
    schedule = f"/api/v1/report-schedules/{theirs.schedule_id}"
    answers += [
        http.get(schedule),
        http.patch(schedule, {"active": False}, content_type="application/json"),
        http.post(
            "/api/v1/reports",
            {"engagement_id": world.engagement_b.pk, **week},
            content_type="application/json",
        ),
        http.post(
            "/api/v1/report-schedules",
            {
                "engagement_id": world.engagement_b.pk,
                "frequency": "monthly",
                "recipients": [world.member_b.pk],
            },
            content_type="application/json",
        ),
    ]
    assert [a.status_code for a in answers[-4:]] == [404, 404, 404, 404]
    for answer in answers:
        for leaked in theirs.secrets:
            assert leaked not in answer.content.decode()


def test_agent_sees_only_items_they_hold_or_are_queued_for_them(world: World) -> None:
    held = submit(world.member_a, world.engagement_a, title="Held by agent")
    do_assign(world.lead, held, world.agent.agent)
    queued_for_them = submit(
        world.member_b, world.engagement_b, "customer-support", title="Queued support case"
    )
    # The other agent has no PIP certification: a US-FL document item is queued, but not for them.
    not_for_other = submit(
        world.member_a,
        world.engagement_pip,
        "document-processing",
        title="FL PIP bill",
        jurisdiction="US-FL",
    )
    held_by_other = submit(world.member_a, world.engagement_a, title="Held by other")
    do_assign(world.lead, held_by_other, world.other_agent.agent)

    from relaydesk.work.queries import visible_work_items

    seen = set(visible_work_items(world.agent).values_list("pk", flat=True))
    assert seen == {held.pk, queued_for_them.pk, not_for_other.pk}
    seen_by_other = set(visible_work_items(world.other_agent).values_list("pk", flat=True))
    assert seen_by_other == {held_by_other.pk, queued_for_them.pk}


# Provider-only pages that show every client's work: outsiders get the 403 page.
PROVIDER_ONLY_PAGES = (
    "ops/board/",
    "ops/quality/disputes/",
    "ops/quality/calibration/new/",
    "ops/dashboard/",
)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_provider_only_pages_refuse_outsiders_and_show_nothing(world: World, who: str) -> None:
    user, owner_client = _outsiders(world)[who]
    target = _target_for(world, owner_client=owner_client)
    routes = [pattern for pattern, _ in page_routes()]
    browser = login(user)
    for pattern in PROVIDER_ONLY_PAGES:
        assert pattern in routes, f"{pattern} is not a page any more"
        for headers in ({}, {"HX-Request": "true"}):
            response = browser.get("/" + pattern, headers=headers)
            assert response.status_code == 403, f"/{pattern} as {who}: {response.status_code}"
            for secret in target.secrets:
                assert secret not in response.content.decode()
