"""The permission matrix: which role may do what, in one place.

Lifecycle rules, intake, queries and pages all ask :func:`can` or
:func:`roles_with`; nothing else in Relaydesk lists roles for a permission.
Relations to a particular item (the agent holding it, a reviewer who did not
work on it, a client's own items) are checked on top of this matrix by the
code that knows the item.
"""

from __future__ import annotations

from enum import StrEnum

from relaydesk.core.roles import Role

__all__ = ["MATRIX", "Permission", "can", "render_markdown", "roles_with"]


class Permission(StrEnum):
    """Something a role may be allowed to do."""

    SUBMIT_WORK = "submit_work"
    VIEW_ALL_WORK = "view_all_work"
    VIEW_CLIENT_WORK = "view_client_work"
    VIEW_HELD_AND_OFFERED_WORK = "view_held_and_offered_work"
    VIEW_REVIEW_QUEUE = "view_review_queue"
    TRIAGE_WORK = "triage_work"
    ASSIGN_WORK = "assign_work"
    DO_WORK = "do_work"
    REVIEW_WORK = "review_work"
    RESPOND_AS_CLIENT = "respond_as_client"
    ACCEPT_DELIVERY = "accept_delivery"
    CANCEL_WORK = "cancel_work"
    POST_INTERNAL = "post_internal"
    VIEW_WORKFORCE = "view_workforce"
    VIEW_ALL_ENGAGEMENTS = "view_all_engagements"
    REVEAL_SENSITIVE = "reveal_sensitive"
    VIEW_CLIENT_AUDIT = "view_client_audit"
    EXPORT_CLIENT_DATA = "export_client_data"
    MANAGE_WEBHOOKS = "manage_webhooks"
    VIEW_WEBHOOKS = "view_webhooks"
    USE_BACK_OFFICE = "use_back_office"
    MANAGE_PEOPLE = "manage_people"
    MANAGE_MAIL_INTAKE = "manage_mail_intake"
    SET_PRESENCE = "set_presence"
    VIEW_ROUTING = "view_routing"
    CONFIGURE_ROUTING = "configure_routing"
    CONFIGURE_SLA = "configure_sla"
    VIEW_SERVICE_LEVELS = "view_service_levels"
    VIEW_OPERATIONS_BOARD = "view_operations_board"
    VIEW_OPERATIONS_DASHBOARD = "view_operations_dashboard"
    HAND_OFF = "hand_off"
    ACKNOWLEDGE_HANDOFF = "acknowledge_handoff"
    CONFIGURE_QUALITY = "configure_quality"
    DISPUTE_REVIEW = "dispute_review"
    DECIDE_DISPUTES = "decide_disputes"
    VIEW_QUALITY = "view_quality"
    RUN_CALIBRATION = "run_calibration"
    TAKE_PART_IN_CALIBRATION = "take_part_in_calibration"
    RECEIVE_NOTIFICATIONS = "receive_notifications"
    VIEW_DASHBOARD = "view_dashboard"
    SET_OBJECTIVES = "set_objectives"
    VIEW_REPORTS = "view_reports"
    MANAGE_REPORTS = "manage_reports"
    WRITE_REPORT_COMMENTARY = "write_report_commentary"

    @property
    def description(self) -> str:
        """What the permission lets a person do."""
        return DESCRIPTIONS[self]


DESCRIPTIONS: dict[Permission, str] = {
    Permission.SUBMIT_WORK: "Submit work items (form, API, CSV import)",
    Permission.VIEW_ALL_WORK: "See every client's work items",
    Permission.VIEW_CLIENT_WORK: "See their own client's work items",
    Permission.VIEW_HELD_AND_OFFERED_WORK: "See items they hold and queued items they may take",
    Permission.VIEW_REVIEW_QUEUE: "See items waiting for their review role",
    Permission.TRIAGE_WORK: "Queue new items",
    Permission.ASSIGN_WORK: "Assign, reassign and release items",
    Permission.DO_WORK: "Take, start, pause for the client, resume, complete and release items",
    Permission.REVIEW_WORK: "Approve work or return it for rework",
    Permission.RESPOND_AS_CLIENT: "Answer questions on their client's items (resumes the work)",
    Permission.ACCEPT_DELIVERY: "Accept delivered work or ask for rework",
    Permission.CANCEL_WORK: "Cancel items",
    Permission.POST_INTERNAL: "Post internal comments and files the client does not see",
    Permission.VIEW_WORKFORCE: "See sites and agents",
    Permission.VIEW_ALL_ENGAGEMENTS: "See every engagement",
    Permission.REVEAL_SENSITIVE: "Reveal masked sensitive fields of items they can see (audited)",
    Permission.VIEW_CLIENT_AUDIT: "Read and export their client's audit trail",
    Permission.EXPORT_CLIENT_DATA: "Export all of a client's data (clients: their own only)",
    Permission.MANAGE_WEBHOOKS: (
        "Set up their client's webhook endpoints: add, change, disable, delete, roll the "
        "secret, send test events and retry deliveries"
    ),
    Permission.VIEW_WEBHOOKS: "See webhook endpoints and their delivery logs (clients: their own)",
    Permission.USE_BACK_OFFICE: "Use the back office (catalog, sites, agents, engagements)",
    Permission.MANAGE_PEOPLE: (
        "Add people and decide whether a client's users must use two-factor sign-in "
        "(clients: their own client's users only)"
    ),
    Permission.MANAGE_MAIL_INTAKE: (
        "Set engagements' e-mail intake addresses; retry or discard quarantined mail"
    ),
    Permission.SET_PRESENCE: "Say whether they are available, on a break or offline",
    Permission.VIEW_ROUTING: "See who may take an item and the rule that excludes everyone else",
    Permission.CONFIGURE_ROUTING: "Set escalation ladders (when waiting items widen, alert a lead)",
    Permission.CONFIGURE_SLA: "Set engagements' SLA policies (response and turnaround targets)",
    Permission.VIEW_SERVICE_LEVELS: "See SLA attainment figures (clients: their own only)",
    Permission.VIEW_OPERATIONS_BOARD: (
        "See the live operations board: sites, who is on shift, queues, items at risk, handoffs"
    ),
    Permission.VIEW_OPERATIONS_DASHBOARD: (
        "See the operations dashboard: throughput, handle time, utilisation, SLA and quality "
        "per site, team and agent, and the site-by-hour coverage heat map"
    ),
    Permission.HAND_OFF: "Hand the items they hold to the next shift, with a note",
    Permission.ACKNOWLEDGE_HANDOFF: "Acknowledge an item handed to them, and so take it over",
    Permission.CONFIGURE_QUALITY: "Publish QA scorecards and set engagements' QA sampling rules",
    Permission.DISPUTE_REVIEW: "Dispute a QA review of their own work, once per review",
    Permission.DECIDE_DISPUTES: "Decide disputed QA reviews: uphold the review or overturn it",
    Permission.VIEW_QUALITY: "See QA figures: scores, accuracy, defects (clients: their own only)",
    Permission.RUN_CALIBRATION: (
        "Run calibration sessions: choose items and reviewers, score the benchmark, close"
    ),
    Permission.TAKE_PART_IN_CALIBRATION: (
        "Score the items of calibration sessions they are invited to, blind to the others"
    ),
    Permission.RECEIVE_NOTIFICATIONS: (
        "Receive notifications of their own work, in Relaydesk, by e-mail and through the API, "
        "as they choose"
    ),
    Permission.VIEW_DASHBOARD: (
        "See the client dashboard and objectives: volume, backlog, SLA, quality, turnaround, "
        "cost (clients: their own only)"
    ),
    Permission.SET_OBJECTIVES: (
        "Propose, agree and retire an engagement's objectives (clients: their own engagements)"
    ),
    Permission.VIEW_REPORTS: (
        "See and download kept engagement reports: PDF, items as CSV and XLSX (clients: their "
        "own only)"
    ),
    Permission.MANAGE_REPORTS: (
        "Make an engagement report now and schedule weekly or monthly reports by e-mail "
        "(clients: their own engagements)"
    ),
    Permission.WRITE_REPORT_COMMENTARY: (
        "Write the delivery lead's commentary printed in an engagement report"
    ),
}

_P = Permission

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.PROVIDER_ADMIN: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.SUBMIT_WORK,
            _P.VIEW_ALL_WORK,
            _P.TRIAGE_WORK,
            _P.ASSIGN_WORK,
            _P.CANCEL_WORK,
            _P.POST_INTERNAL,
            _P.VIEW_WORKFORCE,
            _P.VIEW_ALL_ENGAGEMENTS,
            _P.EXPORT_CLIENT_DATA,
            _P.USE_BACK_OFFICE,
            _P.MANAGE_PEOPLE,
            _P.VIEW_WEBHOOKS,
            _P.MANAGE_MAIL_INTAKE,
            _P.VIEW_ROUTING,
            _P.CONFIGURE_ROUTING,
            _P.CONFIGURE_SLA,
            _P.VIEW_OPERATIONS_BOARD,
            _P.VIEW_OPERATIONS_DASHBOARD,
            _P.CONFIGURE_QUALITY,
            _P.DECIDE_DISPUTES,
            _P.VIEW_SERVICE_LEVELS,
            _P.VIEW_QUALITY,
            _P.VIEW_DASHBOARD,
            _P.RUN_CALIBRATION,
            _P.SET_OBJECTIVES,
            _P.VIEW_REPORTS,
            _P.MANAGE_REPORTS,
            _P.WRITE_REPORT_COMMENTARY,
            _P.TAKE_PART_IN_CALIBRATION,
        }
    ),
    Role.OPS_LEAD: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.SUBMIT_WORK,
            _P.VIEW_ALL_WORK,
            _P.TRIAGE_WORK,
            _P.ASSIGN_WORK,
            _P.CANCEL_WORK,
            _P.POST_INTERNAL,
            _P.VIEW_WORKFORCE,
            _P.VIEW_ALL_ENGAGEMENTS,
            _P.REVEAL_SENSITIVE,
            _P.VIEW_ROUTING,
            _P.VIEW_WEBHOOKS,
            _P.CONFIGURE_ROUTING,
            _P.CONFIGURE_SLA,
            _P.VIEW_OPERATIONS_BOARD,
            _P.VIEW_OPERATIONS_DASHBOARD,
            _P.CONFIGURE_QUALITY,
            _P.DECIDE_DISPUTES,
            _P.VIEW_SERVICE_LEVELS,
            _P.VIEW_QUALITY,
            _P.VIEW_DASHBOARD,
            _P.RUN_CALIBRATION,
            _P.SET_OBJECTIVES,
            _P.VIEW_REPORTS,
            _P.MANAGE_REPORTS,
            _P.WRITE_REPORT_COMMENTARY,
            _P.TAKE_PART_IN_CALIBRATION,
        }
    ),
    Role.AGENT: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.VIEW_HELD_AND_OFFERED_WORK,
            _P.DO_WORK,
            _P.POST_INTERNAL,
            _P.REVEAL_SENSITIVE,
            _P.SET_PRESENCE,
            _P.HAND_OFF,
            _P.ACKNOWLEDGE_HANDOFF,
            _P.DISPUTE_REVIEW,
        }
    ),
    Role.QA_REVIEWER: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.VIEW_REVIEW_QUEUE,
            _P.REVIEW_WORK,
            _P.POST_INTERNAL,
            _P.REVEAL_SENSITIVE,
            _P.TAKE_PART_IN_CALIBRATION,
        }
    ),
    Role.SUPERVISING_ATTORNEY: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.VIEW_REVIEW_QUEUE,
            _P.REVIEW_WORK,
            _P.POST_INTERNAL,
            _P.REVEAL_SENSITIVE,
            _P.TAKE_PART_IN_CALIBRATION,
        }
    ),
    Role.SENIOR_ANALYST: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.VIEW_REVIEW_QUEUE,
            _P.REVIEW_WORK,
            _P.POST_INTERNAL,
            _P.REVEAL_SENSITIVE,
            _P.TAKE_PART_IN_CALIBRATION,
        }
    ),
    Role.CLIENT_ADMIN: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.SUBMIT_WORK,
            _P.VIEW_CLIENT_WORK,
            _P.RESPOND_AS_CLIENT,
            _P.ACCEPT_DELIVERY,
            _P.CANCEL_WORK,
            _P.REVEAL_SENSITIVE,
            _P.VIEW_CLIENT_AUDIT,
            _P.EXPORT_CLIENT_DATA,
            _P.MANAGE_PEOPLE,
            _P.MANAGE_WEBHOOKS,
            _P.VIEW_WEBHOOKS,
            _P.VIEW_SERVICE_LEVELS,
            _P.VIEW_QUALITY,
            _P.VIEW_DASHBOARD,
            _P.SET_OBJECTIVES,
            _P.VIEW_REPORTS,
            _P.MANAGE_REPORTS,
        }
    ),
    Role.CLIENT_MEMBER: frozenset(
        {
            _P.RECEIVE_NOTIFICATIONS,
            _P.SUBMIT_WORK,
            _P.VIEW_CLIENT_WORK,
            _P.RESPOND_AS_CLIENT,
            _P.ACCEPT_DELIVERY,
            _P.CANCEL_WORK,
            _P.REVEAL_SENSITIVE,
            _P.VIEW_SERVICE_LEVELS,
            _P.VIEW_QUALITY,
            _P.VIEW_DASHBOARD,
            _P.VIEW_REPORTS,
        }
    ),
}


def can(role: Role, permission: Permission) -> bool:
    """True when ``role`` holds ``permission``."""
    return permission in MATRIX[role]


def roles_with(*permissions: Permission) -> frozenset[Role]:
    """The roles holding any of ``permissions``."""
    return frozenset(role for role, held in MATRIX.items() if held & set(permissions))


def render_markdown() -> str:
    """The matrix as a Markdown table, for docs/permissions.md."""
    roles = list(Role)
    lines = [
        "# Permission matrix",
        "",
        "Generated from `src/relaydesk/core/permissions.py`; a test fails when this file",
        "and the code disagree. Regenerate with",
        '`.venv/bin/python -c "from relaydesk.core.permissions import render_markdown as r;'
        " print(r(), end='')\" > docs/permissions.md`.",
        "",
        "Relations to a particular item come on top: an agent works only items they hold,",
        "a reviewer never reviews work they did, a client sees and acts on its own items only,",
        "and a client cancels only before an agent holds the item.",
        "",
        "| permission | " + " | ".join(role.label for role in roles) + " |",
        "| --- | " + " | ".join(":---:" for _ in roles) + " |",
    ]
    for permission in Permission:
        marks = " | ".join("✓" if can(role, permission) else "" for role in roles)
        lines.append(f"| {permission.description} | {marks} |")
    return "\n".join(lines) + "\n"
