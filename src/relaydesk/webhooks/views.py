"""Webhook pages: a client admin's endpoints per engagement, each with its delivery log.

The provider's admins and operations leads may open them too, read-only.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_denial
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.errors import ActionRefused
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip
from relaydesk.webhooks import actions, queries
from relaydesk.webhooks.forms import EndpointForm, RollSecretForm
from relaydesk.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = queries.get_visible_endpoint(_user(request), endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _refused(request: HttpRequest, refusal: ActionRefused, endpoint: WebhookEndpoint) -> None:
    """Show the refusal; a 403 also goes to the audit trail."""
    if refusal.status == 403:
        do_record_denial(
            _user(request),
            method=request.method or "",
            path=request.path,
            reason=refusal.message,
            obj=endpoint,
            client=endpoint.client_id,
            source_ip=client_ip(request),
        )
    messages.error(request, refusal.message)


@roles_required(*roles_with(Permission.VIEW_WEBHOOKS))
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """The endpoints one may see, by engagement, with how their last delivery went."""
    user = _user(request)
    endpoints = list(queries.visible_endpoints(user).order_by("client__name", "engagement__name"))
    last = queries.last_deliveries(user, endpoints)
    groups: dict[int, dict[str, Any]] = {}
    for endpoint in endpoints:
        group = groups.setdefault(
            endpoint.engagement_id, {"engagement": endpoint.engagement, "endpoints": []}
        )
        group["endpoints"].append((endpoint, last.get(endpoint.pk)))
    can_manage = queries.can_manage_webhooks(user)
    empty_engagements = (
        [e for e in queries.manageable_engagements(user) if e.pk not in groups]
        if can_manage
        else []
    )
    return render(
        request,
        "webhooks/list.html",
        {
            "groups": list(groups.values()),
            "can_manage": can_manage,
            "empty_engagements": empty_engagements,
        },
    )


@roles_required(*roles_with(Permission.MANAGE_WEBHOOKS))
def endpoint_new(request: HttpRequest) -> HttpResponse:
    """Add an endpoint to one of the client's engagements; its secret is shown once."""
    user = _user(request)
    engagements = list(queries.manageable_engagements(user))
    status = 200
    error = None
    if request.method == "POST":
        form = EndpointForm(request.POST, engagements=engagements)
        if form.is_valid():
            data = form.cleaned_data
            try:
                endpoint, secret = actions.do_create_endpoint(
                    user,
                    engagement_id=data["engagement"],
                    url=data["url"],
                    event_types=data["event_types"],
                    description=data["description"],
                    active=data["active"],
                    source_ip=client_ip(request),
                )
            except ActionRefused as refusal:
                error, status = refusal.message, refusal.status
            else:
                messages.success(request, "Endpoint added. Copy its signing secret now.")
                return _detail(request, endpoint, new_secret=secret)
        else:
            status = 422
    else:
        chosen = request.GET.get("engagement", "")
        form = EndpointForm(
            initial={"engagement": chosen, "active": True, "event_types": []},
            engagements=engagements,
        )
    return render(
        request,
        "webhooks/form.html",
        {"form": form, "endpoint": None, "error": error, "engagements": engagements},
        status=status,
    )


def _detail(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    *,
    new_secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    deliveries = queries.visible_deliveries(user, endpoint)
    wanted = request.GET.get("state", "")
    if wanted in DeliveryState.values:
        deliveries = deliveries.filter(state=wanted)
    else:
        wanted = ""
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "webhooks/detail.html",
        {
            "endpoint": endpoint,
            "page": page,
            "state": wanted,
            "states": DeliveryState.choices,
            "can_manage": queries.can_manage_webhooks(user)
            and endpoint.client_id == user.client_id,
            "new_secret": new_secret,
            "roll_form": RollSecretForm(),
            "previous_signs": endpoint.previous_secret_signs(),
            "max_attempts": actions.MAX_ATTEMPTS,
        },
        status=status,
    )


@login_required
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """One endpoint: its settings, its secret's last characters, and its delivery log."""
    return _detail(request, _endpoint(request, endpoint_id))


@login_required
def endpoint_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Change an endpoint's URL, description, events, or whether it is active."""
    user = _user(request)
    endpoint = _endpoint(request, endpoint_id)
    status = 200
    error = None
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_update_endpoint(
                    user,
                    endpoint,
                    url=data["url"],
                    event_types=data["event_types"],
                    description=data["description"],
                    active=data["active"],
                    source_ip=client_ip(request),
                )
            except ActionRefused as refusal:
                if refusal.status == 403:
                    _refused(request, refusal, endpoint)
                    return redirect("webhooks:detail", endpoint_id=endpoint.pk)
                error, status = refusal.message, refusal.status
            else:
                messages.success(request, "Endpoint saved.")
                return redirect("webhooks:detail", endpoint_id=endpoint.pk)
        else:
            status = 422
    else:
        form = EndpointForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "event_types": endpoint.event_types,
                "active": endpoint.active,
            }
        )
    return render(
        request,
        "webhooks/form.html",
        {"form": form, "endpoint": endpoint, "error": error},
        status=status,
    )


@login_required
@require_POST
def endpoint_toggle(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Disable an active endpoint, or enable a disabled one."""
    endpoint = _endpoint(request, endpoint_id)
    try:
        changed = actions.do_update_endpoint(
            _user(request), endpoint, active=not endpoint.active, source_ip=client_ip(request)
        )
    except ActionRefused as refusal:
        _refused(request, refusal, endpoint)
    else:
        messages.success(
            request,
            "Endpoint enabled: new events are sent to it."
            if changed.active
            else "Endpoint disabled: nothing is sent to it, and waiting deliveries were given up.",
        )
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)


@login_required
@require_POST
def endpoint_roll(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Give the endpoint a new signing secret, shown once on the page that answers."""
    endpoint = _endpoint(request, endpoint_id)
    form = RollSecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose when the old secret stops working.")
        return redirect("webhooks:detail", endpoint_id=endpoint.pk)
    try:
        secret = actions.do_roll_secret(
            _user(request),
            endpoint,
            keep_previous_hours=form.cleaned_data["keep_previous_hours"],
            source_ip=client_ip(request),
        )
    except ActionRefused as refusal:
        _refused(request, refusal, endpoint)
        return redirect("webhooks:detail", endpoint_id=endpoint.pk)
    messages.success(request, "New signing secret made. Copy it now.")
    fresh = _endpoint(request, endpoint.pk)
    return _detail(request, fresh, new_secret=secret)


def _outcome(delivery: WebhookDelivery) -> str:
    if delivery.state == DeliveryState.SUCCEEDED:
        return f"answered {delivery.last_status_code} in {delivery.last_response_ms} ms"
    return delivery.last_error or "it failed"


@login_required
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Send a test event (``ping``) now and say how the endpoint answered."""
    endpoint = _endpoint(request, endpoint_id)
    try:
        delivery = actions.do_send_test_event(
            _user(request), endpoint, source_ip=client_ip(request)
        )
    except ActionRefused as refusal:
        _refused(request, refusal, endpoint)
    else:
        if delivery.state == DeliveryState.SUCCEEDED:
            messages.success(request, f"Test event delivered: the endpoint {_outcome(delivery)}.")
        else:
            messages.error(request, f"Test event failed: {_outcome(delivery)}")
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)


@login_required
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Ask, then delete the endpoint with its delivery log."""
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        try:
            actions.do_delete_endpoint(_user(request), endpoint, source_ip=client_ip(request))
        except ActionRefused as refusal:
            _refused(request, refusal, endpoint)
            return redirect("webhooks:detail", endpoint_id=endpoint.pk)
        messages.success(request, f"Endpoint {endpoint.url} deleted.")
        return redirect("webhooks:list")
    return render(request, "webhooks/delete.html", {"endpoint": endpoint})


def _delivery(request: HttpRequest, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = queries.get_visible_delivery(_user(request), endpoint, delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


@login_required
def delivery_detail(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    """One delivery: its event as sent, and how its last attempt went."""
    endpoint = _endpoint(request, endpoint_id)
    delivery = _delivery(request, endpoint, delivery_id)
    user = _user(request)
    return render(
        request,
        "webhooks/delivery.html",
        {
            "endpoint": endpoint,
            "delivery": delivery,
            "payload": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
            "can_manage": queries.can_manage_webhooks(user)
            and endpoint.client_id == user.client_id,
            "max_attempts": actions.MAX_ATTEMPTS,
        },
    )


@login_required
@require_POST
def delivery_retry(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    """Send a failed or given-up delivery again now."""
    endpoint = _endpoint(request, endpoint_id)
    delivery = _delivery(request, endpoint, delivery_id)
    try:
        sent = actions.do_retry_delivery(_user(request), delivery, source_ip=client_ip(request))
    except ActionRefused as refusal:
        _refused(request, refusal, endpoint)
    else:
        if sent.state == DeliveryState.SUCCEEDED:
            messages.success(request, f"Delivered: the endpoint {_outcome(sent)}.")
        else:
            messages.error(request, f"Sent again, and it failed: {_outcome(sent)}")
    if request.POST.get("return_to") == "delivery":
        return redirect("webhooks:delivery", endpoint_id=endpoint.pk, delivery_id=delivery.pk)
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)
