"""What the database benchmarks share: a throwaway database on either engine, the plain
application role that row-level security binds, and a browser signed in as a person.

Imported by the scripts beside it (``python benchmarks/x.py`` puts this folder first on
the import path).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from django.test import Client as HttpClient

    from relaydesk.accounts.models import User

BENCH_ROLE = "relaydesk_bench_app"


def on_throwaway_database(label: str, engine: str, run: Callable[[], None]) -> None:
    """Point Django at a new, empty database on ``engine`` (``sqlite`` or ``postgresql``,
    the server ``DATABASE_URL`` names), call ``run``, then drop the database whatever
    happened."""
    folder = tempfile.mkdtemp(prefix=f"relaydesk-bench-{label}-")
    os.environ["RELAYDESK_VAR_DIR"] = folder
    os.environ["DJANGO_SETTINGS_MODULE"] = "relaydesk.config.settings"
    os.environ["DEBUG"] = "false"  # as in production: no query log kept in memory
    try:
        if engine == "sqlite":
            os.environ["DATABASE_URL"] = f"sqlite:///{folder}/{label}.sqlite3"
            print(f"SQLite, throwaway {folder}/{label}.sqlite3", flush=True)
            run()
        else:
            _on_postgres(label, run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _on_postgres(label: str, run: Callable[[], None]) -> None:
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"relaydesk_bench_{label}_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        print(f"PostgreSQL, throwaway database {name}", flush=True)
        run()
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def analyze_and_act_as_app_role() -> None:
    """Refresh the planner's statistics; then, on PostgreSQL, connect from here on as a
    plain application role, as the product does, so row-level security binds every query."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    from relaydesk.tenancy.management.commands.grant_app_role import grant_statements

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor != "postgresql":
            return
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [BENCH_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {BENCH_ROLE} NOLOGIN")
        for statement in grant_statements(BENCH_ROLE):
            cursor.execute(statement)
    connection.close()
    connection_created.connect(_as_app_role)


def _as_app_role(sender: object, connection: object, **kwargs: object) -> None:
    if getattr(connection, "vendor", "") == "postgresql":
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"SET ROLE {BENCH_ROLE}")


def signed_in_browser(user: User) -> HttpClient:
    """A test client signed in as ``user``, past the authenticator step."""
    from allauth.account.internal.flows.login import record_authentication
    from django.http import HttpRequest
    from django.test import Client

    browser = Client()
    browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    request = HttpRequest()
    request.session = browser.session
    record_authentication(request, user, "mfa", type="totp")
    request.session.save()
    return browser
