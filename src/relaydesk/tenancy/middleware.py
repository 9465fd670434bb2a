"""Every web request in one transaction, under the signed-in person's row-security scope."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponseBase

from relaydesk.tenancy import rowsecurity

# Set on requests that run under a scope, so sign-in can switch the scope mid-request.
ROW_SECURITY_ACTIVE = "row_security_active"


class RowSecurityMiddleware:
    """Open the request's transaction and set its scope from ``request.user``.

    Requests authenticated later (API tokens) re-enter their scope when the token
    is accepted. A 5xx response rolls the transaction back, so a crash leaves
    nothing half-written; refusals (403, 404, 409) still commit their audit
    records. Streamed bodies that read the database (the audit CSV) are
    produced inside a transaction of their own under the same scope.
    On SQLite the middleware does nothing: the application layer is the wall.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not rowsecurity.enabled():
            return self.get_response(request)
        with transaction.atomic():
            # Outside tests the previous scope is always the empty one.
            previous = rowsecurity.current_scope()
            rowsecurity.enter(rowsecurity.scope_of(getattr(request, "user", None)))
            setattr(request, ROW_SECURITY_ACTIVE, True)
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            if response.streaming and not isinstance(response, FileResponse):
                scope = rowsecurity.current_scope()
                response.streaming_content = _streamed_within(  # type: ignore[attr-defined]
                    response.streaming_content,  # type: ignore[attr-defined]
                    scope,
                )
            rowsecurity.enter(previous)
        return response


def _streamed_within(chunks: Iterable[object], scope: rowsecurity.Scope) -> Iterator[object]:
    with rowsecurity.within(scope):
        yield from chunks
