"""The worker purges once a day by itself.

Given items past their retention, when the worker's loop sweeps (the routing task, or
``relaydesk route``), then the first sweep of a UTC day queues the day's purge, the
worker runs it once with the same audit records as ``relaydesk purge``, two tasks never
purge at once, and a failed day is logged without its details and tried again later.
"""

from __future__ import annotations

import datetime as dt
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from relaydesk.audit.models import AuditRecord
from relaydesk.retention import actions
from relaydesk.retention.actions import (
    DAILY_ATTEMPTS,
    RETRY_AFTER,
    STALE_AFTER,
    do_run_daily_purge,
    do_schedule_daily_purge,
)
from relaydesk.retention.models import DailyPurge, DailyPurgeState
from relaydesk.retention.tasks import purge_expired_daily
from relaydesk.routing.tasks import route_and_escalate
from relaydesk.work.models import Attachment, WorkItem
from tests.conftest import World
from tests.notifications.support import run_the_worker, tasks_in_the_database
from tests.retention.test_purge import keep_for, make_item, stored_name

DAY_TASK = "purge_expired_daily"
SECRET = "s3cr3t-db-password"


def queued_purges() -> list[list[Any]]:
    """The daily purge tasks waiting in the database, by their arguments."""
    from django_tasks_db.models import DBTaskResult

    return [
        row.args_kwargs["args"]
        for row in DBTaskResult.objects.filter(task_path__endswith=DAY_TASK).order_by("pk")
        if row.status == "READY"
    ]


def early_today() -> dt.datetime:
    """01:00 UTC today: an hour, a retry and a stale run later it is still the same day."""
    return timezone.now().astimezone(dt.UTC).replace(hour=1, minute=0, second=0, microsecond=0)


@pytest.fixture
def expired(world: World, settings: Any) -> WorkItem:
    tasks_in_the_database(settings)
    keep_for(world.engagement_a, 30)
    return make_item(world, world.engagement_a, title="Old accepted claim", closed_days_ago=40)


def test_the_worker_loop_queues_the_purge_once_a_day_and_the_worker_runs_it(
    world: World, expired: WorkItem, django_capture_on_commit_callbacks: Any
) -> None:
    name = stored_name(expired)
    today = timezone.now().astimezone(dt.UTC).date()

    with django_capture_on_commit_callbacks(execute=True):
        first = route_and_escalate.call()
        second = route_and_escalate.call()

    assert (first["retention_purge_queued"], second["retention_purge_queued"]) == (1, 0)
    assert queued_purges() == [[today.isoformat()]]
    assert default_storage.exists(name), "queued, not yet run"

    ran = run_the_worker()

    assert [(task, status) for task, status, _ in ran] == [(DAY_TASK, "SUCCESSFUL")]
    assert ran[0][2] == {
        "state": "done",
        "items": 1,
        "files": 1,
        "bytes": Attachment.objects.get(item=expired).size,
        "details": 1,
        "comments": 2,
        "reports": 0,
        "deliveries": 0,
        "failed": 0,
    }
    assert not default_storage.exists(name)
    # Audited as `relaydesk purge` is: per item, and one record for the run, by the system.
    purge = AuditRecord.objects.get(action="retention.purge")
    assert purge.actor_id is None and purge.client_id == world.client_a.pk
    run = AuditRecord.objects.get(action="retention.purge_run")
    assert run.actor_label == "system" and run.detail["items"] == 1
    assert run.detail["scheduled_for"] == today.isoformat()
    assert DailyPurge.objects.get(day=today).state == DailyPurgeState.DONE

    # The rest of the day's sweeps queue nothing; the next day's first one does.
    with django_capture_on_commit_callbacks(execute=True):
        assert route_and_escalate.call()["retention_purge_queued"] == 0
        assert do_schedule_daily_purge(at=timezone.now() + dt.timedelta(days=1)) is True
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert queued_purges() == [[tomorrow]]


def test_the_route_loop_says_when_it_queued_the_days_purge(
    world: World, expired: WorkItem, django_capture_on_commit_callbacks: Any
) -> None:
    outputs = []
    for _ in range(2):
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("route", stdout=out)
        outputs.append(out.getvalue())
    assert outputs[0].rstrip().endswith("; retention purge queued")
    assert "retention purge" not in outputs[1]
    assert len(queued_purges()) == 1


def test_two_tasks_for_one_day_purge_once(
    world: World, expired: WorkItem, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert do_schedule_daily_purge() is True
    # The same day's task queued a second time (a stale queue, an operator): it finds the
    # day claimed and does nothing.
    purge_expired_daily.enqueue(queued_purges()[0][0])

    ran = run_the_worker()

    assert [result["state"] for _, _, result in ran] == ["done", "skipped"]
    assert AuditRecord.objects.filter(action="retention.purge_run").count() == 1
    assert AuditRecord.objects.filter(action="retention.purge").count() == 1


def test_a_day_being_purged_is_neither_run_nor_queued_again_while_it_lives(
    world: World, expired: WorkItem
) -> None:
    start = early_today()
    assert do_schedule_daily_purge(at=start) is True
    # Another worker has claimed it and is working.
    DailyPurge.objects.filter(day=start.date()).update(
        state=DailyPurgeState.RUNNING, started_at=start, alive_at=start, attempts=1
    )
    assert do_run_daily_purge(start.date(), at=start) is None
    assert do_schedule_daily_purge(at=start + STALE_AFTER - dt.timedelta(minutes=1)) is False
    assert Attachment.objects.get(item=expired).purged_at is None
    # No sign of life for longer than STALE_AFTER: its worker died; the day is queued again.
    later = start + STALE_AFTER + dt.timedelta(minutes=1)
    assert do_schedule_daily_purge(at=later) is True
    assert do_run_daily_purge(start.date(), at=later).state == DailyPurgeState.DONE  # type: ignore[union-attr]
    assert Attachment.objects.get(item=expired).purged_at is not None


def test_a_failed_day_is_logged_without_its_details_and_tried_again_later(
    world: World, expired: WorkItem, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    start = early_today()
    day = start.date()

    def database_gone(**_: Any) -> Any:
        raise OperationalError(f"connection failed: password={SECRET} for {expired.title}")

    monkeypatch.setattr(actions, "expired_items", database_gone)
    do_schedule_daily_purge(at=start)
    with caplog.at_level(logging.WARNING, logger="relaydesk.retention.actions"):
        failed = do_run_daily_purge(day, at=start)

    assert failed is not None and failed.state == DailyPurgeState.FAILED
    assert failed.error == "Stopped by OperationalError"
    (logged,) = [r for r in caplog.records if r.name == "relaydesk.retention.actions"]
    assert "OperationalError" in logged.getMessage()
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert SECRET not in text and expired.title not in text and record.exc_info is None
    assert Attachment.objects.get(item=expired).purged_at is None

    # Not again at once, but a later sweep of the same day queues it again.
    assert do_schedule_daily_purge(at=start + RETRY_AFTER / 2) is False
    monkeypatch.undo()
    assert do_schedule_daily_purge(at=start + RETRY_AFTER) is True
    again = do_run_daily_purge(day, at=start + RETRY_AFTER)
    assert again is not None and again.state == DailyPurgeState.DONE and again.attempts == 2
    assert again.counts["items"] == 1
    assert Attachment.objects.get(item=expired).purged_at is not None
    assert do_schedule_daily_purge(at=start + 3 * RETRY_AFTER) is False


def test_an_item_left_unpurged_fails_the_day_and_the_retries_are_few(
    world: World, expired: WorkItem, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    start = early_today()
    day = start.date()
    storage = Attachment.objects.get(item=expired).file.storage

    def refuse(name: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(storage, "delete", refuse)
    at = start
    for attempt in range(1, DAILY_ATTEMPTS + 1):
        assert do_schedule_daily_purge(at=at) is True
        with caplog.at_level(logging.WARNING, logger="relaydesk.retention.actions"):
            purge = do_run_daily_purge(day, at=at)
        assert purge is not None and purge.state == DailyPurgeState.FAILED
        assert purge.attempts == attempt and purge.error == "1 not purged"
        at += RETRY_AFTER
    warnings = [r.getMessage() for r in caplog.records if "daily retention purge" in r.getMessage()]
    assert len(warnings) == DAILY_ATTEMPTS and expired.reference in warnings[0]
    assert all(stored_name(expired) not in text for text in warnings)
    # Enough for one day: tomorrow's purge tries again.
    assert do_schedule_daily_purge(at=at) is False
    assert do_schedule_daily_purge(at=start + dt.timedelta(days=1)) is True
    assert Attachment.objects.get(item=expired).purged_at is None
