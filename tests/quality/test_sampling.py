"""Every sampling rule reaches the lifecycle: completing an item sends it to QA or delivers
it, as the engagement's rule and the agent's history say, and the timeline says why."""

from __future__ import annotations

import pytest

from relaydesk.catalog.models import Service
from relaydesk.quality.actions import do_set_sampling_rule, do_submit_review
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Agent
from tests.conftest import World, login, submit
from tests.quality.support import LOW, PASSING, finish, publish_scorecard


def _why(item: WorkItem) -> str:
    """What the timeline says about sampling at the item's last completion (internally)."""
    last = item.events.filter(kind="qa_sampling").order_by("-at", "-pk").first()
    assert last is not None and last.internal
    return last.note[:1].lower() + last.note[1:]


def _finish_new(world: World, title: str) -> WorkItem:
    return finish(world, submit(world.member_a, world.engagement_a, title=title))


def test_an_agent_on_probation_has_every_item_reviewed(world: World) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0)
    Agent.objects.filter(user=world.agent).update(on_probation=True)

    items = [_finish_new(world, f"Batch {n}") for n in range(3)]

    assert [item.state for item in items] == ["in_review"] * 3
    assert _why(items[0]) == "sampled because the agent is on probation (100 %)"


def test_off_probation_the_base_rate_decides(world: World) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0)

    item = _finish_new(world, "Batch")

    assert item.state == "delivered"
    assert _why(item) == "not sampled: outside the base rate of 0 %"


def test_a_rule_may_leave_probation_to_the_base_rate(world: World) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0, probation_full=False)
    Agent.objects.filter(user=world.agent).update(on_probation=True)

    assert _finish_new(world, "Batch").state == "delivered"


def test_the_first_items_of_a_service_are_all_reviewed(world: World) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0, first_items_full=2)

    items = [_finish_new(world, f"Batch {n}") for n in range(3)]

    assert [item.state for item in items] == ["in_review", "in_review", "delivered"]
    assert _why(items[1]) == (
        "sampled because this is the agent's 2nd item of this service "
        "(the first 2 are all reviewed)"
    )


def test_after_a_failed_review_the_next_items_are_sampled_at_the_raised_rate(
    world: World,
) -> None:
    publish_scorecard(world)
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=100)
    failed = _finish_new(world, "Batch that fails")
    do_submit_review(world.qa, failed, LOW, "Accuracy too low: re-key lines 3 to 9.")
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0, raised_rate=100, raised_for=2)

    # The reworked item itself comes first, then one more; the one after that is back at base.
    reworked = finish(world, failed)
    assert reworked.state == "in_review"
    assert _why(reworked) == (
        "sampled because the agent failed a review and has finished no item since "
        "(raised rate 100 %)"
    )
    do_submit_review(world.qa, reworked, PASSING)
    second = _finish_new(world, "Next batch")
    third = _finish_new(world, "Batch after")

    assert second.state == "in_review"
    assert (
        _why(second) == "sampled because the agent failed a review 1 item ago (raised rate 100 %)"
    )
    assert third.state == "delivered"
    assert _why(third) == "not sampled: outside the base rate of 0 %"


def test_the_weekly_minimum_counts_reviews_still_pending(world: World) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0, weekly_minimum=2)

    items = [_finish_new(world, f"Batch {n}") for n in range(3)]

    assert [item.state for item in items] == ["in_review", "in_review", "delivered"]
    assert _why(items[0]) == "sampled because the agent has had 0 of the 2 weekly minimum reviews"
    assert _why(items[1]) == "sampled because the agent has had 1 of the 2 weekly minimum reviews"


def test_without_a_rule_the_services_rate_decides_as_before(world: World) -> None:
    Service.objects.filter(slug="data-entry").update(qa_sample_rate=100)

    item = _finish_new(world, "Batch")

    assert item.state == "in_review"
    assert _why(item) == "sampled at the base rate of 100 %"


def test_the_rule_for_the_service_wins_over_the_engagement_wide_rule(world: World) -> None:
    data_entry = Service.objects.get(slug="data-entry")
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=100)
    do_set_sampling_rule(world.lead, world.engagement_a, service=data_entry, base_rate=0)

    assert _finish_new(world, "Batch").state == "delivered"


def test_mandatory_review_stays_mandatory_whatever_the_rule(world: World) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=0)

    item = finish(world, submit(world.member_a, world.engagement_a, "legal-drafting"))

    assert item.state == "in_review"


@pytest.mark.parametrize("rate", [0, 100])
def test_the_page_shows_why_an_item_went_to_qa_to_the_provider_only(
    world: World, rate: int
) -> None:
    do_set_sampling_rule(world.lead, world.engagement_a, base_rate=rate)
    item = _finish_new(world, "Batch")
    why = "Sampled at the base rate of 100 %" if rate else "Not sampled: outside the base rate"

    assert why in login(world.lead).get(f"/items/{item.pk}/").content.decode()
    assert why not in login(world.member_a).get(f"/items/{item.pk}/").content.decode()


def test_sampling_rules_are_checked_by_the_core(world: World) -> None:
    from relaydesk.errors import Invalid

    with pytest.raises(Invalid, match="must not be below the base rate"):
        do_set_sampling_rule(
            world.lead, world.engagement_a, base_rate=20, raised_rate=10, raised_for=3
        )
    with pytest.raises(Exception, match="Only an operations lead"):
        do_set_sampling_rule(world.agent, world.engagement_a, base_rate=20)


def test_why_an_item_was_sampled_stays_with_the_provider(world: World) -> None:
    from relaydesk.audit.models import AuditRecord
    from relaydesk.work.queries import visible_events

    Agent.objects.filter(user=world.agent).update(on_probation=True)
    [item] = [_finish_new(world, "Probation batch")]
    reason = "sampled because the agent is on probation (100 %)"
    assert _why(item) == reason
    # Neither the client's timeline nor the audit trail (which client admins read) says it.
    assert all("probation" not in e.note for e in visible_events(world.member_a, item))
    assert not any(
        "probation" in str(detail)
        for detail in AuditRecord.objects.filter(object_id=str(item.pk)).values_list(
            "detail", flat=True
        )
    )
