"""The database triggers that make ``audit_auditrecord`` append-only.

SQLite: BEFORE UPDATE and BEFORE DELETE triggers that abort the statement.
PostgreSQL: one plpgsql function raising an exception, called by a BEFORE
UPDATE OR DELETE row trigger and a BEFORE TRUNCATE statement trigger.

The only way past them is ``lifted()``, used by the ``flush`` command on a test
database (Django empties the tables between transactional tests); the
application itself never lifts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditrecord"
MESSAGE = "audit records are append-only"

SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
    f"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_no_update;",
    "DROP TRIGGER IF EXISTS audit_no_delete;",
]

POSTGRES_INSTALL = [
    f"""CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END;
$$;""",
    f"CREATE OR REPLACE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();",
    f"CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_no_update_delete ON {TABLE};",
    f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE};",
    "DROP FUNCTION IF EXISTS audit_refuse_change();",
]

_EXPECTED = {
    "sqlite": {"audit_no_update", "audit_no_delete"},
    "postgresql": {"audit_no_update_delete", "audit_no_truncate"},
}


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers (idempotent)."""
    if connection.vendor == "sqlite":
        _run(connection, SQLITE_INSTALL)
    elif connection.vendor == "postgresql":
        _run(connection, POSTGRES_INSTALL)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"No append-only triggers for {connection.vendor}.")


def remove(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers (only for reversing the migration)."""
    if connection.vendor == "sqlite":
        _run(connection, SQLITE_REMOVE)
    elif connection.vendor == "postgresql":
        _run(connection, POSTGRES_REMOVE)


def installed(connection: BaseDatabaseWrapper) -> bool:
    """True when every append-only trigger is in place on the table."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
            )
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND NOT tgisinternal AND tgenabled <> 'D'",
                [TABLE],
            )
        names = {row[0] for row in cursor.fetchall()}
    return _EXPECTED.get(connection.vendor, set()) <= names


def is_test_database(connection: BaseDatabaseWrapper) -> bool:
    """True for a database the test runner created (``test_…`` or the configured test name)."""
    name = str(connection.settings_dict.get("NAME") or "")
    test_name = (connection.settings_dict.get("TEST") or {}).get("NAME")
    return bool(name) and (name == test_name or name.rsplit("/", 1)[-1].startswith("test_"))


@contextmanager
def lifted(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Within one transaction: the triggers are off, then back on before it commits.

    Other connections never see the table unguarded (PostgreSQL holds an
    exclusive lock on it; SQLite's writer lock is held for the transaction).
    """
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            _run(connection, [f"ALTER TABLE {TABLE} DISABLE TRIGGER USER;"])
            yield
            _run(connection, [f"ALTER TABLE {TABLE} ENABLE TRIGGER USER;"])
        else:
            _run(connection, SQLITE_REMOVE)
            yield
            _run(connection, SQLITE_INSTALL)
