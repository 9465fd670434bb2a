"""Pages of one's own notifications: the list, opening one, marking read, and the settings."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.errors import ActionRefused, NotFound
from relaydesk.notifications.actions import do_mark_all_read, do_mark_read, do_set_preferences
from relaydesk.notifications.forms import PreferencesForm
from relaydesk.notifications.kinds import DIGEST_HOUR
from relaydesk.notifications.queries import (
    openable_item_ids,
    preferences_of,
    unread_count,
    visible_notifications,
)
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip

PAGE_SIZE = 30
_RECEIVERS = tuple(sorted(roles_with(Permission.RECEIVE_NOTIFICATIONS)))


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@roles_required(*_RECEIVERS)
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """One's notifications, unread first; each leads to its item while one may still open it."""
    user = _user(request)
    show = "unread" if request.GET.get("show") == "unread" else "all"
    notifications = visible_notifications(user).select_related("item")
    if show == "unread":
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    openable = openable_item_ids(user, [n.item_id for n in shown])
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "rows": [(n, n.item_id in openable) for n in shown],
            "unread": unread_count(user),
            "show": show,
            "query": "show=unread" if show == "unread" else "",
        },
    )


@roles_required(*_RECEIVERS)
@require_http_methods(["GET", "POST"])
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark a notification read and go where it leads (the links in e-mails come here)."""
    user = _user(request)
    try:
        notification = do_mark_read(user, notification_id)
    except NotFound as refusal:
        raise Http404(refusal.message) from refusal
    if notification.item_id in openable_item_ids(user, [notification.item_id]):
        return redirect(notification.url or "notifications:list")
    messages.info(
        request,
        f"RD-{notification.item_id} has moved on since: you can no longer open it.",
    )
    return redirect("notifications:list")


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:list")


@roles_required(*_RECEIVERS)
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one of one's notifications read, and go back to the list."""
    try:
        do_mark_read(_user(request), notification_id)
    except NotFound as refusal:
        raise Http404(refusal.message) from refusal
    return _back(request)


@roles_required(*_RECEIVERS)
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    """Mark every one of one's unread notifications read."""
    count = do_mark_all_read(_user(request))
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return _back(request)


@roles_required(*_RECEIVERS)
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Choose, kind by kind, whether to see it in Relaydesk and how to be e-mailed."""
    user = _user(request)
    current = preferences_of(user)
    status = 200
    error = None
    if request.method == "POST":
        form = PreferencesForm(request.POST, role=user.role_enum, current=current)
        if form.is_valid():
            try:
                do_set_preferences(user, form.choices(), source_ip=client_ip(request))
            except ActionRefused as refusal:
                error, status = refusal.message, refusal.status
            else:
                messages.success(request, "Your notification settings are saved.")
                return redirect("notifications:preferences")
        else:
            status = 400
    else:
        form = PreferencesForm(role=user.role_enum, current=current)
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "error": error, "digest_hour": DIGEST_HOUR},
        status=status,
    )
