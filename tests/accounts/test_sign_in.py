"""Lockout, session rotation and timeouts, and each person's own sign-in history."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client as HttpClient

from relaydesk.accounts.middleware import LAST_SEEN, SIGNED_IN_AT
from relaydesk.accounts.models import SignInEvent
from tests.conftest import PASSWORD, World, login


def attempt(browser: HttpClient, email: str, password: str) -> Any:
    return browser.post(
        "/accounts/login/",
        {"login": email, "password": password},
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) TestBrowser/1.0",
    )


def test_five_wrong_passwords_lock_out_even_the_right_one_until_the_cool_off(world: World) -> None:
    browser = HttpClient(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        wrong = attempt(browser, "member@alpha.test", "not-the-password")
        assert wrong.status_code == 200 and "not correct" in wrong.content.decode()
    fifth = attempt(browser, "member@alpha.test", "not-the-password")
    assert fifth.status_code == 429
    right = attempt(browser, "Member@Alpha.test", PASSWORD)
    assert right.status_code == 429
    page = right.content.decode()
    assert "Too many wrong passwords" in page and "Try again in 15 minutes" in page
    assert "_auth_user_id" not in browser.session
    assert browser.get("/portal/")["Location"].startswith("/accounts/login/")

    # The pair is locked, not the person: the same address from elsewhere still signs in.
    elsewhere = HttpClient(REMOTE_ADDR="198.51.100.9")
    assert attempt(elsewhere, "member@alpha.test", PASSWORD).status_code == 302

    # Once the cool-off has passed, the right password works again from the first address.
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    assert attempt(browser, "member@alpha.test", PASSWORD).status_code == 302
    assert browser.get("/portal/").status_code == 200

    kinds = list(
        SignInEvent.objects.filter(user=world.member_a)
        .order_by("at", "pk")
        .values_list("kind", flat=True)
    )
    assert kinds.count("failed") >= 5 and "locked_out" in kinds and kinds[-1] == "signed_in"


def test_the_session_key_changes_at_sign_in(world: World) -> None:
    browser = HttpClient()
    browser.get("/accounts/login/")
    session = browser.session
    session["before"] = "anonymous"
    session.save()
    before = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert attempt(browser, "member@alpha.test", PASSWORD).status_code == 302
    after = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not SessionStore().exists(before), "the pre-sign-in session key is gone"
    assert browser.get("/portal/").status_code == 200


def _age(browser: HttpClient, **seconds_ago: float) -> None:
    session = browser.session
    now = time.time()
    if "last_seen" in seconds_ago:
        session[LAST_SEEN] = now - seconds_ago["last_seen"]
    if "signed_in" in seconds_ago:
        session[SIGNED_IN_AT] = now - seconds_ago["signed_in"]
    session.save()


def test_thirty_idle_minutes_sign_you_out_with_a_message(world: World) -> None:
    browser = login(world.member_a)
    _age(browser, last_seen=29 * 60)
    assert browser.get("/portal/").status_code == 200, "29 minutes is not yet idle"
    _age(browser, last_seen=31 * 60)
    response = browser.get("/portal/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "You were signed out after 30 minutes without activity." in response.content.decode()
    assert browser.get("/portal/")["Location"].startswith("/accounts/login/")
    assert SignInEvent.objects.filter(user=world.member_a, kind="timed_out").exists()


def test_twelve_hours_after_sign_in_you_are_signed_out_however_busy(world: World) -> None:
    browser = login(world.lead)
    _age(browser, signed_in=11 * 3600, last_seen=10)
    assert browser.get("/ops/").status_code == 200
    _age(browser, signed_in=12 * 3600 + 60, last_seen=10)
    response = browser.get("/ops/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "more than 12 hours ago" in response.content.decode()
    # The API answers 401 rather than a page.
    api = login(world.lead)
    _age(api, signed_in=13 * 3600)
    assert api.get("/api/v1/me").status_code == 401


def test_activity_is_noted_at_most_once_a_minute(world: World) -> None:
    browser = login(world.member_a)
    _age(browser, last_seen=30)
    seen = browser.session[LAST_SEEN]
    browser.get("/portal/")
    assert browser.session[LAST_SEEN] == seen
    _age(browser, last_seen=90)
    browser.get("/portal/")
    assert browser.session[LAST_SEEN] > time.time() - 5


def test_the_history_shows_your_own_sign_ins_and_attempts_only(world: World) -> None:
    attempt(HttpClient(REMOTE_ADDR="203.0.113.50"), "member@alpha.test", "wrong-password-1")
    attempt(HttpClient(REMOTE_ADDR="203.0.113.51"), "member@alpha.test", PASSWORD)
    attempt(HttpClient(REMOTE_ADDR="192.0.2.99"), "member@bravo.test", "wrong-password-2")
    page = login(world.member_a).get("/account/sign-ins/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "203.0.113.50" in body and "203.0.113.51" in body and "TestBrowser/1.0" in body
    assert "Failed attempt" in body and "Password" in body
    assert "192.0.2.99" not in body, "another person's attempts are not shown"
    assert "wrong-password" not in body
    assert not SignInEvent.objects.filter(note__icontains="wrong-password").exists()
    # Times are in the reader's zone (Asia/Manila, UTC+8).
    event = SignInEvent.objects.filter(user=world.member_a).earliest("at")
    local = event.at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert local.strftime("%b %-d, %Y %H:%M") in body
    # The navigation links to it.
    assert 'href="/account/sign-ins/"' in login(world.agent).get("/workspace/").content.decode()


def test_the_history_names_the_browser_in_words(world: World) -> None:
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    )
    HttpClient(REMOTE_ADDR="203.0.113.60").post(
        "/accounts/login/",
        {"login": "member@alpha.test", "password": PASSWORD},
        HTTP_USER_AGENT=chrome,
    )
    body = login(world.member_a).get("/account/sign-ins/").content.decode()
    assert ">Chrome on Windows</span>" in body
    assert f'title="{chrome}"' in body  # the full text stays at hand
