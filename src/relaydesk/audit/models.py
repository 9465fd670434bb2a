"""The audit trail: who did what to which object, when, and from where."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditRecord(models.Model):
    """One recorded action. Written by every ``do_*`` action in the same transaction.

    ``actor_label`` keeps a readable name even if the user is later removed;
    ``client`` is set whenever the object belongs to a client, so a client can
    be shown its own trail.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["client", "-at"], name="audit_client_time")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"
