"""CSRF on every cookie-authenticated write: pages, HTMX calls and the API with a session."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from relaydesk.accounts.models import ApiToken, User
from relaydesk.audit.models import AuditRecord
from relaydesk.config.api import api
from relaydesk.work.models import Comment, WorkItem
from tests.accounts.support import mark_session_mfa_verified
from tests.conftest import World
from tests.test_isolation import Target, _api_operations, _fill, _sample, _target_for, page_routes

FORM = {"note": "x", "body": "x", "agent": "1", "name": "t", "visibility": "client"}


def _browser(user: User | None) -> HttpClient:
    """A browser that, like a real one, gets no CSRF exemption."""
    browser = HttpClient(enforce_csrf_checks=True)
    if user is not None:
        browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        mark_session_mfa_verified(browser, user)
    return browser


def _token_from_page(browser: HttpClient, url: str = "/") -> str:
    """The CSRF token the page hands to HTMX in ``hx-headers`` on <body> (or a form's field)."""
    html = browser.get(url, follow=True).content.decode()
    found = re.search(r'"X-CSRFToken":\s*"([^"]+)"', html) or re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', html
    )
    assert found, f"{url} hands out no CSRF token"
    return found.group(1)


def _state(target: Target) -> tuple[Any, ...]:
    item = WorkItem.objects.get(pk=target.item.pk)
    return (
        AuditRecord.objects.count(),
        WorkItem.objects.count(),
        Comment.objects.count(),
        ApiToken.objects.filter(revoked_at__isnull=True).count(),
        item.state,
        item.owner_id,
        item.attachments.count(),
    )


def _post_urls(target: Target) -> list[str]:
    urls = []
    for pattern, _ in page_routes():
        if pattern.startswith("static/") or "(?P<" in pattern:
            continue
        urls.append(_fill(pattern, target, action="start"))
    return urls


class _CsrfLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def csrf_log() -> Any:
    handler = _CsrfLog()
    logger = logging.getLogger("django.security.csrf")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.mark.parametrize("who", ["client_member_a", "agent", "ops_lead"])
def test_every_page_post_without_the_csrf_token_is_refused_and_changes_nothing(
    world: World, who: str, csrf_log: _CsrfLog
) -> None:
    user = world.users()[who]
    target = _target_for(world, owner_client="a")
    urls = _post_urls(target)
    assert len(urls) > 15
    for url in urls:
        if url.startswith("/admin/") and who != "ops_lead":
            continue
        browser = _browser(user)  # signing in is audited: count from here
        before = _state(target)
        csrf_log.messages.clear()
        response = browser.post(url, FORM)
        assert response.status_code == 403, f"POST {url} without token as {who}"
        assert any("CSRF" in m for m in csrf_log.messages), f"POST {url}: not a CSRF refusal"
        assert _state(target) == before, f"POST {url} without token changed something"
        # Still signed in: not even the sign-out went through.
        assert browser.get("/account/tokens/").status_code == 200


@pytest.mark.parametrize("who", ["client_member_a", "agent", "ops_lead"])
def test_every_page_post_with_the_htmx_csrf_header_passes_the_csrf_check(
    world: World, who: str, csrf_log: _CsrfLog
) -> None:
    user = world.users()[who]
    target = _target_for(world, owner_client="a")
    for url in _post_urls(target):
        if url.startswith("/admin/"):
            continue
        browser = _browser(user)
        token = _token_from_page(browser)
        csrf_log.messages.clear()
        response = browser.post(url, FORM, headers={"X-CSRFToken": token, "HX-Request": "true"})
        assert not csrf_log.messages, f"POST {url} with the token as {who}: {csrf_log.messages}"
        assert b"CSRF verification failed" not in response.content, url


def test_a_comment_with_the_htmx_header_is_posted_and_without_it_is_not(world: World) -> None:
    target = _target_for(world, owner_client="a")
    browser = _browser(world.member_a)
    url = f"/items/{target.item.pk}/comments/"
    count = Comment.objects.filter(item=target.item).count()
    assert browser.post(url, {"body": "Forged", "visibility": "client"}).status_code == 403
    assert Comment.objects.filter(item=target.item).count() == count
    token = _token_from_page(browser, f"/items/{target.item.pk}/")
    response = browser.post(
        url, {"body": "Real reply", "visibility": "client"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code in (200, 302)
    assert Comment.objects.filter(item=target.item, body="Real reply").exists()


def test_anonymous_page_writes_go_to_sign_in(world: World) -> None:
    target = _target_for(world, owner_client="a")
    browser = _browser(None)
    token = _token_from_page(browser, "/accounts/login/")
    before = _state(target)
    for url in (
        "/portal/new/",
        f"/items/{target.item.pk}/comments/",
        f"/items/{target.item.pk}/actions/cancel/",
        "/account/tokens/",
    ):
        response = browser.post(url, FORM, headers={"X-CSRFToken": token})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
    assert _state(target) == before


def _api_writes() -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, m, op in _api_operations() if m in ("post", "put", "patch", "delete")]


def _api_call(
    browser: HttpClient,
    path: str,
    method: str,
    operation: dict[str, Any],
    target: Target,
    **kw: Any,
) -> Any:
    components = api.get_openapi_schema()["components"]["schemas"]
    body = operation.get("requestBody", {}).get("content", {})
    url = _fill(path, target)
    if "application/json" in body:
        data = _sample(body["application/json"]["schema"], components)
        if "engagement_id" in data:
            data["engagement_id"] = target.engagement_id
        return getattr(browser, method)(
            url, json.dumps(data), content_type="application/json", **kw
        )
    if "multipart/form-data" in body:
        data = {"file": SimpleUploadedFile("f.txt", b"data", "text/plain"), "visibility": "client"}
        return getattr(browser, method)(url, data, **kw)
    return getattr(browser, method)(url, **kw)


@pytest.mark.parametrize("who", ["client_member_a", "ops_lead"])
def test_every_api_write_with_a_session_needs_the_csrf_header(world: World, who: str) -> None:
    user = world.users()[who]
    target = _target_for(world, owner_client="a")
    writes = _api_writes()
    assert len(writes) >= 5
    for path, method, operation in writes:
        browser = _browser(user)
        before = _state(target)
        refused = _api_call(browser, path, method, operation, target)
        assert refused.status_code == 403, f"{method.upper()} {path} without token as {who}"
        assert "CSRF" in refused.json()["detail"]
        assert _state(target) == before, f"{method.upper()} {path} changed something"
        token = _token_from_page(browser)
        allowed = _api_call(browser, path, method, operation, target, HTTP_X_CSRFTOKEN=token)
        assert allowed.status_code != 401, f"{method.upper()} {path}"
        assert b"CSRF" not in allowed.content, f"{method.upper()} {path}"


def test_a_session_submission_through_the_api_works_with_the_header(world: World) -> None:
    browser = _browser(world.member_a)
    body = {"engagement_id": world.engagement_a.pk, "service": "data-entry", "title": "Via HTMX"}
    count = WorkItem.objects.count()
    refused = browser.post("/api/v1/work-items", body, content_type="application/json")
    assert refused.status_code == 403
    assert WorkItem.objects.count() == count
    token = _token_from_page(browser)
    created = browser.post(
        "/api/v1/work-items", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert created.status_code == 201, created.content
    assert WorkItem.objects.filter(title="Via HTMX").exists()


def test_anonymous_api_writes_get_json_401(world: World) -> None:
    target = _target_for(world, owner_client="a")
    browser = _browser(None)
    before = _state(target)
    for path, method, operation in _api_writes():
        response = _api_call(browser, path, method, operation, target)
        assert response.status_code == 401, f"{method.upper()} {path}"
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"]
    assert _state(target) == before
