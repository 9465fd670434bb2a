"""The provider's people and places: sites, shifts, agents and what agents can do."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
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


class ShiftExceptionKind(models.TextChoices):
    """A change to a site's weekly shifts: a day nobody works, or extra hours worked."""

    HOLIDAY = "holiday", "Holiday"
    OVERTIME = "overtime", "Overtime"


class ShiftException(models.Model):
    """A holiday or overtime window that overrides a site's weekly shifts.

    A holiday is a local date at the site on which none of its shifts start
    (``shift_name`` narrows it to one shift). Overtime is an extra window
    ``starts_at``–``ends_at`` (stored in UTC) worked by one agent, by the agents
    of one shift, or by everyone at the site.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="shift_exceptions")
    kind = models.CharField(max_length=16, choices=ShiftExceptionKind.choices)
    name = models.CharField(max_length=100, help_text="What it is, e.g. Rizal Day.")
    shift_name = models.CharField(
        max_length=50, blank=True, help_text="Only this shift (empty: every shift at the site)."
    )
    agent = models.ForeignKey(
        "workforce.Agent",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="overtime",
        help_text="Overtime worked by this agent only.",
    )
    day = models.DateField(null=True, blank=True, help_text="The site's local date of a holiday.")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="When overtime starts.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="When overtime ends.")

    class Meta:
        ordering = ["site__name", "day", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="holiday",
                        day__isnull=False,
                        starts_at__isnull=True,
                        ends_at__isnull=True,
                        agent__isnull=True,
                    )
                    | models.Q(
                        kind="overtime",
                        day__isnull=True,
                        starts_at__isnull=False,
                        ends_at__gt=models.F("starts_at"),
                    )
                ),
                name="shift_exception_holiday_day_or_overtime_window",
                violation_error_message=(
                    "A holiday needs a day; overtime needs a start and an end after it."
                ),
            ),
        ]

    def __str__(self) -> str:
        if self.kind == ShiftExceptionKind.HOLIDAY:
            return f"{self.site} holiday {self.day:%Y-%m-%d} {self.name}"
        return f"{self.site} overtime {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} UTC"

    def clean(self) -> None:
        """A named shift must exist at the site; overtime for an agent must be at their site."""
        errors: dict[str, str] = {}
        if self.site_id is not None and self.shift_name:
            shift_error = _unknown_shift(self.site_id, self.shift_name)
            if shift_error:
                errors["shift_name"] = shift_error
        if self.kind == ShiftExceptionKind.HOLIDAY:
            if self.agent_id is not None:
                errors["agent"] = "A holiday is for a site or a shift, not for one agent."
            if self.day is None:
                errors["day"] = "A holiday needs its day."
        elif self.kind == ShiftExceptionKind.OVERTIME:
            if self.day is not None:
                errors["day"] = "Overtime has a start and an end, not a day."
            if self.starts_at is None:
                errors["starts_at"] = "Overtime needs a start."
            if self.ends_at is None:
                errors["ends_at"] = "Overtime needs an end."
            elif self.starts_at is not None and self.ends_at <= self.starts_at:
                errors["ends_at"] = "Overtime must end after it starts."
            if self.agent_id is not None and self.site_id is not None:
                agent_site = Agent.objects.filter(pk=self.agent_id).values_list(
                    "site_id", flat=True
                )
                if agent_site.first() != self.site_id:
                    errors["agent"] = "This agent works at another site."
        if errors:
            raise ValidationError(errors)


def _unknown_shift(site_id: int, shift_name: str) -> str:
    """Why ``shift_name`` is not a shift of the site (empty when it is one)."""
    names = sorted(set(ShiftPattern.objects.filter(site_id=site_id).values_list("name", flat=True)))
    if shift_name in names:
        return ""
    site = Site.objects.filter(pk=site_id).values_list("name", flat=True).first() or "the site"
    if not names:
        return f"{site} has no shifts yet; leave this empty or add the shift first."
    known = ", ".join(f"“{name}”" for name in names)
    return f"{site} has no shift named “{shift_name}”; its shifts are {known}."


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
    shift_name = models.CharField(
        max_length=50,
        blank=True,
        help_text="The site's shift the agent works, by name (e.g. Night); empty: every shift.",
    )
    on_probation = models.BooleanField(
        default=False, help_text="New or under watch: QA may review every item they finish."
    )

    class Meta:
        ordering = ["user__full_name"]

    def __str__(self) -> str:
        return f"{self.user.full_name} ({self.site})"

    def clean(self) -> None:
        """The agent's shift, if named, must be one of their site's shifts."""
        if self.shift_name and self.site_id is not None:
            error = _unknown_shift(self.site_id, self.shift_name)
            if error:
                raise ValidationError({"shift_name": error})


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
