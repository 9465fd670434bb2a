"""The provider's people and places: sites, shifts, agents and what agents can do."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from relaydesk.clients.models import validate_country_codes, validate_time_zone


class Site(models.Model):
    """A delivery site in one country and one IANA time zone (e.g. Manila, Asia/Manila)."""

    code = models.SlugField(max_length=16, unique=True)
    name = models.CharField(max_length=100, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166 two-letter code, e.g. PH.")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    is_onshore = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_country_codes([self.country])


class Weekday(models.IntegerChoices):
    """Day of the week, Monday first (as Python's ``weekday()``)."""

    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class ShiftPattern(models.Model):
    """A weekly shift at a site, in the site's local time.

    A shift that ends at or before it starts runs past midnight into the next day.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="shifts")
    name = models.CharField(max_length=50)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["site__name", "weekday", "starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name", "weekday"], name="shift_once_per_site_day"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="shift_weekday_0_6"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.site} {self.get_weekday_display()} {self.name} "
            f"{self.starts_at:%H:%M}–{self.ends_at:%H:%M}"
        )

    @property
    def crosses_midnight(self) -> bool:
        """True when the shift ends on the next local day."""
        return self.ends_at <= self.starts_at


class Agent(models.Model):
    """A provider employee who works items: their site, languages and capacity.

    Skills, certifications and clearances hang off the agent in their own tables.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="agents")
    employee_code = models.CharField(max_length=20, unique=True)
    languages = models.JSONField(default=list, help_text='ISO 639-1 codes, e.g. ["en", "es"].')
    capacity = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many items the agent may hold at once.",
    )

    class Meta:
        ordering = ["user__full_name"]

    def __str__(self) -> str:
        return f"{self.user.full_name} ({self.site})"


class AgentSkill(models.Model):
    """An agent's proficiency (1–5) in one skill."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey("catalog.Skill", on_delete=models.PROTECT, related_name="+")
    proficiency = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "skill"], name="agent_skill_once"),
            models.CheckConstraint(
                condition=models.Q(proficiency__gte=1, proficiency__lte=5),
                name="agent_skill_proficiency_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill} {self.proficiency}/5"


class Certification(models.Model):
    """A credential, such as "PIP no-fault law", that may be scoped to jurisdictions."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentCertification(models.Model):
    """An agent's certification, valid for some jurisdictions (e.g. US-FL) until a date."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="certifications")
    certification = models.ForeignKey(Certification, on_delete=models.PROTECT, related_name="+")
    jurisdictions = models.JSONField(
        default=list, help_text='ISO 3166-2 codes such as ["US-FL", "US-NY"].'
    )
    valid_until = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "certification"], name="agent_certification_once"
            ),
        ]

    def __str__(self) -> str:
        scope = ", ".join(self.jurisdictions) or "all jurisdictions"
        return f"{self.certification} ({scope}) until {self.valid_until:%Y-%m-%d}"


class Clearance(models.Model):
    """A clearance such as PHI (HIPAA) training, needed for sensitive services."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentClearance(models.Model):
    """A clearance an agent holds, with its expiry if any."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="clearances")
    clearance = models.ForeignKey(Clearance, on_delete=models.PROTECT, related_name="+")
    granted_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "clearance"], name="agent_clearance_once"),
        ]

    def __str__(self) -> str:
        return str(self.clearance)
