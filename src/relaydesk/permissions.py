"""Page guards: which roles may open which part of the site."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from relaydesk.audit.actions import do_record_denial
from relaydesk.core.roles import Role
from relaydesk.web import client_ip

View = Callable[..., HttpResponse]


def roles_required(*roles: Role) -> Callable[[View], View]:
    """Require sign-in and one of ``roles``; others get a 403 page that says why."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.role_enum not in roles:  # type: ignore[union-attr]
                reason = "This page is for: " + ", ".join(r.label for r in roles) + "."
                do_record_denial(
                    request.user,  # type: ignore[arg-type]
                    method=request.method or "",
                    path=request.path,
                    reason=reason,
                    source_ip=client_ip(request),
                )
                return render(request, "403.html", {"reason": reason}, status=403)
            return view(request, *args, **kwargs)

        return guarded

    return decorate
