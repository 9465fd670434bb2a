"""The JSON API under /api/v1/: session auth for the browser, bearer tokens for programs."""

from __future__ import annotations

import math
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import HttpBearer, SessionAuth

from relaydesk import __version__
from relaydesk.accounts.actions import TOKEN_OWNER_NEEDS_MFA, authenticate_token
from relaydesk.accounts.api import router as accounts_router
from relaydesk.accounts.mfa import missing_mfa
from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_denial
from relaydesk.catalog.api import router as catalog_router
from relaydesk.clients.api import router as clients_router
from relaydesk.errors import ActionRefused, NotAllowed
from relaydesk.insights.api import router as insights_router
from relaydesk.insights.report_api import router as reports_router
from relaydesk.notifications.api import router as notifications_router
from relaydesk.quality.api import router as quality_router
from relaydesk.routing.api import router as routing_router
from relaydesk.sla.api import router as sla_router
from relaydesk.tenancy import rowsecurity
from relaydesk.throttling import AnonymousRateThrottle, CallerRateThrottle
from relaydesk.web import client_ip
from relaydesk.webhooks.api import router as webhooks_router
from relaydesk.work.api import router as work_router
from relaydesk.workforce.api import router as workforce_router


class PersonalToken(HttpBearer):
    """``Authorization: Bearer rdk_…`` with a personal API token.

    A token acts for its owner without a second factor, so it works only while its
    owner keeps to the sign-in pages' rule: whoever must use two-factor sign-in
    (provider staff; a client's users when their client requires it) has an
    authenticator app, or their tokens are refused with a 403.
    """

    openapi_description = (
        "A personal API token (`rdk_…`). An unknown, expired or revoked token answers 401. "
        "A token whose owner must use two-factor sign-in (every provider role; a client's "
        "users when their client requires it) but has no authenticator app set up answers "
        "403, with a `detail` that says so, until the owner sets one up."
    )

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_token(token)
        if user is None:
            raise AuthenticationError(message="The API token is unknown, expired or revoked.")
        # The request began with no scope: a token is only known here.
        rowsecurity.enter(rowsecurity.scope_of(user))
        why = missing_mfa(user)
        if why:
            # Known, but not allowed to act: the refusal is recorded against the owner.
            request.auth = user  # type: ignore[attr-defined]
            raise NotAllowed(f"{why} {TOKEN_OWNER_NEEDS_MFA}")
        return user


class SignedInSession(SessionAuth):
    """The browser's session; writes need the CSRF token (``X-CSRFToken``)."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # No signed-in session, nothing to forge: a plain 401, not a CSRF 403.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


# What the authentication answers, in every operation's documented responses.
AUTH_RESPONSES = {
    401: "No token or session, or the token is unknown, expired or revoked.",
    403: (
        "Refused: your role or your relation to the object does not allow it; or the API "
        "token's owner must use two-factor sign-in (every provider role; a client's users "
        "when their client requires it) and has no authenticator app set up."
    ),
}


class RelaydeskAPI(NinjaAPI):
    """The API, with the authentication's 401 and 403 described on every operation."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, description in AUTH_RESPONSES.items():
                    response = operation.get("responses", {}).get(status)
                    if response is not None:
                        response["description"] = description
        return schema


# The token comes first: a session check with a failed CSRF test would end the chain.
api = RelaydeskAPI(
    title="Relaydesk API",
    version=__version__,
    description=(
        "Submit and follow work, move it through its lifecycle, and read the catalog. "
        "Authenticate with a personal token (`Authorization: Bearer …`, create one under "
        "*API tokens*) or, from the browser, with your session and CSRF token. A token works "
        "only while its owner keeps to the two-factor sign-in rule: if two-factor sign-in is "
        "required of them (every provider role; a client's users when their client requires "
        "it) and they have no authenticator app, the token answers 403. Every error "
        'is JSON: `{"detail": "…"}`.'
    ),
    auth=[PersonalToken(), SignedInSession(csrf=True)],
    # Per token, else per signed-in user (RELAYDESK_API_RATE); see relaydesk.throttling.
    throttle=[CallerRateThrottle()],
    urls_namespace="api-v1",
)
# Failed authentications, per client address (RELAYDESK_API_ANON_RATE).
anonymous_throttle = AnonymousRateThrottle()
api.add_router("/", accounts_router)
api.add_router("/", catalog_router)
api.add_router("/", clients_router)
api.add_router("/", workforce_router)
api.add_router("/", work_router)
api.add_router("/", routing_router)
api.add_router("/", sla_router)
api.add_router("/", quality_router)
api.add_router("/", insights_router)
api.add_router("/", reports_router)
api.add_router("/", webhooks_router)
api.add_router("/", notifications_router)


@api.exception_handler(ActionRefused)
def on_refused(request: HttpRequest, exc: ActionRefused) -> HttpResponse:
    if exc.status == 403:
        caller = getattr(request, "auth", None)
        do_record_denial(
            caller if isinstance(caller, User) else None,
            method=request.method or "",
            path=request.path,
            reason=exc.message,
            source_ip=client_ip(request),
        )
    return api.create_response(request, {"detail": exc.message}, status=exc.status)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = (
        exc.message
        if exc.message != "Unauthorized"
        else ("Sign in, or send a personal API token as 'Authorization: Bearer …'.")
    )
    if not anonymous_throttle.allow_request(request):
        return on_throttled(request, Throttled(wait=anonymous_throttle.wait()))  # type: ignore[arg-type]
    return api.create_response(request, {"detail": message}, status=401)


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    seconds = max(1, math.ceil(exc.wait or 1))
    response = api.create_response(
        request, {"detail": f"Too many requests; try again in {seconds} seconds."}, status=429
    )
    response["Retry-After"] = str(seconds)
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if exc.status_code == 403 and "CSRF" in message:
        message = "The CSRF token is missing or wrong; send it as the X-CSRFToken header."
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "The request body is not valid JSON."
    return api.create_response(request, {"detail": message}, status=exc.status_code)


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors:
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    detail = "The request is not valid. " + "; ".join(problems)
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors
    ]
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": "Not found."}, status=404)
