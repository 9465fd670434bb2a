"""Escalation ladders: an item nobody takes is widened at T1 and alerts the lead at T2, once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import Action
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.routing.actions import do_claim_next, do_escalate, do_set_escalation_ladder
from relaydesk.routing.models import EscalationLadder, EscalationStep
from relaydesk.work.actions import do_transition
from relaydesk.workforce.models import AgentSkill, Site
from tests.conftest import World
from tests.routing.conftest import T0, queue

MIN = dt.timedelta(minutes=1)


@pytest.fixture
def florida_first(desk: World) -> EscalationLadder:
    """Claims support is offered to Florida first, widened after 30 minutes, alerts at 60."""
    Site.objects.create(
        code="fll", name="Fort Lauderdale", country="US", time_zone="America/New_York"
    )
    return do_set_escalation_ladder(
        desk.lead,
        desk.engagement_a,
        widen_after_minutes=30,
        alert_after_minutes=60,
        first_sites=["fll"],
    )


def test_each_step_is_recorded_once_on_the_timeline(
    desk: World, florida_first: EscalationLadder
) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0)

    runs = [do_escalate(at=T0 + m * MIN) for m in (10, 31, 35, 61, 90, 200)]

    assert [run.steps for run in runs] == [0, 1, 0, 1, 0, 0]
    assert [run.alerts for run in runs] == [0, 0, 0, 1, 0, 0]
    timeline = list(item.events.filter(kind="escalated").order_by("at"))
    assert [e.note for e in timeline] == [
        "Not taken within 30 min: proficiency lowered by one level; opened to every allowed site.",
        "Not taken within 60 min: operations lead alerted.",
    ]
    assert all(e.internal and e.actor is None for e in timeline)
    assert [e.data["level"] for e in timeline] == [1, 2]
    steps = EscalationStep.objects.filter(item=item).order_by("level")
    assert [(s.level, s.relaxations, s.at) for s in steps] == [
        (1, ["lower-proficiency", "other-sites"], T0 + 31 * MIN),
        (2, ["alert-lead"], T0 + 61 * MIN),
    ]
    assert (
        AuditRecord.objects.filter(action="work_item.escalate", object_id=str(item.pk)).count() == 2
    )
    alert = AuditRecord.objects.get(action="routing.lead_alert")
    assert alert.detail == {
        "item": item.reference,
        "engagement": desk.engagement_a.pk,
        "waited_minutes": 61,
    }
    assert alert.client_id == desk.client_a.pk


def test_an_item_offered_to_another_site_is_opened_by_the_first_step(
    desk: World, florida_first: EscalationLadder
) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0)

    before = do_claim_next(desk.agent, at=T0 + 31 * MIN)
    assert before.rule == "no-match"
    assert "1 are offered to other sites for now" in before.reason

    do_escalate(at=T0 + 31 * MIN)
    assert do_claim_next(desk.agent, at=T0 + 32 * MIN).item == item


def test_a_widened_item_accepts_one_proficiency_level_less(desk: World) -> None:
    do_set_escalation_ladder(
        desk.lead,
        desk.engagement_a,
        widen_after_minutes=20,
        alert_after_minutes=None,
        other_sites=False,
    )
    AgentSkill.objects.filter(agent=desk.other_agent.agent, skill__slug="legal-drafting").update(
        proficiency=3
    )
    item = queue(desk.member_a, desk.engagement_a, "legal-drafting", at=T0)

    assert do_claim_next(desk.other_agent, at=T0 + 25 * MIN).rule == "no-match"
    assert do_escalate(at=T0 + 25 * MIN).steps == 1
    assert do_claim_next(desk.other_agent, at=T0 + 26 * MIN).item == item


def test_a_released_item_climbs_its_ladder_again_from_the_bottom(
    desk: World, florida_first: EscalationLadder
) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0)
    do_escalate(at=T0 + 31 * MIN)
    assert do_claim_next(desk.agent, at=T0 + 32 * MIN).item == item
    do_transition(desk.agent, item, Action.RELEASE, at=T0 + 40 * MIN)

    assert do_escalate(at=T0 + 60 * MIN).steps == 0  # 20 minutes back in the queue
    assert do_escalate(at=T0 + 71 * MIN).steps == 1
    levels = list(EscalationStep.objects.filter(item=item).values_list("queued_since", "level"))
    assert levels == [(T0, 1), (T0 + 40 * MIN, 1)]


def test_a_taken_item_escalates_no_further(desk: World, florida_first: EscalationLadder) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0)
    do_escalate(at=T0 + 31 * MIN)
    do_claim_next(desk.agent, at=T0 + 32 * MIN)
    assert do_escalate(at=T0 + 90 * MIN).steps == 0
    assert item.events.filter(kind="escalated").count() == 1


def test_the_database_refuses_a_step_recorded_twice(
    desk: World, florida_first: EscalationLadder
) -> None:
    item = queue(desk.member_a, desk.engagement_a, at=T0)
    do_escalate(at=T0 + 31 * MIN)
    with pytest.raises(IntegrityError), transaction.atomic():
        EscalationStep.objects.create(
            client=desk.client_a, item=item, queued_since=T0, level=1, at=T0 + 32 * MIN
        )


def test_setting_a_ladder_checks_who_and_what(desk: World) -> None:
    with pytest.raises(NotAllowed):
        do_set_escalation_ladder(
            desk.agent, desk.engagement_a, widen_after_minutes=5, alert_after_minutes=10
        )
    with pytest.raises(Invalid, match="before the item is widened"):
        do_set_escalation_ladder(
            desk.lead, desk.engagement_a, widen_after_minutes=30, alert_after_minutes=10
        )
    with pytest.raises(Invalid, match="No site with the code nowhere"):
        do_set_escalation_ladder(
            desk.lead,
            desk.engagement_a,
            widen_after_minutes=30,
            alert_after_minutes=60,
            first_sites=["nowhere"],
        )
    with pytest.raises(Invalid, match="between 1 and"):
        do_set_escalation_ladder(
            desk.lead, desk.engagement_a, widen_after_minutes=0, alert_after_minutes=None
        )
    assert not EscalationLadder.objects.exists()

    ladder = do_set_escalation_ladder(
        desk.lead, desk.engagement_b, widen_after_minutes=15, alert_after_minutes=45
    )
    assert ladder.client_id == desk.client_b.pk
    record = AuditRecord.objects.get(action="routing.ladder_set")
    assert record.client_id == desk.client_b.pk and record.actor_id == desk.lead.pk
