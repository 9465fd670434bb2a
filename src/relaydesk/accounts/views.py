"""Pages for a person's own account: personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from relaydesk.accounts.actions import do_create_api_token, do_revoke_api_token
from relaydesk.accounts.models import User
from relaydesk.errors import ActionRefused, NotFound
from relaydesk.web import client_ip


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """List, create and revoke one's personal API tokens; a new token is shown once."""
    user = request.user
    assert isinstance(user, User)
    new_secret = None
    error = None
    status = 200
    if request.method == "POST":
        try:
            _, new_secret = do_create_api_token(
                user, name=request.POST.get("name", ""), source_ip=client_ip(request)
            )
        except ActionRefused as refusal:
            error, status = refusal.message, refusal.status
    return render(
        request,
        "accounts/tokens.html",
        {"tokens": user.api_tokens.all(), "new_secret": new_secret, "error": error},
        status=status,
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of one's own tokens."""
    user = request.user
    assert isinstance(user, User)
    try:
        token = do_revoke_api_token(user, token_id, source_ip=client_ip(request))
    except NotFound as refusal:
        raise Http404(refusal.message) from refusal
    messages.success(request, f"Token '{token.name}' revoked.")
    return redirect("accounts:tokens")
