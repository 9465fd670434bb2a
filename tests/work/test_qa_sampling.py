"""QA sampling keys on a seed fixed at submission: the same input samples the same way,
whatever ids the database hands out, and nobody without the secret key can tell in advance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import Action, State
from relaydesk.work.actions import (
    NewWorkItem,
    do_assign,
    do_submit_work_item,
    do_transition,
    item_facts,
)
from relaydesk.work.models import WorkItem
from tests.conftest import World, login

AT = dt.datetime(2026, 11, 18, 14, 5, 30, 123456, tzinfo=dt.UTC)


class _Undo(Exception):
    """Rolls a submission back."""


def _submit(world: World, title: str = "Key 40 claim forms", at: dt.datetime = AT) -> WorkItem:
    item, _ = do_submit_work_item(
        world.member_a,
        NewWorkItem(engagement_id=world.engagement_a.pk, service_slug="data-entry", title=title),
        at=at,
    )
    return item


def _sampled_when_completed(world: World, item: WorkItem) -> bool:
    do_assign(world.lead, item, world.agent.agent)
    do_transition(world.agent, item, Action.START)
    item.refresh_from_db()
    return item_facts(item).sampled


def test_the_same_submission_gets_the_same_seed_whatever_its_id(world: World) -> None:
    with pytest.raises(_Undo), transaction.atomic():
        first = _submit(world)
        raise _Undo
    _submit(world, title="Something else first", at=AT - dt.timedelta(hours=1))

    again = _submit(world)

    assert again.pk != first.pk
    assert again.qa_seed == first.qa_seed and len(again.qa_seed) == 64


def test_identical_submissions_at_the_same_moment_get_different_seeds(world: World) -> None:
    seeds = {_submit(world).qa_seed for _ in range(3)}
    assert len(seeds) == 3


def test_the_seed_depends_on_the_secret_key(world: World, settings) -> None:
    with pytest.raises(_Undo), transaction.atomic():
        known = _submit(world).qa_seed
        raise _Undo
    settings.SECRET_KEY = "another installation's secret key"

    assert _submit(world).qa_seed != known


def test_sampling_follows_the_seed_and_the_rate(world: World, settings) -> None:
    settings.SECRET_KEY = "a fixed key, so the twelve decisions below are always the same"
    Service.objects.filter(slug="data-entry").update(review_policy="sampled", qa_sample_rate=50)
    decisions = []
    for n in range(12):
        item = _submit(world, title=f"Batch {n}")
        sampled = _sampled_when_completed(world, item)
        # Sampling keys on the seed, not on the id: a copy with another id decides the same.
        copy = WorkItem.objects.get(pk=item.pk)
        copy.pk = item.pk + 10_000
        assert item_facts(copy).sampled is sampled
        decisions.append(sampled)
        do_transition(world.agent, item, Action.COMPLETE)
        item.refresh_from_db()
        expected = State.IN_REVIEW if sampled else State.DELIVERED
        assert item.state == expected.value
    assert True in decisions and False in decisions


def test_the_seed_is_never_shown(world: World) -> None:
    item = _submit(world)
    _, secret = do_create_api_token(world.member_a, name="seed")
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for text in (
        api.get(f"/api/v1/work-items/{item.pk}").content.decode(),
        login(world.member_a).get(f"/items/{item.pk}/").content.decode(),
        login(world.lead).get(f"/items/{item.pk}/").content.decode(),
    ):
        assert item.qa_seed not in text
