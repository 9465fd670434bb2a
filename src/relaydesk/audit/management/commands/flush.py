"""Django's ``flush``, able to empty the append-only audit table only on a test database.

Django empties every table between transactional tests with this command. On a
test database the audit triggers are lifted for that one transaction (and are
back before it commits); on any other database the triggers refuse and the
flush fails, so the audit trail cannot be wiped with ``relaydesk flush``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction

from relaydesk.audit import guard


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if not guard.is_test_database(connection):
            super().handle(**options)
            return
        with transaction.atomic(using=connection.alias):
            if connection.vendor == "postgresql":
                # The suite may act as the application's role; emptying tables is the owner's.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL ROLE NONE")
            with guard.lifted(connection):
                super().handle(**options)
