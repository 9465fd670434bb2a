"""What the provider sells: service lines, their services, and the skills they need."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from relaydesk.core.lifecycle import ReviewPolicy
from relaydesk.core.roles import REVIEWER_ROLES


class ServiceLine(models.Model):
    """A kind of outsourcing: BPO, LPO or KPO."""

    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Skill(models.Model):
    """Something an agent can do, at a proficiency from 1 to 5."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Sensitivity(models.TextChoices):
    """How confidential a service's material is."""

    STANDARD = "standard", "Standard"
    CONFIDENTIAL = "confidential", "Confidential"
    PRIVILEGED = "privileged", "Legally privileged"
    PHI = "phi", "Protected health information"
    FINANCIAL = "financial", "Financial and bank details"


def validate_file_types(value: object) -> None:
    """A list of known file kinds (see ``relaydesk.vault.sniff.KINDS``)."""
    from relaydesk.vault.sniff import KINDS

    if not isinstance(value, list) or any(kind not in KINDS for kind in value):
        raise ValidationError(f"Give a list of file kinds from: {', '.join(KINDS)}.")


def default_file_types() -> list[str]:
    """The file kinds a new service accepts: PDFs, images, Office files and text."""
    return ["pdf", "image", "office", "text"]


class Service(models.Model):
    """One service of a service line, such as payroll or e-filing.

    It names the skills it needs, how its finished work is reviewed (none,
    a QA sample, or a mandatory review by a role), how sensitive its
    material is, and which kinds of files (by content) it accepts.
    """

    line = models.ForeignKey(ServiceLine, on_delete=models.PROTECT, related_name="services")
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    skills = models.ManyToManyField(Skill, through="ServiceSkill", related_name="services")
    review_policy = models.CharField(
        max_length=16,
        choices=[(p.value, p.value.capitalize()) for p in ReviewPolicy],
        default=ReviewPolicy.SAMPLED.value,
    )
    review_role = models.CharField(
        max_length=32,
        blank=True,
        choices=[(r.value, r.label) for r in sorted(REVIEWER_ROLES)],
        help_text="Who reviews; empty means a QA reviewer.",
    )
    qa_sample_rate = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(100)],
        help_text="Percentage of completed items sampled for QA when the policy is 'sampled'.",
    )
    sensitivity = models.CharField(
        max_length=16, choices=Sensitivity.choices, default=Sensitivity.STANDARD
    )
    required_clearance = models.ForeignKey(
        "workforce.Clearance",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Held by whoever works it (e.g. PHI training).",
    )
    allowed_file_types = models.JSONField(
        default=default_file_types,
        blank=True,
        validators=[validate_file_types],
        help_text=(
            "Kinds of files this service accepts, judged by their content: "
            "pdf, image, office, text, email."
        ),
    )

    class Meta:
        ordering = ["line__code", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(qa_sample_rate__lte=100), name="service_sample_rate_percent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.line.code} · {self.name}"


class ServiceSkill(models.Model):
    """A skill a service needs, and the least proficiency that will do."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="skill_needs")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    min_proficiency = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "skill"], name="service_skill_once"),
            models.CheckConstraint(
                condition=models.Q(min_proficiency__gte=1, min_proficiency__lte=5),
                name="service_skill_proficiency_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill} ≥ {self.min_proficiency}"
