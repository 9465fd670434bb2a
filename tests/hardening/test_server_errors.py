"""A server error shows a friendly page (JSON under /api/) and nothing of the internals."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.test import override_settings

from relaydesk.clients import api as clients_api
from tests.conftest import World, login

INTERNALS = ("Traceback", "RuntimeError", "0xDEAD", "internal detail", 'File "', "hunter2")


def _no_internals(text: str) -> None:
    for word in INTERNALS:
        assert word not in text, f"the error answer shows '{word}'"


@override_settings(DEBUG=False, ROOT_URLCONF="tests.hardening.urls")
def test_a_failing_page_shows_the_friendly_500_page(world: World) -> None:
    browser = HttpClient(raise_request_exception=False)
    response = browser.post("/boom/", {"password": "hunter2"})
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "Something went wrong" in text
    _no_internals(text)


@override_settings(DEBUG=False, ROOT_URLCONF="tests.hardening.urls")
def test_a_failing_api_path_answers_json_500(world: World) -> None:
    response = HttpClient(raise_request_exception=False).post("/api/v1/boom", {"x": "1"})
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "detail": "Something went wrong on our side; nothing was half-saved. Try again."
    }


@override_settings(DEBUG=False)
def test_a_bug_inside_an_api_operation_answers_json_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a defect deep in a real operation (the query it relies on blows up) ...
    def broken(user: object) -> object:
        raise RuntimeError("internal detail 0xDEAD: table engagement missing column")

    monkeypatch.setattr(clients_api, "visible_engagements", broken)
    browser = login(world.member_a)
    browser.raise_request_exception = False
    response = browser.get("/api/v1/engagements")
    # ... the caller gets the API's JSON error, not Django's debug page or a traceback.
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    _no_internals(response.content.decode())
    assert "Something went wrong" in response.json()["detail"]
