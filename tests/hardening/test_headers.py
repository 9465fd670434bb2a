"""Production settings pass Django's deploy check; every page sends strict security headers."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django.test import override_settings

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.core.roles import Role
from tests.conftest import PASSWORD, World, login
from tests.test_isolation import _fill, _target_for, page_routes


def _deploy_check(
    tmp_path: Path, secret_key: str, *, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    # A real deployment's environment: nothing the test run itself set (the browser tests
    # set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright, which the deploy check rightly refuses).
    # The database is SQLite unless given: the PostgreSQL role is checked on its own below.
    unset = ("DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    if database_url:
        environment["DATABASE_URL"] = database_url
    environment.update(
        DJANGO_SETTINGS_MODULE="relaydesk.config.settings",
        RELAYDESK_ENV="production",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="relaydesk.example.com",
        RELAYDESK_VAR_DIR=str(tmp_path),
    )
    return subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    result = _deploy_check(tmp_path, secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only"
)
@pytest.mark.django_db
def test_the_deploy_check_refuses_a_database_role_that_bypasses_row_security(
    tmp_path: Path,
) -> None:
    # The test run connects as a superuser: fine for tests, refused for production.
    test_database = connection.settings_dict
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**test_database)
    result = _deploy_check(tmp_path, secrets.token_urlsafe(64), database_url=url)
    assert result.returncode != 0
    assert "relaydesk.E001" in result.stdout + result.stderr
    assert "is a superuser" in result.stdout + result.stderr


def test_the_deploy_check_refuses_a_weak_secret_key(tmp_path: Path) -> None:
    # Given production settings with a short, guessable key, the same check fails.
    result = _deploy_check(tmp_path, "changeme")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


class _Scripts(HTMLParser):
    """The page's <script> tags and any inline event handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
        self.handlers += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (p.strip().split() for p in policy.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def _check_page(url: str, response) -> None:
    assert response["X-Frame-Options"] == "DENY", url
    assert response["Referrer-Policy"], url
    assert response["X-Content-Type-Options"] == "nosniff", url
    policy = _directives(response["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"], url
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, url
    assert policy["object-src"] == ["'none'"], url
    nonces = {s[len("'nonce-") : -1] for s in scripts if s.startswith("'nonce-")}
    page = _Scripts()
    page.feed(response.content.decode(errors="replace"))
    for script in page.scripts:
        src = script.get("src")
        if src:
            # 'self': our static files (or a same-origin script such as the admin's jsi18n).
            same_origin = src.startswith("/") and not src.startswith("//")
            assert same_origin, f"{url}: script from {src}"
        elif (script.get("type") or "text/javascript") in ("text/javascript", "module"):
            assert script.get("nonce") in nonces, f"{url}: inline <script> without the nonce"
        # Other types (application/json data blocks) are never run, so need no nonce.
    assert not page.handlers, f"{url}: inline handlers the CSP blocks: {page.handlers}"


@pytest.fixture
def back_office_admin(world: World) -> User:
    return do_create_user(
        None,
        email="root@provider.test",
        full_name="Root",
        role=Role.PROVIDER_ADMIN,
        password=PASSWORD,
        is_staff=True,
    )


def test_every_page_sends_a_strict_csp_and_framing_headers(
    world: World, back_office_admin: User
) -> None:
    target = _target_for(world, owner_client="a")
    visitors = {
        "anonymous": HttpClient(),
        "client": login(world.member_a),
        "agent": login(world.other_agent),
        "lead": login(world.lead),
        "back office": login(back_office_admin),
    }
    checked = 0
    # Regex routes (e-mail confirmation and reset keys) need a real key: left out.
    urls = [
        _fill(p, target)
        for p, _ in page_routes()
        if not p.startswith("static/") and "(?P<" not in p
    ]
    urls += ["/api/v1/docs"]
    for url in urls:
        for who, browser in visitors.items():
            if url.startswith("/admin/") and who != "back office":
                continue
            response = browser.get(url)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            _check_page(f"{url} as {who}", response)
            checked += 1
    assert checked > 20


def test_error_pages_send_the_same_headers(world: World) -> None:
    response = login(world.member_a).get("/items/999999/")
    assert response.status_code == 404
    _check_page("404 page", response)


PRODUCTION = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


def test_production_bits_are_what_production_settings_hold(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings as s; "
        f"print({{k: getattr(s, k) for k in {sorted(PRODUCTION)!r}}})"
    )
    environment = dict(os.environ)
    environment.update(
        DJANGO_SETTINGS_MODULE="relaydesk.config.settings",
        RELAYDESK_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        RELAYDESK_VAR_DIR=str(tmp_path),
    )
    environment.pop("SECURE_SSL_REDIRECT", None)
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.strip() == repr(dict(sorted(PRODUCTION.items())))


@override_settings(**PRODUCTION)
def test_production_sends_hsts_and_redirects_plain_http(world: World) -> None:
    browser = login(world.member_a)
    plain = browser.get("/portal/")
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    secure = browser.get("/portal/", secure=True)
    assert secure.status_code == 200
    hsts = secure["Strict-Transport-Security"]
    assert re.search(r"max-age=31536000\b", hsts)
    assert "includeSubDomains" in hsts and "preload" in hsts
    _check_page("/portal/ over https", secure)
    anonymous = HttpClient().get("/accounts/login/", secure=True)
    csrf_cookie = anonymous.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf_cookie["secure"]
    signed_in = HttpClient()
    signed_in.post(
        "/accounts/login/",
        {"login": world.member_a.email, "password": PASSWORD},
        secure=True,
    )
    session_cookie = signed_in.cookies[settings.SESSION_COOKIE_NAME]
    assert session_cookie["secure"] and session_cookie["httponly"]
