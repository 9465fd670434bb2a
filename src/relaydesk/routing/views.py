"""Pages for routing: the live operations board for operations leads and provider admins."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.permissions import roles_required
from relaydesk.routing.queries import operations_board

#: How often the open board asks for fresh figures.
POLL_SECONDS = 30


@roles_required(*roles_with(Permission.VIEW_OPERATIONS_BOARD))
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """Sites and who is on shift, queues, items at risk and handoffs; HTMX polls refresh it."""
    user = request.user
    assert isinstance(user, User)
    context = {"board": operations_board(user), "poll_seconds": POLL_SECONDS}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "routing/board.html#board", context)
    return render(request, "routing/board.html", context)
