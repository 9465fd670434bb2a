"""The audit trail: who did what to which object, when, and from where."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditRecord(models.Model):
    """One recorded action, append-only and chained to the one before it.

    Written by every ``do_*`` action in the same transaction, and by the sign-in,
    permission and back-office receivers. ``actor_label`` keeps a readable name
    beside the user; ``client`` is set whenever the record concerns a client, so
    the client can be shown its own trail.

    ``seq`` numbers the records 1, 2, 3, ... in the order they were written (a gap
    means a record is missing); ``hash`` is the SHA-256 of the record's fields and
    ``prev_hash`` (see ``relaydesk.audit.chain``), so editing, removing or
    reordering a record breaks the chain that ``relaydesk audit verify`` walks.
    Database triggers refuse UPDATE, DELETE and TRUNCATE on this table.

    ``actor`` is PROTECT: a person who appears in the trail cannot be deleted,
    only deactivated (SET_NULL would have to rewrite audit rows).
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-at", "-seq"]
        indexes = [models.Index(fields=["client", "-at"], name="audit_client_time")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"
