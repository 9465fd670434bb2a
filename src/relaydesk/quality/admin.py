"""Back office for QA: scorecards (a new version is published from the scorecard's page, old
versions are read-only), sampling rules (editable), reviews, disputes and calibration sessions
(read-only)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.core.quality import DEFAULT_PASS_MARK
from relaydesk.errors import ActionRefused
from relaydesk.quality.actions import do_publish_scorecard_version
from relaydesk.quality.models import (
    CalibrationItem,
    CalibrationParticipant,
    CalibrationScore,
    CalibrationSession,
    Dispute,
    Review,
    SamplingRule,
    Scorecard,
    ScorecardVersion,
    scorecard_from,
)

CRITERIA_HELP = (
    "To change the scorecard, publish a new version: a JSON list with one object per "
    'criterion, e.g. [{"key": "accuracy", "label": "Data keyed correctly", "weight": 3, '
    '"scale": "1-5", "critical": true, "threshold": 3, "category": "Accuracy"}]. Scales are '
    '"binary" (0 or 1) and "1-5"; "bonus" criteria only add points. Leave empty to keep '
    "the current version. Reviews keep the version they were scored with."
)


class ScorecardForm(forms.ModelForm):
    """The scorecard's fields, and the criteria of a new version to publish."""

    new_criteria = forms.CharField(
        label="New version's criteria",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 90}),
        help_text=CRITERIA_HELP,
    )
    new_pass_mark = forms.DecimalField(
        label="New version's pass mark",
        required=False,
        min_value=0,
        max_value=100,
        decimal_places=2,
        initial=DEFAULT_PASS_MARK,
    )

    class Meta:
        model = Scorecard
        fields = ["name", "service", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        latest = self.instance.latest_version() if self.instance.pk else None
        if latest is not None:
            self.fields["new_criteria"].initial = json.dumps(latest.criteria, indent=2)
            self.fields["new_pass_mark"].initial = latest.pass_mark

    def clean(self) -> dict[str, Any]:
        """Check a new version's criteria with the core's rules before anything is saved."""
        data = super().clean() or {}
        text = (data.get("new_criteria") or "").strip()
        data["criteria_to_publish"] = None
        if not text:
            if not self.instance.pk:
                raise ValidationError({"new_criteria": "A new scorecard needs its criteria."})
            return data
        try:
            criteria = json.loads(text)
        except json.JSONDecodeError as problem:
            raise ValidationError({"new_criteria": f"This is not valid JSON: {problem}."}) from None
        mark = data.get("new_pass_mark")
        mark = DEFAULT_PASS_MARK if mark is None else mark
        try:
            scorecard_from(data.get("name") or "Scorecard", 1, criteria, mark)
        except ValueError as problem:
            raise ValidationError({"new_criteria": str(problem)}) from None
        latest = self.instance.latest_version() if self.instance.pk else None
        unchanged = latest is not None and latest.criteria == criteria and latest.pass_mark == mark
        data["criteria_to_publish"] = None if unchanged else (criteria, mark)
        return data


class ScorecardVersionInline(admin.TabularInline):
    model = ScorecardVersion
    fields = ["version", "pass_mark", "criteria", "created_at"]
    readonly_fields = ["version", "pass_mark", "criteria", "created_at"]
    extra = 0
    can_delete = False
    ordering = ["-version"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Scorecard)
class ScorecardAdmin(admin.ModelAdmin):
    form = ScorecardForm
    list_display = ["name", "service", "active", "latest"]
    list_filter = ["active"]
    search_fields = ["name"]
    inlines = [ScorecardVersionInline]

    @admin.display(description="Latest version")
    def latest(self, obj: Scorecard) -> str:
        version = obj.latest_version()
        return f"v{version.version}" if version else "none"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        publish = form.cleaned_data.get("criteria_to_publish")
        if publish is not None:
            criteria, mark = publish
            user = request.user
            assert isinstance(user, User)
            try:
                do_publish_scorecard_version(user, obj, criteria, mark)
            except ActionRefused as refusal:
                raise ValidationError(refusal.message) from refusal


@admin.register(SamplingRule)
class SamplingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "engagement",
        "service",
        "base_rate",
        "probation_full",
        "first_items_full",
        "raised_rate",
        "raised_for",
        "weekly_minimum",
    ]
    list_filter = ["engagement__client"]
    # The client always follows the engagement; nobody picks it by hand.
    exclude = ["client", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.client_id = obj.engagement.client_id
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        # Written by the product's actions, never typed in.
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(_ReadOnly):
    list_display = ["item", "reviewer", "agent", "score", "passed", "auto_failed", "overturned"]
    list_filter = ["passed", "auto_failed", "overturned"]
    readonly_fields = [f.name for f in Review._meta.fields]


@admin.register(Dispute)
class DisputeAdmin(_ReadOnly):
    list_display = ["review", "agent", "state", "created_at", "decided_by", "decided_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in Dispute._meta.fields]


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CalibrationItemInline(_ReadOnlyInline):
    model = CalibrationItem
    fields = readonly_fields = ("position", "item")


class CalibrationParticipantInline(_ReadOnlyInline):
    model = CalibrationParticipant
    fields = readonly_fields = ("reviewer",)


class CalibrationScoreInline(_ReadOnlyInline):
    """Who scored what, without the scores: they are blind until the session's page shows them."""

    model = CalibrationScore
    fields = readonly_fields = ("item", "scorer", "is_benchmark", "updated_at")


@admin.register(CalibrationSession)
class CalibrationSessionAdmin(_ReadOnly):
    list_display = ["title", "engagement", "created_by", "state", "tolerance", "created_at"]
    list_filter = ["state"]
    search_fields = ["title"]
    readonly_fields = [f.name for f in CalibrationSession._meta.fields]
    inlines = [CalibrationItemInline, CalibrationParticipantInline, CalibrationScoreInline]
