"""Client data keys, stored only wrapped by the master key."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ClientDataKey(models.Model):
    """One version of a client's data key, wrapped (AES-GCM) by the master key.

    The data key itself is never stored: ``wrapped_key`` is its encryption
    under the master key named by ``master_key_id``, with associated data
    naming the client and version, so a wrapped key copied to another client
    does not unwrap. Rotating the master key re-wraps every row in place
    (``rewrapped_at``); files are not re-encrypted, because each attachment
    names the data-key version that encrypted it.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    wrapped_key = models.BinaryField(max_length=128)
    master_key_id = models.CharField(
        max_length=32, help_text="The id of the master key that wraps this key (not the key)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["client_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["client", "version"], name="data_key_version_once")
        ]

    def __str__(self) -> str:
        return f"data key v{self.version} of client {self.client_id} ({self.master_key_id})"
