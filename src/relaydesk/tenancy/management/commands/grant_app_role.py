"""``relaydesk grant-app-role ROLE``: let the application's own database role do its work.

Run it as the owner of the tables (the role that runs ``relaydesk migrate``),
after each migration. The app role gets what the product needs and no more: it
cannot change the schema, switch off row-level security, or rewrite the audit
trail.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
APPEND_ONLY_TABLES = ("audit_auditrecord",)


class Command(BaseCommand):
    help = "Grant a PostgreSQL role the rights the application needs (run as the owner)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="An existing role, e.g. relaydesk_app.")

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Only PostgreSQL has roles; SQLite needs nothing here.")
        if not ROLE_NAME.match(role):
            raise CommandError(
                f"{role!r} is not a plain role name (lower-case letters, digits, underscores)."
            )
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(
                    f"There is no role {role!r}. Create it first: "
                    f"CREATE ROLE {role} LOGIN PASSWORD '…';"
                )
            if found[0] or found[1]:
                raise CommandError(
                    f"{role!r} is a superuser or has BYPASSRLS; row-level security would not "
                    "bind it. Use a plain role."
                )
            with transaction.atomic():
                for statement in grant_statements(role):
                    cursor.execute(statement)
        self.stdout.write(
            f"Granted {role} the application's rights on every table; "
            f"{', '.join(APPEND_ONLY_TABLES)} stays append-only."
        )


def grant_statements(role: str) -> list[str]:
    """The GRANT and REVOKE statements for ``role`` (a validated plain name)."""
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"GRANT EXECUTE ON FUNCTION relaydesk_may_see(bigint) TO {role}",
    ]
    statements += [
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}" for table in APPEND_ONLY_TABLES
    ]
    return statements
