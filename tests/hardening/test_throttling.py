"""API rate limits: per token, per signed-in user, per address for failed sign-ins."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.test import override_settings

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.config.api import api
from relaydesk.throttling import CallerRateThrottle, parse_rate
from tests.conftest import World, login


def _bearer(world: World, name: str) -> HttpClient:
    _, secret = do_create_api_token(world.member_a, name=name)
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _assert_throttled(response) -> int:
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= 60
    assert response.json() == {"detail": f"Too many requests; try again in {seconds} seconds."}
    return seconds


@override_settings(RELAYDESK_API_RATE="3/m")
def test_the_request_after_the_limit_gets_429_and_another_token_is_unaffected(
    world: World,
) -> None:
    first, second = _bearer(world, "first"), _bearer(world, "second")
    for _ in range(3):
        assert first.get("/api/v1/me").status_code == 200
    _assert_throttled(first.get("/api/v1/me"))
    _assert_throttled(first.get("/api/v1/work-items"))  # the limit spans every operation
    # Same person, another token: counted on its own.
    assert second.get("/api/v1/me").status_code == 200


@override_settings(RELAYDESK_API_RATE="2/m")
def test_browser_calls_are_limited_per_signed_in_user(world: World) -> None:
    member, lead = login(world.member_a), login(world.lead)
    assert member.get("/api/v1/me").status_code == 200
    assert member.get("/api/v1/services").status_code == 200
    _assert_throttled(member.get("/api/v1/me"))
    # A second browser of the same user shares the count; another user does not.
    _assert_throttled(login(world.member_a).get("/api/v1/me"))
    assert lead.get("/api/v1/me").status_code == 200


@override_settings(RELAYDESK_API_ANON_RATE="2/m")
def test_failed_sign_ins_are_limited_per_address(world: World) -> None:
    guesser = HttpClient(REMOTE_ADDR="203.0.113.9")
    assert guesser.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer rdk_guess1").status_code == 401
    assert guesser.get("/api/v1/me").status_code == 401
    _assert_throttled(guesser.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer rdk_guess3"))
    # A forged X-Forwarded-For does not buy a fresh count.
    spoofed = guesser.get("/api/v1/me", HTTP_X_FORWARDED_FOR="198.51.100.1")
    _assert_throttled(spoofed)
    other = HttpClient(REMOTE_ADDR="203.0.113.10")
    assert other.get("/api/v1/me").status_code == 401
    # A valid token is not held back by the address's failures.
    _, secret = do_create_api_token(world.member_a, name="valid")
    assert guesser.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_the_window_slides(world: World, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.RELAYDESK_API_RATE = "2/m"
    clock = [1_000_000.0]
    monkeypatch.setattr(CallerRateThrottle, "timer", staticmethod(lambda: clock[0]))
    http = _bearer(world, "slides")
    assert http.get("/api/v1/me").status_code == 200
    clock[0] += 30
    assert http.get("/api/v1/me").status_code == 200
    clock[0] += 10
    assert _assert_throttled(http.get("/api/v1/me")) == 20  # the first call leaves at +60
    clock[0] += 21
    assert http.get("/api/v1/me").status_code == 200


def test_rates_read_like_django_ninjas() -> None:
    assert parse_rate("600/m") == (600, 60)
    assert parse_rate("60/min") == (60, 60)
    assert parse_rate("10/5m") == (10, 300)
    assert parse_rate("1000/day") == (1000, 86400)
    with pytest.raises(Exception, match="600/m"):
        parse_rate("lots")


def test_every_operation_documents_its_error_answers() -> None:
    schema = api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            documented = {str(status) for status in operation["responses"]}
            where = f"{method.upper()} {path}"
            assert {"401", "403", "429"} <= documented, f"{where} documents {documented}"
            if re.search(r"\{\w+_id\}", path):
                assert "404" in documented, where
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in documented, where
            if method == "post" and "transitions" in path:
                assert "409" in documented, where
