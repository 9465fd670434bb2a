"""The roles people hold in Relaydesk, and which side of the contract each is on."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CLIENT_ROLES", "PROVIDER_ROLES", "REVIEWER_ROLES", "Role"]


class Role(StrEnum):
    """A person's role; a client role always comes with exactly one client."""

    PROVIDER_ADMIN = "provider_admin"
    OPS_LEAD = "ops_lead"
    AGENT = "agent"
    QA_REVIEWER = "qa_reviewer"
    SUPERVISING_ATTORNEY = "supervising_attorney"
    SENIOR_ANALYST = "senior_analyst"
    CLIENT_ADMIN = "client_admin"
    CLIENT_MEMBER = "client_member"

    @property
    def label(self) -> str:
        """The name a person reads on screen."""
        return ROLE_LABELS[self]

    @property
    def noun(self) -> str:
        """The role inside a sentence: "a QA reviewer", "an operations lead"."""
        label = ROLE_LABELS[self]
        word = label if label.isupper() or label[:2].isupper() else label.lower()
        article = "an" if word[0].lower() in "aeiou" else "a"
        return f"{article} {word}"

    @property
    def is_client(self) -> bool:
        """True for the roles held by a client's own staff."""
        return self in CLIENT_ROLES


ROLE_LABELS: dict[Role, str] = {
    Role.PROVIDER_ADMIN: "Provider admin",
    Role.OPS_LEAD: "Operations lead",
    Role.AGENT: "Agent",
    Role.QA_REVIEWER: "QA reviewer",
    Role.SUPERVISING_ATTORNEY: "Supervising attorney",
    Role.SENIOR_ANALYST: "Senior analyst",
    Role.CLIENT_ADMIN: "Client admin",
    Role.CLIENT_MEMBER: "Client member",
}

CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_MEMBER})
PROVIDER_ROLES = frozenset(Role) - CLIENT_ROLES
# Roles that review finished work: QA reviewers, and the mandatory reviewers of legal
# (supervising attorney) and expert (senior analyst) work.
REVIEWER_ROLES = frozenset({Role.QA_REVIEWER, Role.SUPERVISING_ATTORNEY, Role.SENIOR_ANALYST})
