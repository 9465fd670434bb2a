"""Helpers for notification tests: items driven through the real lifecycle, with the
follow-ups that run after each commit run as they would in production."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
from pathlib import Path
from typing import Any

from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend

from relaydesk.accounts.actions import do_create_user
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action
from relaydesk.core.roles import Role
from relaydesk.notifications.models import Notification
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Agent, ShiftPattern, Site
from tests.conftest import PASSWORD, World, make_agent, submit

MIDNIGHT = dt.time(0)


def review_policy(service: str, policy: str, role: str = "") -> None:
    """Set how a service's finished work is reviewed: none, sampled or mandatory."""
    Service.objects.filter(slug=service).update(review_policy=policy, review_role=role)


def in_progress(world: World, *, title: str = "Key 40 claim forms", **fields: Any) -> WorkItem:
    """An item of client A submitted by its member, held and started by the agent."""
    item = submit(world.member_a, world.engagement_a, title=title, **fields)
    do_assign(world.lead, item, world.agent.agent)
    return do_transition(world.agent, item, Action.START)


def told(user: Any, kind: str | None = None) -> list[Notification]:
    """The notifications written for ``user`` (of ``kind``), oldest first."""
    rows = Notification.objects.filter(recipient=user).order_by("created_at", "pk")
    return list(rows.filter(kind=kind) if kind else rows)


def next_shift_agent(world: World) -> Agent:
    """An agent at a second Philippine site that never closes: the next shift for everyone."""
    cebu = Site.objects.create(code="ceb", name="Cebu", country="PH", time_zone="Asia/Manila")
    ShiftPattern.objects.bulk_create(
        ShiftPattern(site=cebu, name="all day", weekday=day, starts_at=MIDNIGHT, ends_at=MIDNIGHT)
        for day in range(7)
    )
    user = do_create_user(
        None,
        email="relay@provider.test",
        full_name="Rosa Relay",
        role=Role.AGENT,
        password=PASSWORD,
        time_zone="Asia/Manila",
    )
    skills = {s.skill.slug: s.proficiency for s in world.agent.agent.skills.select_related("skill")}
    return make_agent(user, cebu, code="C-001", skills=skills, languages=["en"])


def notification_rows(world: World, items: Any) -> None:
    """Each item's submitter told of it, so every client has notifications behind the wall."""
    from relaydesk.notifications.actions import Note, do_notify
    from relaydesk.notifications.kinds import Kind

    for item in items:
        do_notify(
            Kind.ITEM_DELIVERED, item, [Note(item.submitted_by, f"{item.reference} delivered")]
        )


class BrokenMailer(BaseEmailBackend):
    """A mail server that refuses every sign-in, quoting a credential it must never be
    quoted on. Set as ``MAILERS["default"]["BACKEND"]``."""

    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPAuthenticationError(535, b"auth failed for smtp-user:hunter2")


class RefusingMailer(locmem.EmailBackend):
    """A mail server that answers and refuses one address (``refused@alpha.test``), and
    delivers the rest to Django's test outbox. Set as ``MAILERS["default"]["BACKEND"]``."""

    REFUSED = "refused@alpha.test"

    def send_messages(self, email_messages: Any) -> int:
        for message in email_messages:
            if self.REFUSED in message.recipients():
                raise smtplib.SMTPRecipientsRefused({self.REFUSED: (550, b"no such mailbox")})
        return super().send_messages(email_messages)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mail_server_at_closed_port(settings: Any) -> str:
    """Point EMAIL_URL at an SMTP server that is not there, with a user name and password in
    it, as the settings read it; the URL is returned."""
    from relaydesk.config.settings import _mailer

    url = f"smtp://relay-mailer:hunter2-secret@127.0.0.1:{closed_port()}"
    settings.MAILERS = {"default": _mailer(url, Path(), production=True)}
    return url


def working_mail_server(settings: Any) -> None:
    """Mail goes to Django's test outbox again (``django.core.mail.outbox``)."""
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def tasks_in_the_database(settings: Any) -> None:
    """Enqueued tasks wait in the database for the worker, as in production."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


def run_the_worker() -> list[tuple[str, str, Any]]:
    """Run every task waiting in the database as ``relaydesk worker`` does (django-tasks-db's
    own worker, one task at a time, in this process and transaction); each task's name,
    final status and return value."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="tests",
        excluded_queue_names=[],
    )
    ran = []
    while (row := DBTaskResult.objects.ready().get_locked()) is not None:
        row.claim(worker.worker_id)
        worker.run_task(row)
        row.refresh_from_db()
        ran.append((row.task_path.rsplit(".", 1)[-1], row.status, row.return_value))
    return ran
