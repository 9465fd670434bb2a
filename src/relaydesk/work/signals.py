"""Signals about work-item changes, most of them sent once the change has committed.

Later capabilities (automatic routing, SLA clocks, notifications, webhooks)
connect here instead of being called from the actions.
"""

from django.dispatch import Signal

# Sent with ``item_id``, ``action`` and ``to_state`` once the change is committed.
work_item_changed = Signal()

# Sent with ``item_id`` and ``visibility`` once a new comment is committed.
item_commented = Signal()

# Sent inside the transaction, with ``engagement_id`` and ``days`` (UTC dates), when an
# item's receipt, delivery or cancellation falls on those days or leaves them: figures
# kept per day are forgotten with the change, or not at all if it rolls back.
work_days_changed = Signal()
