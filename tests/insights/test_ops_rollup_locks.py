"""The operations roll-up under concurrency: a view never waits for another transaction
that holds the roll-up, and counts its period live instead, to the same figures.

This test commits (``transaction=True``) so that another connection can hold the roll-up's
lock while the view runs. Django empties every table after it, so the seeded catalog is
put back after the module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, connections

from relaydesk.catalog.models import Service, ServiceLine, ServiceSkill, Skill
from relaydesk.catalog.seed import seed_catalog, seed_file_types
from relaydesk.insights.ops_daily import _LOCK_KEY
from relaydesk.insights.ops_daily_models import CountedOperationsDay
from relaydesk.workforce.models import Certification, Clearance
from tests.conftest import World
from tests.insights.test_ops_rollup import (  # noqa: F401 (fixtures)
    _measures_follow_changes,
    assert_as_live,
    history,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's advisory locks"),
]


def _seed() -> None:
    seed_catalog(ServiceLine, Skill, Service, ServiceSkill, Clearance, Certification)
    seed_file_types(Service)


@pytest.fixture(scope="module", autouse=True)
def _catalog_back_afterwards(django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """The flush after the test empties the seeded catalog: later tests need it."""
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _seed()


def test_a_view_while_another_holds_the_roll_up_counts_its_period_live(
    history: World,  # noqa: F811 (the fixture)
) -> None:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s::bigint)", [_LOCK_KEY])
        assert_as_live(history)
        assert not CountedOperationsDay.objects.exists()
    finally:
        other.close()
    assert_as_live(history)
    assert CountedOperationsDay.objects.exists()
