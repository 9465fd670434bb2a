"""Deployment check: in production the app must not be able to step over the wall."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import connection

WALLED_TABLE = "work_workitem"


def register() -> None:
    """Register the row-security check under ``check --deploy``."""
    checks.register(app_role_check, checks.Tags.security, deploy=True)


def app_role_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse a production database role that row-level security does not bind.

    A superuser, a role with BYPASSRLS, or the owner of the tables (FORCE makes
    the owner subject to the policies, but an owner can switch them off) would
    make the wall decorative.
    """
    if not getattr(settings, "PRODUCTION", False) or connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolname, r.rolsuper, r.rolbypassrls, "
            "pg_get_userbyid(c.relowner) = current_user "
            "FROM pg_roles r LEFT JOIN pg_class c ON c.relname = %s "
            "WHERE r.rolname = current_user",
            [WALLED_TABLE],
        )
        row = cursor.fetchone()
    if row is None:
        return []
    role, superuser, bypass, owner = row
    problems = []
    if superuser:
        problems.append("is a superuser")
    if bypass:
        problems.append("has BYPASSRLS")
    if owner:
        problems.append("owns the tables")
    if not problems:
        return []
    return [
        checks.Error(
            f"The database role {role!r} {' and '.join(problems)}, so row-level security "
            "does not bind the application.",
            hint="Connect the app as a role without those rights: create it, run "
            "`relaydesk grant-app-role ROLE` as the owner, and point DATABASE_URL at it "
            "(docs/security.md, 'Row-level security').",
            id="relaydesk.E001",
        )
    ]
