"""Signals the SLA watch sends once what it announced has committed.

Notifications connect here instead of being called from the watch.
"""

from django.dispatch import Signal

# Sent once per announcement of a clock, after the commit, with ``item_id``, ``clock`` (its
# name, e.g. "Turnaround"), ``percent`` (the highest share of the target newly reached),
# ``breached`` (the target was missed), ``due_at`` (the clock's due time, UTC, or None while
# paused) and ``note`` (a line saying so, the due time in the engagement's time zone).
sla_warning = Signal()

# Sent once per escalation step the watch took, after the commit, with ``item_id``, ``step``
# (1: the operations leads alerted, 2: the priority raised, 3: the client's admins told),
# ``clock`` (its name, e.g. "Turnaround"), ``percent`` (the step's share of the target),
# ``late`` (the clock has passed its due time) and ``due_at`` (UTC, or None while paused).
sla_escalated = Signal()
