"""The Security & compliance statement of one client, read from the live configuration.

Nothing here is typed in by hand: every line is computed from settings, the
engagement rows, the key store and the audit trail, so the page cannot claim a
control that is switched off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.contrib.auth.password_validation import (
    CommonPasswordValidator,
    MinimumLengthValidator,
    NumericPasswordValidator,
    UserAttributeSimilarityValidator,
    get_default_password_validators,
)
from django.db.models import Count, Max

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.core.roles import Role
from relaydesk.tenancy import rowsecurity
from relaydesk.vault.queries import unencrypted_file_count
from relaydesk.work.models import Attachment, SensitiveDetail
from relaydesk.workforce.models import Site


@dataclass(frozen=True)
class EngagementControls:
    """What protects one engagement's work."""

    engagement: Engagement
    delivery_countries: list[str]
    delivery_sites: list[Site]
    dedicated_agents: int
    required_certification: str
    retention_days: int | None
    services: list[Service]


@dataclass(frozen=True)
class SecurityReport:
    """Every control that applies to a client, as configured right now."""

    client: Client
    provider_mfa_required: bool
    client_mfa_required: bool
    sso_domains: list[str]
    lockout_failures: int
    lockout_minutes: int
    idle_minutes: int
    max_session_hours: int
    engagements: list[EngagementControls]
    documents_encrypted: int
    documents_purged: int
    details_encrypted: int
    # PostgreSQL's row-level security stands under the application's checks.
    database_wall: bool
    key_version: int | None
    key_created: dt.datetime | None
    audit_records: int
    last_audit_record: dt.datetime | None
    client_users: int
    provider_access: list[tuple[str, int]] = field(default_factory=list)
    api_rate: str = ""
    production: bool = False
    # Files kept from before encryption existed, not encrypted yet.
    documents_unencrypted: int = 0
    password_hashing: str = ""
    password_rules: list[str] = field(default_factory=list)

    @property
    def documents_stored(self) -> int:
        """Files stored now, encrypted or not (purged ones are gone)."""
        return self.documents_encrypted + self.documents_unencrypted


# Django's hasher algorithm names as people read them.
HASHER_NAMES = {
    "argon2": "Argon2",
    "bcrypt_sha256": "bcrypt (SHA-256)",
    "bcrypt": "bcrypt",
    "scrypt": "scrypt",
    "pbkdf2_sha256": "PBKDF2-SHA256",
    "pbkdf2_sha1": "PBKDF2-SHA1",
    "md5": "MD5",
}


def password_hashing() -> str:
    """The algorithm new passwords are hashed with: the first of ``PASSWORD_HASHERS``."""
    algorithm = str(get_hasher("default").algorithm)
    return HASHER_NAMES.get(algorithm, algorithm)


def password_rules() -> list[str]:
    """What a new password must be, one phrase per validator in ``AUTH_PASSWORD_VALIDATORS``."""
    rules = []
    for validator in get_default_password_validators():
        if isinstance(validator, MinimumLengthValidator):
            rules.append(f"at least {validator.min_length} characters")
        elif isinstance(validator, CommonPasswordValidator):
            rules.append("not common")
        elif isinstance(validator, NumericPasswordValidator):
            rules.append("not all digits")
        elif isinstance(validator, UserAttributeSimilarityValidator):
            rules.append("not like their name or e-mail address")
        else:  # a validator of the deployment's own: its own words
            rules.append(str(validator.get_help_text()).rstrip("."))
    return rules


def _minutes(value: object) -> int:
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds() // 60)
    return int(value) * 60 if isinstance(value, int | float) else 0


def build_security_report(client: Client) -> SecurityReport:
    """Gather the report; callers decide who may read it."""
    engagements = []
    sites = list(Site.objects.all())
    for engagement in Engagement.objects.filter(client=client).prefetch_related("services"):
        allowed = list(engagement.allowed_countries)
        engagements.append(
            EngagementControls(
                engagement=engagement,
                delivery_countries=allowed,
                delivery_sites=[s for s in sites if engagement.allows_country(s.country)],
                dedicated_agents=engagement.dedicated_agents.count(),
                required_certification=(
                    engagement.required_certification.name
                    if engagement.required_certification
                    else ""
                ),
                retention_days=getattr(engagement, "document_retention_days", None),
                services=list(engagement.services.select_related("line")),
            )
        )
    from relaydesk.vault.models import ClientDataKey

    key = ClientDataKey.objects.filter(client=client).order_by("-version").first()
    audit = AuditRecord.objects.filter(client=client).aggregate(n=Count("id"), last=Max("at"))
    sso = getattr(client, "sso", None) if hasattr(client, "sso") else None
    provider_roles = sorted(
        roles_with(
            Permission.VIEW_ALL_WORK,
            Permission.VIEW_HELD_AND_OFFERED_WORK,
            Permission.VIEW_REVIEW_QUEUE,
        )
        - {Role.CLIENT_ADMIN, Role.CLIENT_MEMBER}
    )
    counts = dict(
        User.objects.filter(is_active=True, role__in=[r.value for r in provider_roles])
        .values_list("role")
        .annotate(n=Count("id"))
    )
    return SecurityReport(
        client=client,
        provider_mfa_required=bool(getattr(settings, "RELAYDESK_REQUIRE_MFA_FOR_PROVIDER", False)),
        client_mfa_required=bool(getattr(client, "require_mfa", False)),
        sso_domains=list(sso.domains) if sso is not None else [],
        lockout_failures=int(getattr(settings, "AXES_FAILURE_LIMIT", 0)),
        lockout_minutes=_minutes(getattr(settings, "AXES_COOLOFF_TIME", 0)),
        idle_minutes=int(getattr(settings, "RELAYDESK_SESSION_IDLE_MINUTES", 0)),
        max_session_hours=int(getattr(settings, "RELAYDESK_SESSION_MAX_HOURS", 0)),
        engagements=engagements,
        documents_encrypted=Attachment.objects.filter(
            client=client, purged_at__isnull=True, encryption_id__isnull=False
        ).count(),
        documents_purged=Attachment.objects.filter(client=client, purged_at__isnull=False).count(),
        details_encrypted=SensitiveDetail.objects.filter(client=client).count(),
        database_wall=rowsecurity.wall_standing(),
        key_version=key.version if key else None,
        key_created=key.created_at if key else None,
        audit_records=audit["n"] or 0,
        last_audit_record=audit["last"],
        client_users=User.objects.filter(client=client, is_active=True).count(),
        provider_access=[(role.label, counts.get(role.value, 0)) for role in provider_roles],
        api_rate=str(getattr(settings, "RELAYDESK_API_RATE", "")),
        production=bool(getattr(settings, "PRODUCTION", False)),
        documents_unencrypted=unencrypted_file_count(client.pk),
        password_hashing=password_hashing(),
        password_rules=password_rules(),
    )
