"""Who may work an item: the hard rules as an operations lead reads them.

Given an agent and what an item needs, when the rules are checked, then the first
rule the agent fails is named with a sentence a lead can act on, or none is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from relaydesk.core.eligibility import (
    AgentProfile,
    CertificationGrant,
    Exclusion,
    ItemNeeds,
    first_exclusion,
)

TODAY = dt.date(2026, 3, 2)
YESTERDAY = TODAY - dt.timedelta(days=1)
NEXT_YEAR = dt.date(2027, 3, 2)

PIP_FLORIDA = CertificationGrant("pip-no-fault", frozenset({"US-FL"}), NEXT_YEAR)

# A Manila paralegal who fits the Florida no-fault claims work below in every respect.
MARIA = AgentProfile(
    agent_id=7,
    country="PH",
    skills={"legal-document-review": 4, "data-entry": 3},
    languages=frozenset({"en", "tl"}),
    capacity=3,
    load=1,
    certifications=(PIP_FLORIDA,),
    clearances=frozenset({"phi", "privileged"}),
)

FLORIDA_CLAIM = ItemNeeds(
    skills={"legal-document-review": 3},
    language="en",
    jurisdiction="US-FL",
    certification="pip-no-fault",
    clearance="phi",
    allowed_countries=frozenset({"PH", "US"}),
    dedicated_agent_ids=frozenset({7, 8}),
)


def check(
    agent: AgentProfile = MARIA,
    needs: ItemNeeds = FLORIDA_CLAIM,
    *,
    on: dt.date = TODAY,
    check_capacity: bool = True,
) -> Exclusion | None:
    return first_exclusion(agent, needs, on, check_capacity=check_capacity)


def test_an_agent_who_fits_every_rule_is_eligible() -> None:
    assert check() is None


def test_the_rules_are_reported_in_order() -> None:
    """Given an agent who fails every rule, when the agent is fixed one rule at a time,
    then the rules are named in the order skill, certification, language, clearance,
    residency, dedicated, capacity — and at the end none is."""
    failing = AgentProfile(
        agent_id=99,
        country="IN",
        skills={},
        languages=frozenset({"hi"}),
        capacity=2,
        load=2,
    )
    fixes = [
        ("skill", {"skills": MARIA.skills}),
        ("certification", {"certifications": MARIA.certifications}),
        ("language", {"languages": MARIA.languages}),
        ("clearance", {"clearances": MARIA.clearances}),
        ("residency", {"country": "PH"}),
        ("dedicated", {"agent_id": 8}),
        ("capacity", {"load": 1}),
    ]
    agent = failing
    for rule, fix in fixes:
        exclusion = check(agent)
        assert exclusion is not None and exclusion.rule == rule
        agent = replace(agent, **fix)  # type: ignore[arg-type]
    assert check(agent) is None


# --- skill ----------------------------------------------------------------------------------


def test_too_little_proficiency_is_named_with_both_levels() -> None:
    needs = replace(FLORIDA_CLAIM, skills={"legal-document-review": 5})
    assert check(needs=needs) == Exclusion("skill", "needs legal-document-review at 5/5, has 4/5")


def test_a_missing_skill_counts_as_zero() -> None:
    needs = replace(FLORIDA_CLAIM, skills={"legal-drafting": 2})
    assert check(needs=needs) == Exclusion("skill", "needs legal-drafting at 2/5, has 0/5")


def test_proficiency_at_exactly_the_minimum_is_enough() -> None:
    needs = replace(FLORIDA_CLAIM, skills={"legal-document-review": 4, "data-entry": 3})
    assert check(needs=needs) is None


def test_the_first_missing_skill_is_the_one_named() -> None:
    needs = replace(FLORIDA_CLAIM, skills={"data-entry": 5, "legal-drafting": 1})
    exclusion = check(needs=needs)
    assert exclusion is not None and exclusion.reason.startswith("needs data-entry at 5/5")


# --- certification --------------------------------------------------------------------------


def test_an_agent_without_the_certification_is_excluded_for_the_jurisdiction() -> None:
    agent = replace(MARIA, certifications=())
    assert check(agent) == Exclusion(
        "certification", "no valid pip-no-fault certification for US-FL"
    )


def test_a_certification_with_another_code_does_not_count() -> None:
    agent = replace(
        MARIA, certifications=(CertificationGrant("hipaa", frozenset({"US-FL"}), NEXT_YEAR),)
    )
    exclusion = check(agent)
    assert exclusion is not None and exclusion.rule == "certification"


def test_an_expired_certification_does_not_count() -> None:
    """Given a Florida certification that expired yesterday, then the agent is excluded;
    on its last valid day it still counts."""
    expired = replace(PIP_FLORIDA, valid_until=YESTERDAY)
    agent = replace(MARIA, certifications=(expired,))
    assert check(agent) == Exclusion(
        "certification", f"pip-no-fault certification for US-FL expired on {YESTERDAY:%Y-%m-%d}"
    )
    assert check(agent, on=YESTERDAY) is None
    assert expired.covers("US-FL", YESTERDAY) and not expired.covers("US-FL", TODAY)


def test_a_certification_for_another_state_does_not_count() -> None:
    new_york = replace(PIP_FLORIDA, jurisdictions=frozenset({"US-NY"}))
    agent = replace(MARIA, certifications=(new_york,))
    assert check(agent) == Exclusion(
        "certification", "no valid pip-no-fault certification for US-FL"
    )
    assert not new_york.covers("US-FL", TODAY)


def test_one_valid_grant_among_several_is_enough() -> None:
    agent = replace(
        MARIA,
        certifications=(
            replace(PIP_FLORIDA, valid_until=YESTERDAY),
            replace(PIP_FLORIDA, jurisdictions=frozenset({"US-NY"})),
            replace(PIP_FLORIDA, jurisdictions=frozenset({"US-NY", "US-FL"})),
        ),
    )
    assert check(agent) is None


def test_a_certification_without_jurisdictions_covers_them_all() -> None:
    everywhere = replace(PIP_FLORIDA, jurisdictions=frozenset())
    agent = replace(MARIA, certifications=(everywhere,))
    assert check(agent) is None
    assert everywhere.covers("US-TX", TODAY)


def test_an_item_without_a_jurisdiction_accepts_any_valid_grant_of_the_code() -> None:
    """Given an item that needs the certification but names no jurisdiction, then a grant
    scoped to any state will do, and the reason (if it fails) names no jurisdiction."""
    needs = replace(FLORIDA_CLAIM, jurisdiction="")
    new_york = replace(PIP_FLORIDA, jurisdictions=frozenset({"US-NY"}))
    assert check(replace(MARIA, certifications=(new_york,)), needs) is None
    assert check(replace(MARIA, certifications=()), needs) == Exclusion(
        "certification", "no valid pip-no-fault certification"
    )
    expired = replace(new_york, valid_until=YESTERDAY)
    assert check(replace(MARIA, certifications=(expired,)), needs) is not None


def test_an_item_without_a_certification_ignores_grants_and_jurisdiction() -> None:
    needs = replace(FLORIDA_CLAIM, certification="")
    assert check(replace(MARIA, certifications=()), needs) is None


# --- language, clearance, residency, dedicated ---------------------------------------------


def test_an_agent_who_does_not_speak_the_language_is_excluded() -> None:
    needs = replace(FLORIDA_CLAIM, language="es")
    assert check(needs=needs) == Exclusion("language", "does not work in language 'es'")


def test_an_item_without_a_language_takes_any_agent() -> None:
    assert check(replace(MARIA, languages=frozenset()), replace(FLORIDA_CLAIM, language="")) is None


def test_an_agent_without_the_clearance_is_excluded() -> None:
    agent = replace(MARIA, clearances=frozenset({"privileged"}))
    assert check(agent) == Exclusion("clearance", "lacks the phi clearance")
    assert check(agent, replace(FLORIDA_CLAIM, clearance="")) is None


def test_an_agent_outside_the_allowed_countries_is_excluded() -> None:
    agent = replace(MARIA, country="IN")
    assert check(agent) == Exclusion("residency", "works from IN; the client allows only PH, US")


def test_a_client_without_residency_limits_takes_any_country() -> None:
    agent = replace(MARIA, country="IN")
    assert check(agent, replace(FLORIDA_CLAIM, allowed_countries=frozenset())) is None


def test_only_dedicated_agents_may_work_a_dedicated_engagement() -> None:
    agent = replace(MARIA, agent_id=12)
    assert check(agent) == Exclusion("dedicated", "not one of the engagement's dedicated agents")
    assert check(agent, replace(FLORIDA_CLAIM, dedicated_agent_ids=frozenset())) is None


# --- capacity -------------------------------------------------------------------------------


@pytest.mark.parametrize("load", [3, 4])
def test_an_agent_at_or_over_capacity_is_excluded(load: int) -> None:
    agent = replace(MARIA, load=load)
    assert check(agent) == Exclusion("capacity", f"already holds {load} of 3 items")


def test_capacity_can_be_left_out_of_the_check() -> None:
    """Given a full agent, when a lead assigns by hand without the capacity check, then the
    agent is eligible."""
    full = replace(MARIA, load=3)
    assert check(full, check_capacity=False) is None
    assert check(full, check_capacity=True) is not None


def test_capacity_is_checked_last() -> None:
    full_and_abroad = replace(MARIA, load=3, country="IN")
    exclusion = check(full_and_abroad, check_capacity=False)
    assert exclusion is not None and exclusion.rule == "residency"
