"""Signals the SLA watch sends once what it announced has committed.

Notifications connect here instead of being called from the watch.
"""

from django.dispatch import Signal

# Sent once per announcement of a clock, after the commit, with ``item_id``, ``clock`` (its
# name, e.g. "Turnaround"), ``percent`` (the highest share of the target newly reached),
# ``breached`` (the target was missed), ``due_at`` (the clock's due time, UTC, or None while
# paused) and ``note`` (a line saying so, the due time in the engagement's time zone).
sla_warning = Signal()
