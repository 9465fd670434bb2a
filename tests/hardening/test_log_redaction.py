"""No secret or sensitive field reaches the logs, through the handlers settings.LOGGING sets up."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.test import override_settings

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.logging import RedactSecrets
from tests.conftest import World, login


class _Structured(logging.Formatter):
    """Like a JSON log formatter: the line plus every attribute of the record (extras too)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record) + " | " + repr(sorted(vars(record).items(), key=str))


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured handlers write, captured (their filters untouched)."""
    handlers = {
        h
        for name in ("", "django", "django.request", "django.security.csrf")
        for h in logging.getLogger(name).handlers
        if any(isinstance(f, RedactSecrets) for f in h.filters)
    }
    # Both the root logger and Django's own loggers end in a redacting handler.
    assert any(h in logging.getLogger().handlers for h in handlers)
    assert any(h in logging.getLogger("django").handlers for h in handlers)
    buffer = io.StringIO()
    saved = []
    for handler in handlers:
        assert isinstance(handler, logging.StreamHandler)
        # Swap the stream without flushing the old one: an earlier test's captured stream
        # may already be closed.
        saved.append((handler, handler.stream, handler.formatter))
        handler.stream = buffer
        handler.setFormatter(_Structured("%(levelname)s %(name)s %(message)s"))
    yield buffer
    for handler, stream, formatter in saved:
        handler.stream = stream
        handler.setFormatter(formatter)


TOKEN = "rdk_Q2hhbmdlVGhpc1Rva2VuMTIzNDU2Nzg5MGFi"
PASSWORD_VALUE = "Tr0ub4dor&3-horse"
SECRETS = {
    "token": TOKEN,
    "password": PASSWORD_VALUE,
    "session id": "k3x9sessionvalue0000abcdefghij",
    "csrf token": "Zq8csrfvaluexxxxxxxxxxxxxxxxxxxxxx",
    "ssn": "078-05-1120",
    "iban": "DE89 3704 0044 0532 0130 00",
    "national id": "AB-123456-C",
    "bank account": "000123456789",
    "card": "4111 1111 1111 1111",
    "master key": "bWFzdGVyLWtleS1mb3ItdGVzdHMtMDAwMDAwMDAwMDA=",
}


def _assert_clean(output: str, *extra: str) -> None:
    for name, value in [*SECRETS.items(), *(("value", v) for v in extra)]:
        assert value not in output, f"the log shows the {name}: {output[:2000]}"


def test_secrets_in_messages_args_exceptions_and_extras_are_redacted(
    log_output: io.StringIO,
) -> None:
    log = logging.getLogger("relaydesk.tests.hardening")
    log.warning("Calling upstream with Authorization: Bearer %s", TOKEN)
    log.warning("Login failed: password=%s&email=%s", PASSWORD_VALUE, "a@b.test")
    log.warning("Form data %s", {"password1": PASSWORD_VALUE, "national_id": "AB-123456-C"})
    log.warning("Payload %s", '{"iban": "DE89 3704 0044 0532 0130 00", "ssn": "078-05-1120"}')
    log.warning("Cookie: sessionid=%s; csrftoken=%s", SECRETS["session id"], SECRETS["csrf token"])
    log.warning("Refund to %(account)s", {"account": "bank_account=000123456789"})
    log.warning("Card on file %s", "4111 1111 1111 1111")
    log.warning("Settings %s", {"SECRET_KEY": settings.SECRET_KEY})
    log.warning("Booting with key %s", settings.SECRET_KEY)
    with override_settings(RELAYDESK_MASTER_KEY=SECRETS["master key"]):
        log.warning("Unwrapping with %s", SECRETS["master key"])
    try:
        raise ValueError(f"token {TOKEN} rejected for password={PASSWORD_VALUE}")
    except ValueError:
        log.exception("Upstream refused")
    log.warning(
        "Request handled",
        extra={
            "authorization": f"Bearer {TOKEN}",
            "body": f"password={PASSWORD_VALUE}&iban=DE89370400440532013000",
            "headers": {"Cookie": f"sessionid={SECRETS['session id']}", "X-Ok": "fine"},
        },
    )
    output = log_output.getvalue()
    _assert_clean(output, settings.SECRET_KEY)
    # The log still says what happened.
    assert "Login failed" in output and "Upstream refused" in output
    assert "ValueError" in output and "[REDACTED]" in output
    assert "fine" in output


def test_a_real_api_call_with_a_bad_token_logs_no_token(
    world: World, log_output: io.StringIO
) -> None:
    _, secret = do_create_api_token(world.member_a, name="logged?")
    HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}x").get("/api/v1/me")
    HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/work-items/999999")
    output = log_output.getvalue()
    assert "Unauthorized: /api/v1/me" in output  # Django's request log went through
    assert secret not in output


@override_settings(DEBUG=False, ROOT_URLCONF="tests.hardening.urls")
def test_a_failing_request_with_a_password_in_its_body_logs_no_password(
    world: World, log_output: io.StringIO
) -> None:
    browser = HttpClient(raise_request_exception=False)
    response = browser.post(
        "/boom/",
        {"email": "a@b.test", "password": PASSWORD_VALUE, "ssn": "078-05-1120"},
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_COOKIE=f"sessionid={SECRETS['session id']}",
    )
    assert response.status_code == 500
    output = log_output.getvalue()
    assert "Internal Server Error: /boom/" in output
    assert "RuntimeError: could not read form" in output  # the traceback is kept ...
    _assert_clean(output)  # ... without the body's secrets


def test_csrf_refusals_and_invalid_forms_are_logged_without_the_password(
    world: World, log_output: io.StringIO
) -> None:
    browser = login(world.member_a)
    browser_strict = HttpClient(enforce_csrf_checks=True)
    browser_strict.cookies = browser.cookies
    form = {"title": "", "password": PASSWORD_VALUE, "national_id": "AB-123456-C"}
    assert browser_strict.post("/portal/new/", form).status_code == 403
    assert browser.post("/portal/new/", form).status_code == 422
    output = log_output.getvalue()
    assert "Forbidden (CSRF cookie not set.): /portal/new/" in output
    assert "Unprocessable Content: /portal/new/" in output
    _assert_clean(output)
