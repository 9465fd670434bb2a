"""Migration operations that put a client-owned table behind the row-security wall.

A new client-owned table gets its wall in the migration that creates it::

    operations = [..., WallOffByClient("work_newthing")]

``tests/tenancy`` fails for any table with a client that has no wall.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

# Whether the transaction's scope lets a row of client ``row_client`` through.
# Inlined by the planner (a plain SQL function), so the check costs no call.
MAY_SEE_FUNCTION = """
CREATE OR REPLACE FUNCTION relaydesk_may_see(row_client bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT CASE coalesce(current_setting('relaydesk.scope', true), '')
    WHEN 'provider' THEN true
    WHEN 'client' THEN coalesce(
      row_client = nullif(current_setting('relaydesk.client_id', true), '')::bigint, false)
    ELSE false
  END
$$;
"""
POLICY = "client_wall"


class PostgresOnlySQL(migrations.RunSQL):
    """SQL that runs on PostgreSQL and is skipped on SQLite (which has no such wall)."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class CreateMaySeeFunction(PostgresOnlySQL):
    """Create ``relaydesk_may_see(client)`` on PostgreSQL; nothing on SQLite."""

    def __init__(self) -> None:
        super().__init__(MAY_SEE_FUNCTION, "DROP FUNCTION IF EXISTS relaydesk_may_see(bigint);")

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {})


class WallOffByClient(PostgresOnlySQL):
    """Enable and force row-level security on ``table``, keyed by ``column``."""

    def __init__(self, table: str, column: str = "client_id") -> None:
        self.table, self.column = table, column
        forwards = [
            f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY;',
            # FORCE: the table's owner (who runs migrations) is walled in too.
            f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY;',
            f'CREATE POLICY {POLICY} ON "{table}" USING (relaydesk_may_see("{column}")) '
            f'WITH CHECK (relaydesk_may_see("{column}"));',
        ]
        backwards = [
            f'DROP POLICY IF EXISTS {POLICY} ON "{table}";',
            f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY;',
            f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY;',
        ]
        super().__init__("\n".join(forwards), "\n".join(backwards))

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.table, self.column], {})

    def describe(self) -> str:
        return f"Row-level security on {self.table} by {self.column}"
