"""The permission matrix, checked cell by cell against the table people agreed on."""

from __future__ import annotations

from pathlib import Path

import pytest

from relaydesk.core.permissions import MATRIX, Permission, can, render_markdown, roles_with
from relaydesk.core.roles import Role

P = Permission
A, L, G, Q, S, N, CA, CM = (
    Role.PROVIDER_ADMIN,
    Role.OPS_LEAD,
    Role.AGENT,
    Role.QA_REVIEWER,
    Role.SUPERVISING_ATTORNEY,
    Role.SENIOR_ANALYST,
    Role.CLIENT_ADMIN,
    Role.CLIENT_MEMBER,
)

# Written out by hand: the spec, not a copy of the code.
EXPECTED: dict[Permission, set[Role]] = {
    P.SUBMIT_WORK: {A, L, CA, CM},
    P.VIEW_ALL_WORK: {A, L},
    P.VIEW_CLIENT_WORK: {CA, CM},
    P.VIEW_HELD_AND_OFFERED_WORK: {G},
    P.VIEW_REVIEW_QUEUE: {Q, S, N},
    P.TRIAGE_WORK: {A, L},
    P.ASSIGN_WORK: {A, L},
    P.DO_WORK: {G},
    P.REVIEW_WORK: {Q, S, N},
    P.RESPOND_AS_CLIENT: {CA, CM},
    P.ACCEPT_DELIVERY: {CA, CM},
    P.CANCEL_WORK: {A, L, CA, CM},
    P.POST_INTERNAL: {A, L, G, Q, S, N},
    P.VIEW_WORKFORCE: {A, L},
    P.VIEW_ALL_ENGAGEMENTS: {A, L},
    P.REVEAL_SENSITIVE: {L, G, Q, S, N, CA, CM},
    P.VIEW_CLIENT_AUDIT: {CA},
    P.EXPORT_CLIENT_DATA: {A, CA},
    P.MANAGE_WEBHOOKS: {CA},
    P.VIEW_WEBHOOKS: {A, L, CA},
    P.USE_BACK_OFFICE: {A},
    P.MANAGE_PEOPLE: {A, CA},
    P.MANAGE_MAIL_INTAKE: {A},
    P.SET_PRESENCE: {G},
    P.VIEW_ROUTING: {A, L},
    P.CONFIGURE_ROUTING: {A, L},
    P.CONFIGURE_SLA: {A, L},
    P.VIEW_SERVICE_LEVELS: {A, L, CA, CM},
    P.VIEW_OPERATIONS_BOARD: {A, L},
    P.VIEW_OPERATIONS_DASHBOARD: {A, L},
    P.HAND_OFF: {G},
    P.ACKNOWLEDGE_HANDOFF: {G},
    P.CONFIGURE_QUALITY: {A, L},
    P.DISPUTE_REVIEW: {G},
    P.DECIDE_DISPUTES: {A, L},
    P.VIEW_QUALITY: {A, L, CA, CM},
    P.VIEW_DASHBOARD: {A, L, CA, CM},
    P.SET_OBJECTIVES: {A, L, CA},
    P.VIEW_REPORTS: {A, L, CA, CM},
    P.MANAGE_REPORTS: {A, L, CA},
    P.WRITE_REPORT_COMMENTARY: {A, L},
    P.RUN_CALIBRATION: {A, L},
    P.TAKE_PART_IN_CALIBRATION: {A, L, Q, S, N},
    P.RECEIVE_NOTIFICATIONS: {A, L, G, Q, S, N, CA, CM},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_every_cell_of_the_matrix(role: Role, permission: Permission) -> None:
    assert can(role, permission) is (role in EXPECTED[permission])


def test_every_permission_is_specified_and_described() -> None:
    assert set(EXPECTED) == set(Permission)
    assert set(MATRIX) == set(Role)
    assert all(permission.description for permission in Permission)


def test_clients_never_hold_a_provider_permission() -> None:
    provider_only = {
        P.VIEW_ALL_WORK,
        P.ASSIGN_WORK,
        P.DO_WORK,
        P.REVIEW_WORK,
        P.POST_INTERNAL,
        P.VIEW_WORKFORCE,
        P.VIEW_ALL_ENGAGEMENTS,
        P.USE_BACK_OFFICE,
        P.MANAGE_MAIL_INTAKE,
        P.SET_PRESENCE,
        P.VIEW_ROUTING,
        P.CONFIGURE_ROUTING,
        P.CONFIGURE_SLA,
        P.CONFIGURE_QUALITY,
        P.DISPUTE_REVIEW,
        P.DECIDE_DISPUTES,
        P.RUN_CALIBRATION,
        P.TAKE_PART_IN_CALIBRATION,
        P.WRITE_REPORT_COMMENTARY,
    }
    for permission in provider_only:
        assert not roles_with(permission) & {CA, CM}, permission


def test_roles_with_any_of_several_permissions() -> None:
    assert roles_with(P.DO_WORK, P.ASSIGN_WORK) == {A, L, G}


def test_the_docs_show_the_matrix_as_the_code_has_it() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
    assert docs.read_text() == render_markdown(), (
        "docs/permissions.md is out of date; regenerate it as its header says"
    )
