"""Property-based tests of the live API against its own OpenAPI schema (schemathesis).

Every operation is called with generated input, with a real bearer token of a
client member and of an operations lead, and every answer must be no server
error, a documented status, a documented content type, and match its schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.config.api import api
from relaydesk.config.wsgi import application
from relaydesk.work.actions import do_add_comment
from tests.conftest import World, submit

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    """The cast is built once per operation: hash its passwords cheaply (tests only)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _keep_the_test_connection(db: None) -> Iterator[None]:
    """Requests go straight to the WSGI application (not Django's test client), so,
    as the test client does, keep the end of a request from closing the test
    transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _bearer(world: World, settings, user: User) -> dict[str, str]:
    """An Authorization header for a real token, with some items to find and act on."""
    settings.RELAYDESK_API_RATE = "100000/m"  # the run itself must not hit the limit
    for n in range(3):
        item = submit(world.member_a, world.engagement_a, title=f"Fuzz target {n}")
        do_add_comment(world.member_a, item, "A comment to list")
    _, secret = do_create_api_token(user, name="schemathesis")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client_member(world: World, settings) -> dict[str, str]:
    return _bearer(world, settings, world.member_a)


@pytest.fixture
def ops_lead(world: World, settings) -> dict[str, str]:
    return _bearer(world, settings, world.lead)


# The schema the application serves at /api/v1/openapi.json, built the same way; it is
# built here rather than fetched because every request opens a database transaction,
# and the database is out of reach while tests are collected.
schema = schemathesis.openapi.from_dict(dict(api.get_openapi_schema()))
schema.app = application
BOUNDED = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@BOUNDED
@schema.parametrize()
def test_api_conforms_to_its_schema_for_a_client_member(
    case: schemathesis.Case, client_member: dict[str, str]
) -> None:
    case.call_and_validate(headers=client_member, checks=CHECKS)


@BOUNDED
@schema.parametrize()
def test_api_conforms_to_its_schema_for_an_ops_lead(
    case: schemathesis.Case, ops_lead: dict[str, str]
) -> None:
    case.call_and_validate(headers=ops_lead, checks=CHECKS)
