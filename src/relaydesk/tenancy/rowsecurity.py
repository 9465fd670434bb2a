"""PostgreSQL row-level security: the database's own wall between clients.

The application already decides what each person may see (``queries``,
``actions``). Under it, every client-owned table carries a policy that lets a
row through only when the transaction's scope allows its client:

- ``relaydesk.scope = 'provider'``: the provider's staff and the system (all clients);
- ``relaydesk.scope = 'client'`` with ``relaydesk.client_id``: that client only;
- anything else (anonymous, unset): nothing.

The scope is set with ``set_config(..., true)``, so it is local to the
transaction and cannot leak to the next request on a pooled connection. Each
web request runs in one transaction for that reason (:mod:`.middleware`).
On SQLite there is no such wall; every function here is then a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

__all__ = [
    "NO_SCOPE",
    "PROVIDER",
    "Scope",
    "current_scope",
    "enabled",
    "enter",
    "on_commit_in_scope",
    "scope_of",
    "trust_this_process",
    "wall_standing",
    "within",
]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows a transaction may touch: ``kind`` is provider, client or empty."""

    kind: str
    client_id: int | None = None

    def __str__(self) -> str:
        return f"client {self.client_id}" if self.kind == "client" else self.kind or "nobody"


PROVIDER = Scope("provider")
NO_SCOPE = Scope("")


def enabled() -> bool:
    """True when the database enforces row-level security (PostgreSQL)."""
    return connection.vendor == "postgresql"


def wall_standing() -> bool:
    """True when the database enforces the client wall (forced on the work-item table)."""
    if not enabled():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = %s",
            ["work_workitem"],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def scope_of(user: Any) -> Scope:
    """The scope a person works in: their client's, the provider's, or none."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_SCOPE
    if user.client_id is not None:
        return Scope("client", user.client_id)
    return PROVIDER


def enter(scope: Scope) -> None:
    """Set the current transaction's scope (must be inside ``transaction.atomic``)."""
    if not enabled():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('relaydesk.scope', %s, true), "
            "set_config('relaydesk.client_id', %s, true)",
            [scope.kind, "" if scope.client_id is None else str(scope.client_id)],
        )


def current_scope() -> Scope:
    """The scope the current transaction runs in (``NO_SCOPE`` on SQLite)."""
    if not enabled():
        return NO_SCOPE
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(current_setting('relaydesk.scope', true), ''), "
            "coalesce(current_setting('relaydesk.client_id', true), '')"
        )
        kind, client_id = cursor.fetchone()
    return Scope(kind, int(client_id) if kind == "client" and client_id else None)


@contextmanager
def within(scope: Scope) -> Iterator[None]:
    """Run the block in one transaction under ``scope``, then restore the previous one.

    Trusted code uses it for the few reads and writes that must cross the
    current scope: appending to the audit chain (its head is any client's),
    finding which client owns a sign-on app before anyone is signed in, and
    reading a client's two-factor rule while its user signs in.
    """
    if not enabled():
        yield
        return
    with transaction.atomic():
        previous = current_scope()
        enter(scope)
        try:
            yield
        finally:
            # After an error inside the block the transaction can no longer run
            # statements; it is rolled back as a whole, scope included.
            if not transaction.get_connection().needs_rollback:
                enter(previous)


def on_commit_in_scope(callback: Callable[[], object]) -> None:
    """``transaction.on_commit`` for a follow-up that reads client data.

    Follow-ups run after the commit, outside the transaction that held the
    scope; this one runs in a new transaction under the scope of the caller.
    """
    scope = current_scope()

    def run() -> None:
        with within(scope):
            callback()

    transaction.on_commit(run)


# Set by the ``relaydesk`` command for everything but ``serve``: the operator on
# the command line and the task worker act for the provider.
_trusted_process = False


def trust_this_process() -> None:
    """Give every database session of this process the provider's scope by default.

    For command-line tools and the worker, which run only the project's own code.
    The web server never calls this: its requests start with no scope at all.
    """
    global _trusted_process
    _trusted_process = True


def connect_trusted_process_scope() -> None:
    """Apply :func:`trust_this_process` to each new connection (called at start-up)."""
    from django.db.backends.signals import connection_created
    from django.db.models.signals import pre_migrate

    connection_created.connect(_on_connection_created, dispatch_uid="relaydesk-trusted-scope")
    # Data migrations must see every client's rows, however ``migrate`` was started.
    pre_migrate.connect(_before_migrate, dispatch_uid="relaydesk-migrate-scope")


def _before_migrate(sender: object, using: str = "default", **kwargs: object) -> None:
    from django.db import connections

    _provider_for_the_session(connections[using])


def _on_connection_created(sender: object, connection: Any, **kwargs: object) -> None:
    if _trusted_process:
        _provider_for_the_session(connection)


def _provider_for_the_session(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Session-wide (false): a default that request-style transactions may narrow.
            cursor.execute("SELECT set_config('relaydesk.scope', 'provider', false)")
