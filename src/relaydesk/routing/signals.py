"""Signals routing sends after its changes have committed.

Notifications connect here instead of being called from the actions.
"""

from django.dispatch import Signal

# Sent with ``handoff_id`` once an item offered to the next shift's agent is committed.
handoff_offered = Signal()
