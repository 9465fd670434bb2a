"""The demo's objectives: what each client and the provider agreed for its engagement.

Each client's admin asked for a turnaround SLA and a backlog ceiling that the provider's
lead agreed; the lead proposed a quality score that the client agreed. One client's
admin has just proposed a monthly cost cap the provider has not answered yet, so the
portal shows an objective waiting for agreement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from relaydesk.accounts.models import User
from relaydesk.insights.actions import do_agree_objective, do_propose_objective

# (metric, target, who proposes: "client" or "provider", why)
_AGREED = (
    ("sla_attainment", Decimal(90), "client", "Nine in ten requests back within the turnaround."),
    ("quality_score", Decimal(88), "provider", "The scorecard's pass mark plus a margin."),
    ("backlog_ceiling", Decimal(40), "client", "No more than two days of work waiting."),
)
# The client whose admin has just proposed a cost cap.
_COST_CAP_CLIENT = "hartwell-cole"


def set_objectives(clients: Mapping[str, Any], lead: User, now: dt.datetime) -> str:
    """Objectives for every demo engagement; a summary line."""
    agreed = waiting = 0
    for slug, side in clients.items():
        admin = side.admin
        when = now - dt.timedelta(days=40)
        for metric, target, proposer, why in _AGREED:
            by, other = (admin, lead) if proposer == "client" else (lead, admin)
            objective = do_propose_objective(
                by, side.engagement, metric=metric, target=target, note=why, at=when
            )
            do_agree_objective(other, objective, at=when + dt.timedelta(hours=20))
            agreed += 1
        if slug == _COST_CAP_CLIENT:
            do_propose_objective(
                admin,
                side.engagement,
                metric="cost_cap",
                target=Decimal(60000),
                note="Our budget for this engagement per month.",
                at=now - dt.timedelta(days=1),
            )
            waiting += 1
    return f"objectives: {agreed} agreed, {waiting} waiting for the provider"
