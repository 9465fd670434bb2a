"""The back office offers every role to people and every reviewer role to services."""

from __future__ import annotations

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from tests.conftest import PASSWORD, World, login


def _back_office() -> User:
    return User.objects.create_superuser("root@provider.test", PASSWORD, full_name="Root Admin")


def test_a_person_can_be_made_a_senior_analyst(world: World) -> None:
    page = login(_back_office()).get("/admin/accounts/user/add/").content.decode()
    assert '<option value="senior_analyst">Senior analyst</option>' in page


def test_a_kpo_service_shows_the_senior_analyst_as_its_reviewer(world: World) -> None:
    service = Service.objects.get(slug="financial-analysis")
    page = login(_back_office()).get(f"/admin/catalog/service/{service.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="senior_analyst" selected>Senior analyst</option>' in html
    assert '<option value="supervising_attorney">Supervising attorney</option>' in html
