"""Signals sent after a work-item change has committed.

Later capabilities (automatic routing, SLA clocks, notifications, webhooks)
connect here instead of being called from the actions.
"""

from django.dispatch import Signal

# Sent with ``item_id``, ``action`` and ``to_state`` once the change is committed.
work_item_changed = Signal()

# Sent with ``item_id`` and ``visibility`` once a new comment is committed.
item_commented = Signal()
