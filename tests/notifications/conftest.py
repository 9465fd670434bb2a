"""Notification tests run enqueued tasks at once, in this process, as the worker would;
the tests of the queue itself choose the database backend again."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings: Any) -> None:
    """The e-mail task runs as soon as it is enqueued (after the commit)."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
