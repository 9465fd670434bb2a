"""The provider's clients and the engagements (contracts) it holds with them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as 'America/New_York'.")


def validate_country_codes(value: object) -> None:
    """Refuse anything but a list of two-letter upper-case country codes."""
    if not isinstance(value, list) or not all(
        isinstance(code, str) and len(code) == 2 and code.isalpha() and code.isupper()
        for code in value
    ):
        raise ValidationError('List two-letter country codes, such as ["PH", "IN"].')


class Client(models.Model):
    """A firm that outsources work to the provider; owns its users, items and documents."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200, unique=True)
    industry = models.CharField(max_length=100, blank=True)
    require_mfa = models.BooleanField(
        default=False,
        help_text="The client's users must sign in with an authenticator app as well.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Coverage(models.TextChoices):
    """When the client expects work to happen."""

    ROUND_THE_CLOCK = "24x7", "24/7"
    BUSINESS_HOURS = "business_hours", "Client's business hours"


class PricingBasis(models.TextChoices):
    """How the engagement is billed."""

    PER_ITEM = "per_item", "Per item"
    PER_HOUR = "per_hour", "Per hour"
    PER_FTE = "per_fte", "Per full-time equivalent"


class Engagement(models.Model):
    """The contract under which a client outsources some services.

    It fixes the client's time zone and coverage, the countries the work may
    be delivered from (data residency), any dedicated agents, the pricing
    basis and the contract period, and how long documents are kept after an
    item closes (``document_retention_days``; empty keeps them).
    """

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="engagements")
    name = models.CharField(max_length=200)
    services = models.ManyToManyField("catalog.Service", related_name="engagements")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    coverage = models.CharField(
        max_length=16, choices=Coverage.choices, default=Coverage.ROUND_THE_CLOCK
    )
    calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="engagements",
        help_text="The client's business calendar SLA targets in business time count on; "
        "empty: every hour counts, in the engagement's time zone.",
    )
    allowed_countries = models.JSONField(
        default=list,
        validators=[validate_country_codes],
        help_text="Countries the work may be delivered from; empty means anywhere.",
    )
    dedicated_agents = models.ManyToManyField(
        "workforce.Agent",
        blank=True,
        related_name="dedicated_engagements",
        help_text="If any are named, only these agents work this engagement.",
    )
    required_certification = models.ForeignKey(
        "workforce.Certification",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=(
            "For items tied to a jurisdiction: whoever works them must hold this "
            "certification for that jurisdiction (e.g. PIP no-fault law for US-FL)."
        ),
    )
    pricing_basis = models.CharField(
        max_length=16, choices=PricingBasis.choices, default=PricingBasis.PER_ITEM
    )
    rate = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    document_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Delete documents, comments and confidential details this many days after the "
            "item is accepted or cancelled"
        ),
    )

    class Meta:
        ordering = ["client__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="engagement_name_per_client"),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="engagement_ends_after_start",
                violation_error_message="An engagement cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} · {self.name}"

    def is_active_on(self, day: dt.date) -> bool:
        """True when the contract covers ``day``."""
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def allows_country(self, country: str) -> bool:
        """True when work may be delivered from ``country``."""
        return not self.allowed_countries or country in self.allowed_countries
