"""What a person can be told about, who may be told, and how by default.

Each kind names the moment (an item delivered, work coming back for rework, ...),
the roles it is offered to (read from the permission matrix, so a role that cannot
act on the moment is never offered it), and the default way of telling each role:
in Relaydesk (the list and the unread count) and by e-mail right away, in the
daily digest, or not at all. A person's own choices (``NotificationPreference``)
override the defaults, kind by kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from relaydesk.core.permissions import Permission, roles_with
from relaydesk.core.roles import Role

__all__ = [
    "DIGEST_HOUR",
    "KINDS",
    "Email",
    "Kind",
    "KindSpec",
    "default_for",
    "kinds_for",
]

# The local hour a daily digest goes out (each person's own time zone).
DIGEST_HOUR = 8


class Kind(StrEnum):
    """A moment worth telling someone about."""

    ITEM_DELIVERED = "item_delivered"
    FIRM_ITEM_DELIVERED = "firm_item_delivered"
    COMMENT_ADDED = "comment_added"
    REWORK_REQUESTED = "rework_requested"
    SLA_WARNING = "sla_warning"
    SLA_LEAD_ALERT = "sla_lead_alert"
    SLA_CLIENT_ALERT = "sla_client_alert"
    HANDOFF_WAITING = "handoff_waiting"
    REVIEW_ASSIGNED = "review_assigned"
    REVIEW_WAITING = "review_waiting"

    @property
    def label(self) -> str:
        """The kind as the settings page names it."""
        return KINDS[self].label

    @property
    def short(self) -> str:
        """The kind as a tag in the list: "Delivered", "SLA warning"."""
        return KINDS[self].short


class Email(StrEnum):
    """When a notification is also e-mailed."""

    NOW = "now"
    DIGEST = "digest"
    OFF = "off"

    @property
    def label(self) -> str:
        """The choice as the settings page words it."""
        return EMAIL_LABELS[self]


EMAIL_LABELS = {
    Email.NOW: "E-mail right away",
    Email.DIGEST: f"Daily digest ({DIGEST_HOUR:02d}:00)",
    Email.OFF: "No e-mail",
}


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind: its wording, the roles it is offered to, and their defaults.

    ``defaults`` maps a role to ``(in_app, email)``; roles not named there get
    ``default``. ``helps`` words the explanation for a role where it differs.
    """

    label: str
    short: str
    help: str
    roles: frozenset[Role]
    default: tuple[bool, Email]
    defaults: dict[Role, tuple[bool, Email]] = field(default_factory=dict)
    helps: dict[Role, str] = field(default_factory=dict)

    def help_for(self, role: Role) -> str:
        """What the kind means for a person of ``role``."""
        return self.helps.get(role, self.help)


_CLIENT_ADMINS = frozenset({Role.CLIENT_ADMIN})
_LEADS = frozenset({Role.OPS_LEAD})
_P = Permission

KINDS: dict[Kind, KindSpec] = {
    Kind.ITEM_DELIVERED: KindSpec(
        label="Your request was delivered",
        short="Delivered",
        help="A request you submitted is delivered and waits for you to accept it "
        "or to ask for rework.",
        roles=roles_with(_P.ACCEPT_DELIVERY),
        default=(True, Email.NOW),
    ),
    Kind.FIRM_ITEM_DELIVERED: KindSpec(
        label="Any of your firm's requests was delivered",
        short="Delivered to your firm",
        help="Every delivery to your firm, whoever submitted the request. Off unless you "
        "turn it on.",
        roles=_CLIENT_ADMINS & roles_with(_P.ACCEPT_DELIVERY),
        default=(False, Email.OFF),
    ),
    Kind.COMMENT_ADDED: KindSpec(
        label="A new comment",
        short="Comment",
        help="Someone else commented on a request you submitted: the provider's team, or "
        "a colleague.",
        roles=roles_with(_P.ACCEPT_DELIVERY, _P.DO_WORK),
        default=(True, Email.NOW),
        defaults={Role.AGENT: (True, Email.OFF)},
        helps={
            Role.AGENT: "Someone else commented on an item you hold: the client, a lead, "
            "a reviewer."
        },
    ),
    Kind.REWORK_REQUESTED: KindSpec(
        label="Work comes back for rework",
        short="Rework",
        help="The client asked for rework of an item you hold, or a reviewer returned it.",
        roles=roles_with(_P.DO_WORK),
        default=(True, Email.NOW),
    ),
    Kind.SLA_WARNING: KindSpec(
        label="A service-level target is at risk or missed",
        short="SLA warning",
        help="An item you hold has used a warning share of its time, or missed its target.",
        helps={
            Role.OPS_LEAD: "Any item has used a warning share of its time, or missed its target."
        },
        roles=roles_with(_P.DO_WORK) | (_LEADS & roles_with(_P.VIEW_OPERATIONS_BOARD)),
        default=(True, Email.NOW),
        # A lead hears of every late item: one e-mail a day, the list in between.
        defaults={Role.OPS_LEAD: (True, Email.DIGEST)},
    ),
    Kind.SLA_LEAD_ALERT: KindSpec(
        label="An item is escalated to the operations leads",
        short="SLA escalation",
        help="An item has used the share of its time at which its SLA policy alerts the "
        "leads: reassign it or help it finish.",
        roles=_LEADS & roles_with(_P.VIEW_OPERATIONS_BOARD),
        # The first step of the ladder asks a lead to act now, unlike a warning.
        default=(True, Email.NOW),
    ),
    Kind.SLA_CLIENT_ALERT: KindSpec(
        label="One of your firm's requests is running late",
        short="Running late",
        help="A request of your firm is late, or close to it, on a service-level target the "
        "engagement promises; the provider's team lead is on it.",
        roles=_CLIENT_ADMINS & roles_with(_P.VIEW_SERVICE_LEVELS),
        default=(True, Email.NOW),
    ),
    Kind.HANDOFF_WAITING: KindSpec(
        label="An item is handed to you",
        short="Handoff",
        help="An agent of the previous shift passed an item on to you; acknowledge it in "
        "time or it goes back to the queue.",
        roles=roles_with(_P.ACKNOWLEDGE_HANDOFF),
        default=(True, Email.NOW),
    ),
    Kind.REVIEW_ASSIGNED: KindSpec(
        label="An item comes back to you for review",
        short="Back for review",
        help="Work you reviewed before (returned for rework, or approved and then sent back "
        "by the client) is ready for your review again.",
        roles=roles_with(_P.REVIEW_WORK),
        default=(True, Email.NOW),
    ),
    Kind.REVIEW_WAITING: KindSpec(
        label="An item enters the review queue",
        short="Review waiting",
        help="Finished work waits for a reviewer of your role; the first to review it takes it.",
        roles=roles_with(_P.REVIEW_WORK),
        default=(True, Email.OFF),
    ),
}

_RECEIVERS = roles_with(_P.RECEIVE_NOTIFICATIONS)


def kinds_for(role: Role) -> list[Kind]:
    """The kinds offered to ``role``, in the order the settings page lists them."""
    if role not in _RECEIVERS:
        return []
    return [kind for kind, spec in KINDS.items() if role in spec.roles]


def default_for(kind: Kind, role: Role) -> tuple[bool, Email]:
    """``(in_app, email)`` for a person of ``role`` who has not chosen for ``kind``."""
    spec = KINDS[kind]
    return spec.defaults.get(role, spec.default)
