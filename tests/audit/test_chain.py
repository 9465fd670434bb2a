"""Given the audit trail: it cannot be changed in place, and changes made behind its back show."""

from __future__ import annotations

import itertools
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models.deletion import ProtectedError

from relaydesk.audit import guard
from relaydesk.audit.actions import record
from relaydesk.audit.chain import GENESIS
from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Client
from tests.conftest import World, submit

pytestmark = pytest.mark.django_db


def verify() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def broken() -> str:
    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    return str(caught.value)


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def records_written(world: World, count: int = 3) -> list[AuditRecord]:
    for n in range(count):
        submit(world.member_a, world.engagement_a, title=f"Batch {n}")
    return list(AuditRecord.objects.order_by("seq"))


def test_an_untouched_trail_verifies(world: World) -> None:
    trail = records_written(world)
    assert [r.seq for r in trail] == list(range(1, len(trail) + 1))
    assert trail[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(trail))
    assert verify().startswith(f"OK: {len(trail)} records, chain intact up to #{len(trail)}")


def edit_and_save(record: AuditRecord) -> None:
    record.action = "x"
    record.save()


ATTEMPTS = {
    "orm update": lambda r: AuditRecord.objects.filter(pk=r.pk).update(action="x"),
    "orm save": edit_and_save,
    "orm delete": lambda r: r.delete(),
    "orm bulk delete": lambda r: AuditRecord.objects.all().delete(),
    "sql update": lambda r: sql("UPDATE audit_auditrecord SET detail = '{}' WHERE id = %s", [r.pk]),
    "sql delete": lambda r: sql("DELETE FROM audit_auditrecord WHERE id = %s", [r.pk]),
    "sql delete all": lambda r: sql("DELETE FROM audit_auditrecord"),
}


# The triggers bind the tables' owner too, so these tests run as the owner; the
# application's own role is refused even earlier, by its grants (below).
@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_records_cannot_be_changed_or_removed(world: World, as_owner: None, attempt: str) -> None:
    target = records_written(world, 1)[0]
    before = list(AuditRecord.objects.order_by("seq").values_list("seq", "action", "hash"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ATTEMPTS[attempt](target)
    assert list(AuditRecord.objects.order_by("seq").values_list("seq", "action", "hash")) == before


def test_postgresql_refuses_truncate_too(world: World, as_owner: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    records_written(world, 1)
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # as if committed: no foreign-key checks pending
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql("TRUNCATE audit_auditrecord CASCADE")
    assert AuditRecord.objects.exists()


@pytest.mark.parametrize("attempt", ["sql update", "sql delete"])
def test_the_applications_database_role_may_not_even_try(world: World, attempt: str) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    target = records_written(world, 1)[0]
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        ATTEMPTS[attempt](target)
    assert AuditRecord.objects.filter(pk=target.pk, hash=target.hash).exists()


def test_a_person_in_the_trail_cannot_be_deleted_only_deactivated(world: World) -> None:
    records_written(world, 1)
    with pytest.raises(ProtectedError), transaction.atomic():
        world.member_a.delete()
    assert AuditRecord.objects.filter(actor=world.member_a).exists()


def test_the_flush_command_refuses_on_a_database_that_is_not_a_test_database(
    world: World, as_owner: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    records_written(world, 1)
    monkeypatch.setattr(guard, "is_test_database", lambda connection: False)
    with pytest.raises(CommandError), transaction.atomic():
        call_command("flush", interactive=False, verbosity=0)
    assert AuditRecord.objects.exists()
    assert guard.installed(connection)


def test_flush_on_the_test_database_empties_the_trail_and_keeps_the_triggers(
    world: World,
    as_owner: None,
) -> None:
    """What Django does between transactional tests; rolled back with this test."""
    records_written(world, 1)
    if connection.vendor == "postgresql":
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # as if committed: no foreign-key checks pending
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditRecord.objects.exists()
    assert guard.installed(connection)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        record(actor=None, action="test.after_flush", obj=None)
        sql("DELETE FROM audit_auditrecord")


# Tampering behind the triggers' back: dropped inside the test's transaction, which
# rolls back (triggers included) when the test ends.


def test_an_edited_record_is_named_as_edited(world: World, as_owner: None) -> None:
    trail = records_written(world)
    victim = trail[1]
    guard.remove(connection)
    sql("UPDATE audit_auditrecord SET actor_label = 'Someone Else' WHERE id = %s", [victim.pk])
    message = broken()
    assert f"record #{victim.seq} (id {victim.pk}," in message
    assert victim.action in message
    assert "hash mismatch" in message and "edited" in message
    assert f"intact (up to #{victim.seq - 1})" in message


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(world: World, as_owner: None) -> None:
    from relaydesk.audit.chain import HASHED_FIELDS, record_hash

    trail = records_written(world)
    victim = trail[0]
    guard.remove(connection)
    row = AuditRecord.objects.values(*HASHED_FIELDS).get(pk=victim.pk)
    row["detail"] = {"service": "something-else"}
    sql(
        "UPDATE audit_auditrecord SET detail = %s, hash = %s WHERE id = %s",
        ['{"service": "something-else"}', record_hash(row), victim.pk],
    )
    message = broken()
    assert f"record #{trail[1].seq} (id {trail[1].pk}," in message
    assert "prev_hash mismatch" in message


def test_a_removed_record_is_named_as_missing(world: World, as_owner: None) -> None:
    trail = records_written(world)
    guard.remove(connection)
    sql("DELETE FROM audit_auditrecord WHERE id = %s", [trail[2].pk])
    message = broken()
    assert f"record #{trail[3].seq} (id {trail[3].pk}," in message
    assert f"record #{trail[2].seq} is missing" in message


def test_a_forged_record_inserted_by_sql_is_detected(world: World, as_owner: None) -> None:
    trail = records_written(world)
    last = trail[-1]
    sql(
        "INSERT INTO audit_auditrecord (seq, at, actor_label, action, object_type, object_id,"
        " detail, prev_hash, hash) VALUES (%s, %s, 'system', 'work_item.accept', 'WorkItem',"
        " '1', '{}', %s, %s)",
        [last.seq + 1, last.at.strftime("%Y-%m-%d %H:%M:%S"), last.hash, "f" * 64],
    )
    message = broken()
    assert f"record #{last.seq + 1}" in message and "work_item.accept" in message
    assert "hash mismatch" in message


def test_verify_reports_missing_triggers(world: World, as_owner: None) -> None:
    records_written(world, 1)
    guard.remove(connection)
    with pytest.raises(CommandError, match=r"append-only triggers .* are missing") as caught:
        verify()
    assert caught.value.returncode == 2


# Only these apps' tables are emptied afterwards, so the seeded catalog stays for later tests.
@pytest.mark.django_db(transaction=True, available_apps=["relaydesk.audit", "relaydesk.clients"])
def test_concurrent_writers_keep_one_linear_chain() -> None:
    """Given several threads, each with its own connection, writing at once."""
    client = Client.objects.create(slug="chain-test", name="Chain Test")
    writers, each = 6, 25
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with transaction.atomic():
                    record(actor=None, action="test.write", obj=client, detail={"w": n, "i": i})
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    trail = list(AuditRecord.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))
    assert [seq for seq, _, _ in trail] == list(range(1, writers * each + 1))
    assert len({prev for _, prev, _ in trail}) == len(trail), "two records share a predecessor"
    assert verify().startswith(f"OK: {writers * each} records")
