"""Browser tests drive Debian's Chromium through Playwright against a live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relaydesk.catalog.models import Service, ServiceLine, ServiceSkill, Skill
from relaydesk.catalog.seed import seed_catalog, seed_file_types
from relaydesk.workforce.models import Certification, Clearance

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between page steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("RELAYDESK_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SHOTS = Path(os.environ.get("RELAYDESK_SCREENSHOTS", "test-results/screens"))


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session; Playwright never downloads a browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def shots() -> Path:
    """Where screenshots of each step go, to look at after a run."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def _seed_catalog() -> None:
    seed_catalog(ServiceLine, Skill, Service, ServiceSkill, Clearance, Certification)
    seed_file_types(Service)


@pytest.fixture(scope="module")
def _catalog_back_after_module(django_db_blocker: Any) -> Iterator[None]:
    """A committing module's flush empties the seeded catalog too: later tests need it back."""
    yield
    with django_db_blocker.unblock():
        _seed_catalog()


@pytest.fixture
def seeded_catalog(transactional_db: None, _catalog_back_after_module: None) -> None:
    """The seeded catalog, which an earlier committing test's flush may have emptied."""
    _seed_catalog()
