"""Who reviews each seeded service, and the upgrade that hands KPO review to senior analysts."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from relaydesk.catalog.models import Service, ServiceLine

pytestmark = pytest.mark.django_db

upgrade = importlib.import_module("relaydesk.catalog.migrations.0006_senior_analyst_reviews_kpo")


def _review(slug: str) -> tuple[str, str]:
    service = Service.objects.get(slug=slug)
    return service.review_policy, service.review_role


def test_every_seeded_kpo_service_is_reviewed_by_a_senior_analyst() -> None:
    kpo = Service.objects.filter(line__code="KPO")
    assert set(kpo.values_list("slug", flat=True)) == {
        "market-research",
        "financial-analysis",
        "data-interpretation",
    }
    assert set(kpo.values_list("review_policy", "review_role")) == {("mandatory", "senior_analyst")}


def test_lpo_and_bpo_keep_their_reviewers() -> None:
    assert _review("legal-drafting") == ("mandatory", "supervising_attorney")
    assert _review("e-filing") == ("mandatory", "supervising_attorney")
    assert _review("legal-research") == ("sampled", "")
    others = Service.objects.filter(line__code="BPO").values_list("review_role", flat=True)
    assert set(others) == {""}


def test_the_upgrade_moves_kpo_review_from_qa_reviewers_to_senior_analysts() -> None:
    """Given an installation from before senior analysts, with KPO services reviewed by QA
    reviewers and one a provider set up themselves, when it is upgraded, then mandatory KPO
    review goes to senior analysts and nothing else changes; downgrading puts it back."""
    Service.objects.filter(line__code="KPO").update(review_role="qa_reviewer")
    kpo = ServiceLine.objects.get(code="KPO")
    unnamed = Service.objects.create(
        line=kpo, slug="due-diligence", name="Due diligence", review_policy="mandatory"
    )
    sampled = Service.objects.create(
        line=kpo,
        slug="survey-coding",
        name="Survey coding",
        review_policy="sampled",
        review_role="qa_reviewer",
    )
    by_attorney = Service.objects.create(
        line=kpo,
        slug="patent-landscape",
        name="Patent landscape",
        review_policy="mandatory",
        review_role="supervising_attorney",
    )
    before_lpo_bpo = list(
        Service.objects.exclude(line=kpo).order_by("pk").values_list("slug", "review_role")
    )

    upgrade.kpo_reviewed_by_senior_analysts(apps, None)

    assert _review("market-research") == ("mandatory", "senior_analyst")
    assert _review("financial-analysis") == ("mandatory", "senior_analyst")
    assert _review("data-interpretation") == ("mandatory", "senior_analyst")
    assert _review(unnamed.slug) == ("mandatory", "senior_analyst")
    assert _review(sampled.slug) == ("sampled", "qa_reviewer")
    assert _review(by_attorney.slug) == ("mandatory", "supervising_attorney")
    after_lpo_bpo = list(
        Service.objects.exclude(line=kpo).order_by("pk").values_list("slug", "review_role")
    )
    assert after_lpo_bpo == before_lpo_bpo

    upgrade.kpo_reviewed_by_qa_reviewers(apps, None)

    assert _review("market-research") == ("mandatory", "qa_reviewer")
    assert _review(by_attorney.slug) == ("mandatory", "supervising_attorney")
