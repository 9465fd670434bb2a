"""A small demo, built once for the module that asks for it and rolled back afterwards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.test.utils import override_settings

from relaydesk.demo.builder import DemoSummary, build_demo

# A Wednesday afternoon in UTC: US morning, Manila night shift under way.
NOW = dt.datetime(2026, 11, 18, 16, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's demo keeps its attachments."""
    return tmp_path_factory.mktemp("demo-media")


@pytest.fixture(scope="module")
def small_demo(django_db_setup: None, django_db_blocker, demo_media: Path) -> Iterator[DemoSummary]:
    """Three days of demo history, shared by a module's tests; nothing survives the module."""
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=demo_media, RELAYDESK_MASTER_KEY_FILE=str(demo_media / "master.key")
        ),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_demo(seed=3, days=3, now=NOW)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
