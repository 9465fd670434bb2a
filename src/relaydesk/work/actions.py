"""Every write to work items: intake, lifecycle, assignment, comments and attachments.

Each ``do_*`` function checks who may act, changes state in one transaction,
writes the timeline and the audit trail, and announces the change on commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.text import get_valid_filename

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.eligibility import first_exclusion
from relaydesk.core.lifecycle import (
    Action,
    ActorFacts,
    IllegalTransition,
    ItemFacts,
    LifecycleError,
    NotPermitted,
    ReviewPolicy,
    State,
    allowed_actions,
    decide,
)
from relaydesk.core.permissions import Permission, can
from relaydesk.core.quality import SampleDecision
from relaydesk.core.roles import REVIEWER_ROLES, Role
from relaydesk.errors import ActionRefused, Conflict, Invalid, NotAllowed, NotFound
from relaydesk.tenancy import rowsecurity
from relaydesk.vault.actions import (
    CannotDecrypt,
    ValueOpener,
    do_record_value_decrypt_failure,
    seal_upload,
    seal_values,
)
from relaydesk.vault.sniff import ContentRefused, Sniffed, check_content
from relaydesk.work.models import (
    Attachment,
    Comment,
    IdempotencyKey,
    Priority,
    SensitiveDetail,
    SensitiveKind,
    Visibility,
    WorkItem,
    WorkItemEvent,
    visible_tail,
)
from relaydesk.work.queries import can_see_item, item_needs
from relaydesk.work.signals import item_commented, work_days_changed, work_item_changed
from relaydesk.workforce.models import Agent
from relaydesk.workforce.queries import agent_profile

if TYPE_CHECKING:
    from relaydesk.work.importing import ImportPlan, ImportResult

_WORKED_KINDS = (Action.START.value, Action.COMPLETE.value)


@dataclass(frozen=True, slots=True)
class NewWorkItem:
    """The fields of a work-item request, as intake (portal, API, CSV) receives them."""

    engagement_id: int
    service_slug: str
    title: str
    description: str = ""
    priority: int = Priority.NORMAL
    jurisdiction: str = ""
    language: str = "en"
    external_ref: str = ""
    due_at: dt.datetime | None = None
    # Confidential values as (kind, label, value); stored apart and shown masked.
    sensitive: tuple[tuple[str, str, str], ...] = ()

    def digest(self) -> str:
        """A fingerprint of the request, to tell a true repeat from a reused key."""
        fields = {k: str(getattr(self, k)) for k in self.__dataclass_fields__}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def validate_new_item(
    actor: User, request: NewWorkItem, *, at: dt.datetime
) -> tuple[Engagement, Service]:
    """Check a request before anything is written; raise :class:`Invalid` with the reason."""
    if not can(actor.role_enum, Permission.SUBMIT_WORK):
        raise NotAllowed("Only a client's users or the operations team can submit work.")
    engagements = Engagement.objects.select_related("client")
    if actor.is_client_user:
        engagements = engagements.filter(client_id=actor.client_id or 0)
    engagement = engagements.filter(pk=request.engagement_id).first()
    if engagement is None:
        raise Invalid(f"There is no engagement {request.engagement_id} you can submit work to.")
    if not engagement.is_active_on(at.astimezone(zoneinfo.ZoneInfo(engagement.time_zone)).date()):
        raise Invalid(f"The engagement '{engagement.name}' is not active.")
    service = engagement.services.filter(slug=request.service_slug).first()
    if service is None:
        offered = ", ".join(engagement.services.order_by("slug").values_list("slug", flat=True))
        raise Invalid(
            f"The engagement '{engagement.name}' does not cover the service "
            f"'{request.service_slug}'; it covers: {offered}."
        )
    if not request.title.strip():
        raise Invalid("A title is required.")
    if len(request.title) > 200:
        raise Invalid("The title is longer than 200 characters.")
    _check_sensitive(request.sensitive)
    if len(request.external_ref) > 100:
        raise Invalid("Your reference is limited to 100 characters.")
    if request.priority not in Priority.values:
        raise Invalid("Priority must be one of: low, normal, high, urgent.")
    if request.due_at is not None:
        if timezone.is_naive(request.due_at):
            raise Invalid("The due time needs a time zone.")
        if request.due_at <= at:
            raise Invalid("The due time must be in the future.")
    if request.jurisdiction and not _looks_like_subdivision(request.jurisdiction.upper()):
        raise Invalid("A jurisdiction is a code such as US-FL.")
    if engagement.required_certification_id and not request.jurisdiction:
        raise Invalid(
            f"Work under '{engagement.name}' is tied to a jurisdiction: give one, such as US-FL."
        )
    if not request.language.isalpha() or not 2 <= len(request.language) <= 3:
        raise Invalid("A language is a two- or three-letter code such as en.")
    return engagement, service


def _check_sensitive(details: tuple[tuple[str, str, str], ...]) -> None:
    if len(details) > 10:
        raise Invalid("An item holds at most 10 confidential details.")
    for kind, label, value in details:
        if kind not in SensitiveKind.values:
            kinds = ", ".join(SensitiveKind.values)
            raise Invalid(f"A confidential detail's kind is one of: {kinds}.")
        if not label.strip() or len(label) > 60:
            raise Invalid("Each confidential detail needs a label of at most 60 characters.")
        if not value.strip() or len(value) > 500:
            raise Invalid(f"The confidential detail '{label}' needs a value of 1-500 characters.")


def _looks_like_subdivision(code: str) -> bool:
    country, _, region = code.partition("-")
    return len(country) == 2 and country.isalpha() and country.isupper() and 0 < len(region) <= 3


def _qa_seed(client: Client, title: str, at: dt.datetime) -> str:
    """The seed QA sampling keys on, fixed at submission.

    Not the database id: PostgreSQL never reuses the ids of rolled-back rows, so
    the same input would sample differently. An HMAC under the secret key of what
    was submitted (client, time, title, and how many identical submissions came
    before) is the same for the same input, yet nobody without the key (a
    client choosing a title, an agent reading the item) can tell which work will
    be sampled.
    """
    earlier = WorkItem.objects.filter(client=client, created_at=at, title=title).count()
    message = f"{client.slug}|{at.astimezone(dt.UTC).isoformat()}|{title}|{earlier}"
    return salted_hmac("relaydesk.work.qa_seed", message, algorithm="sha256").hexdigest()


def do_submit_work_item(
    actor: User,
    request: NewWorkItem,
    *,
    files: list[UploadedFile] | None = None,
    idempotency_key: str | None = None,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> tuple[WorkItem, bool]:
    """Take in a client's request and queue it; return the item and whether it is new.

    With an ``idempotency_key`` a repeat of the same request returns the item
    the first call made; the same key with a different request is refused.
    """
    at = at or timezone.now()
    engagement, service = validate_new_item(actor, request, at=at)
    for upload in files or []:
        _check_upload(upload, service)
    with transaction.atomic():
        if idempotency_key:
            seen = IdempotencyKey.objects.filter(
                client_id=engagement.client_id, key=idempotency_key
            ).first()
            if seen is not None:
                if seen.request_digest != request.digest():
                    raise Conflict("This Idempotency-Key was already used for a different request.")
                return seen.item, False
        title = request.title.strip()
        item = WorkItem.objects.create(
            client_id=engagement.client_id,
            engagement=engagement,
            service=service,
            title=title,
            description=request.description,
            priority=request.priority,
            promised_priority=request.priority,
            jurisdiction=request.jurisdiction.strip().upper(),
            language=request.language.strip().lower(),
            external_ref=request.external_ref,
            due_at=request.due_at,
            deadline=request.due_at,
            state=State.NEW.value,
            submitted_by=actor,
            created_at=at,
            updated_at=at,
            qa_seed=_qa_seed(engagement.client, title, at),
        )
        _event(item, actor, "submitted", to_state=State.NEW, at=at)
        _days_changed(item, at)
        _store_sensitive(item, request.sensitive, at)
        if idempotency_key:
            IdempotencyKey.objects.create(
                client_id=engagement.client_id,
                key=idempotency_key,
                request_digest=request.digest(),
                item=item,
                created_at=at,
            )
        for upload in files or []:
            _store_attachment(item, actor, upload, Visibility.CLIENT, at)
        record(
            actor=actor,
            action="work_item.submit",
            obj=item,
            client=item.client_id,
            source_ip=source_ip,
            at=at,
            detail={"service": service.slug, "files": len(files or [])},
        )
        _apply(item, None, Action.QUEUE, at=at, note="Classified and queued.")
    return item, True


def _store_sensitive(
    item: WorkItem, details: tuple[tuple[str, str, str], ...], at: dt.datetime
) -> None:
    """Store an item's confidential values encrypted; only the mask's tail stays readable."""
    rows = [(kind, label.strip(), value.strip(), uuid.uuid4()) for kind, label, value in details]
    sealed = seal_values(
        item.client_id, [(item.pk, detail_id, value) for _, _, value, detail_id in rows], at=at
    )
    SensitiveDetail.objects.bulk_create(
        SensitiveDetail(
            client_id=item.client_id,
            item=item,
            kind=kind,
            label=label,
            encryption_id=detail_id,
            key_version=seal.key_version,
            nonce=seal.nonce,
            ciphertext=seal.ciphertext,
            last4=visible_tail(value),
            created_at=at,
        )
        for (kind, label, value, detail_id), seal in zip(rows, sealed, strict=True)
    )


def do_import_work(
    actor: User,
    plan: ImportPlan,
    *,
    skip_invalid: bool,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """The bulk-intake action: submit every good row of a checked file as a work item.

    With any bad row and not ``skip_invalid``, raises :class:`Invalid` and
    imports nothing. Otherwise every good row goes through
    :func:`do_submit_work_item` inside one transaction,
    so either all of them land or none does, and one audit record
    (``work_item.import``) describes the import as a whole.
    """
    from relaydesk.work.importing import PROGRESS_EVERY, ImportResult, rows_phrase

    if actor.pk != plan.actor.pk:
        raise NotAllowed("This file was checked for someone else; check it again.")
    if plan.file_problems:
        raise Invalid(
            "The file cannot be imported: "
            + " ".join(str(problem) for problem in plan.file_problems)
        )
    bad = len(plan.bad_lines)
    if bad and not skip_invalid:
        raise Invalid(
            f"{rows_phrase(bad)} {'has' if bad == 1 else 'have'} problems; nothing was imported."
        )
    if not plan.rows:
        raise Invalid("No row of the file can be imported; nothing was imported.")
    at = at or timezone.now()
    created: list[WorkItem] = []
    with transaction.atomic():
        for done, row in enumerate(plan.rows, start=1):
            try:
                item, _ = do_submit_work_item(actor, row.request, source_ip=source_ip, at=at)
            except ActionRefused as refusal:
                raise type(refusal)(
                    f"line {row.line}: {refusal.message} Nothing was imported."
                ) from refusal
            created.append(item)
            if progress is not None and (done % PROGRESS_EVERY == 0 or done == len(plan.rows)):
                progress(done, len(plan.rows))
        record(
            actor=actor,
            action="work_item.import",
            obj=plan.client,
            client=plan.client.pk,
            source_ip=source_ip,
            at=at,
            detail={
                "rows": plan.row_count,
                "imported": len(created),
                "skipped": bad,
                "skipped_lines": plan.bad_lines[:100],
                "skip_invalid": skip_invalid,
                "first": created[0].reference,
                "last": created[-1].reference,
            },
        )
    return ImportResult(client=plan.client, created=created, skipped=plan.all_problems)


def actor_facts(actor: User | None, item: WorkItem) -> ActorFacts:
    """The facts about ``actor`` that the state machine needs for this item."""
    if actor is None:
        return ActorFacts(role=None)
    # Only a reviewer's history with the item matters (nobody reviews their own work).
    did_the_work = item.owner_id == actor.pk or (
        actor.role_enum in REVIEWER_ROLES
        and item.events.filter(actor=actor, kind__in=_WORKED_KINDS).exists()
    )
    return ActorFacts(
        role=actor.role_enum, is_owner=item.owner_id == actor.pk, did_the_work=did_the_work
    )


def qa_sampling(item: WorkItem, at: dt.datetime | None = None) -> SampleDecision | None:
    """Whether the item, if completed now, goes to QA and why; ``None`` unless its service
    is sampled and the item is in progress (sampling only matters when work is completed).

    The engagement's sampling rule and the agent's history decide
    (:func:`relaydesk.quality.queries.qa_sample_decision`).
    """
    if item.service.review_policy != ReviewPolicy.SAMPLED.value:
        return None
    if item.state != State.IN_PROGRESS.value:
        return None
    from relaydesk.quality.queries import qa_sample_decision

    return qa_sample_decision(item, at=at)


def item_facts(
    item: WorkItem, *, sampling: SampleDecision | None = None, with_sampling: bool = True
) -> ItemFacts:
    """The facts about ``item`` that the state machine needs (``sampling``: already decided).

    ``with_sampling=False`` leaves the QA sample undecided (not sampled): whether an
    action is allowed never depends on it, only where completing the item leads, so
    listing what someone may do skips the agent-history queries it costs.
    """
    service = item.service
    review_role = Role(service.review_role) if service.review_role else None
    policy = ReviewPolicy(service.review_policy)
    decision = sampling or (qa_sampling(item) if with_sampling else None)
    return ItemFacts(
        state=item.state_enum,
        review_policy=policy,
        review_role=review_role,
        sampled=decision is not None and decision.sampled,
    )


def actions_for(actor: User, item: WorkItem) -> list[Action]:
    """The lifecycle actions ``actor`` may take on ``item`` now (ASSIGN excluded: it needs a
    chosen agent and has its own form)."""
    candidates = [a for a in Action if a not in (Action.ASSIGN, Action.QUEUE)]
    facts = item_facts(item, with_sampling=False)
    allowed = allowed_actions(actor_facts(actor, item), facts, candidates)
    if set(allowed) & _SCORED_VERDICTS and _scorecard_applies(item):
        # The scorecard form gives the verdict: no approval or rework without a score.
        allowed = [a for a in allowed if a not in _SCORED_VERDICTS]
    return allowed


def may_give_verdict(actor: User, item: WorkItem) -> bool:
    """True when ``actor`` may approve ``item`` in review (with a scorecard, by scoring it)."""
    facts = actor_facts(actor, item)
    listed = item_facts(item, with_sampling=False)
    return Action.APPROVE in allowed_actions(facts, listed, [Action.APPROVE])


# Moves whose timeline entries only the provider reads.
_PROVIDER_ONLY_MOVES = (Action.ASSIGN, Action.TAKE, Action.RELEASE, Action.RETURN_FOR_REWORK)

# The internal timeline entry that says why a completed item was or was not sampled for QA.
QA_SAMPLING_EVENT = "qa_sampling"

# A review's verdicts, which a scored review (relaydesk.quality) gives where a scorecard applies.
_SCORED_VERDICTS = frozenset({Action.APPROVE, Action.RETURN_FOR_REWORK})


def _scorecard_applies(item: WorkItem) -> bool:
    from relaydesk.quality.queries import scorecard_for

    return scorecard_for(item.service) is not None


def _lock(actor: User | None, item: WorkItem, at: dt.datetime) -> WorkItem:
    """Re-read the item under a row lock and check that ``actor`` may see it."""
    locked = (
        WorkItem.objects.select_for_update(of=("self",))
        .select_related("client", "engagement__required_certification", "service", "owner")
        .filter(pk=item.pk)
        .first()
    )
    if locked is None or (
        actor is not None and not can_see_item(actor, locked, on=timezone.localdate(at))
    ):
        raise NotFound("No such work item.")
    return locked


def _decide(
    actor: User | None, item: WorkItem, action: Action, sampling: SampleDecision | None = None
) -> State:
    try:
        # Only completing the item asks whether it goes to QA.
        facts = item_facts(item, sampling=sampling, with_sampling=action is Action.COMPLETE)
        return decide(action, actor_facts(actor, item), facts)
    except NotPermitted as refusal:
        raise NotAllowed(refusal.message) from refusal
    except IllegalTransition as refusal:
        raise Conflict(refusal.message) from refusal
    except LifecycleError as refusal:  # pragma: no cover - every subclass is handled above
        raise Conflict(refusal.message) from refusal


def _event(
    item: WorkItem,
    actor: User | None,
    kind: str,
    *,
    at: dt.datetime,
    from_state: State | None = None,
    to_state: State | None = None,
    note: str = "",
    internal: bool = False,
    data: dict[str, Any] | None = None,
) -> WorkItemEvent:
    return WorkItemEvent.objects.create(
        client_id=item.client_id,
        item=item,
        at=at,
        actor=actor,
        kind=kind,
        from_state=from_state.value if from_state else "",
        to_state=to_state.value if to_state else "",
        note=note,
        internal=internal,
        data=data or {},
    )


def _days_changed(item: WorkItem, *times: dt.datetime | None) -> None:
    """Tell the figures kept per day that ``item`` moved on the UTC days of ``times``."""
    days = sorted({t.astimezone(dt.UTC).date() for t in times if t is not None})
    work_days_changed.send(sender=WorkItem, engagement_id=item.engagement_id, days=days)


def _apply(
    item: WorkItem,
    actor: User | None,
    action: Action,
    *,
    at: dt.datetime,
    note: str = "",
    new_owner: User | None = None,
    source_ip: str | None = None,
    decided: State | None = None,
    data: dict[str, Any] | None = None,
    internal: bool = False,
) -> WorkItem:
    """Decide (unless the caller has) and apply one transition on a locked item.

    The caller holds the transaction. ``data`` adds facts to the timeline entry
    and the audit record.
    """
    before = item.state_enum
    # Decided once, at the time of the action: the timeline keeps why it went to QA or not.
    sampling = qa_sampling(item, at) if action is Action.COMPLETE and not decided else None
    after = decided or _decide(actor, item, action, sampling)
    item.state = after.value
    item.updated_at = at
    data = dict(data or {})
    if action in (Action.ASSIGN, Action.TAKE):
        assert new_owner is not None
        data["owner"] = new_owner.full_name
        if item.owner_id and item.owner_id != new_owner.pk:
            data["previous_owner"] = item.owner.full_name if item.owner else ""
        item.owner = new_owner
        # Whoever gets an item takes it off the front of the queue, in this transaction.
        item.queue_front = False
    elif action is Action.RELEASE or (action is Action.CANCEL and before is State.QUEUED):
        if action is Action.RELEASE:
            # Who let it go (the actor may be a lead or the system): never pushed straight back.
            data["previous_owner_id"] = item.owner_id
        item.owner = None
    if action in (Action.APPROVE, Action.RETURN_FOR_REWORK):
        item.reviewer = actor
    earlier_delivery = item.delivered_at
    if after is State.DELIVERED:
        item.delivered_at = at
    if after in (State.ACCEPTED, State.CANCELLED):
        item.closed_at = at
    item.save()
    if after in (State.DELIVERED, State.CANCELLED):
        _days_changed(item, earlier_delivery, at)
    _event(
        item,
        actor,
        action.value,
        from_state=before,
        to_state=after,
        note=note,
        # Who holds an item, and a reviewer sending work back, are the provider's business:
        # the client sees the work restart, not the review's notes.
        internal=internal or action in _PROVIDER_ONLY_MOVES,
        at=at,
        data=data,
    )
    if sampling is not None:
        # Why it went to QA or not names the agent's standing (probation, a failed review):
        # the provider's business, kept on an internal entry of its own, out of the audit
        # detail and of the client's export.
        reason = sampling.reason[:1].upper() + sampling.reason[1:]
        _event(item, None, QA_SAMPLING_EVENT, note=reason, internal=True, at=at)
    # Receivers read the item after the commit, so they keep the actor's row-security scope.
    rowsecurity.on_commit_in_scope(
        lambda: work_item_changed.send(
            sender=WorkItem, item_id=item.pk, action=action.value, to_state=after.value
        )
    )
    # The audit record last: the chain's lock is held from here to the commit.
    record(
        actor=actor,
        action=f"work_item.{action.value}",
        obj=item,
        client=item.client_id,
        source_ip=source_ip,
        at=at,
        detail={"from": before.value, "to": after.value, **data},
    )
    return item


# Actions that must say why, with the prompt shown when the note is missing.
NOTE_REQUIRED = {
    Action.WAIT_ON_CLIENT: "Say what you need from the client.",
    Action.RETURN_FOR_REWORK: "Say what must be reworked.",
    Action.REQUEST_REWORK: "Say what must be reworked.",
}


def do_transition(
    actor: User,
    item: WorkItem,
    action: Action,
    *,
    note: str = "",
    source_ip: str | None = None,
    at: dt.datetime | None = None,
    internal: bool = False,
    scored: bool = False,
) -> WorkItem:
    """Apply a lifecycle action that needs no other input than an optional note.

    ``internal`` keeps the timeline entry from the client (a QA review's verdict).
    Where a scorecard applies to the item's service, only a scored review
    (``scored``, from ``relaydesk.quality``) approves it or returns it for rework.
    Raises :class:`NotAllowed`, :class:`Conflict` or :class:`Invalid`; a
    refused action changes nothing.
    """
    if action in (Action.ASSIGN, Action.TAKE):
        raise Invalid("Use assignment to give an item to an agent.")
    if action in NOTE_REQUIRED and not note.strip():
        raise Invalid(NOTE_REQUIRED[action])
    if action in _SCORED_VERDICTS and not scored and _scorecard_applies(item):
        raise Invalid(
            "Reviews of this service are scored: fill in the scorecard to approve the item "
            "or return it for rework."
        )
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, item, at)
        _apply(
            locked,
            actor,
            action,
            at=at,
            note=note.strip(),
            source_ip=source_ip,
            internal=internal,
        )
    return locked


def do_assign(
    actor: User,
    item: WorkItem,
    agent: Agent,
    *,
    note: str = "",
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> WorkItem:
    """Give an item to an agent (an operations lead assigning, or an agent taking it).

    The agent must pass every eligibility rule (skills, certification,
    language, clearance, residency, dedication, capacity).
    """
    at = at or timezone.now()
    action = Action.TAKE if actor.pk == agent.user_id else Action.ASSIGN
    with transaction.atomic():
        locked = _lock(actor, item, at)
        if locked.owner_id == agent.user_id and locked.state_enum is not State.QUEUED:
            raise Conflict(f"{agent.user.full_name} already holds this item.")
        # Decide first so a refused action is reported as such, not as an eligibility problem.
        after = _decide(actor, locked, action)
        # Lock the agent's row too, so two assignments cannot both take their last slot.
        held = Agent.objects.select_for_update(of=("self",)).select_related("user", "site")
        today = timezone.localdate(at)
        profile = agent_profile(held.get(pk=agent.pk), on=today)
        exclusion = first_exclusion(profile, item_needs(locked), today)
        if exclusion is not None:
            raise Conflict(f"{agent.user.full_name} cannot take this item: {exclusion.reason}.")
        _apply(
            locked,
            actor,
            action,
            at=at,
            note=note.strip(),
            new_owner=agent.user,
            source_ip=source_ip,
            decided=after,
        )
    return locked


def _check_visibility(actor: User, visibility: str, what: str) -> None:
    if visibility not in Visibility.values:
        raise Invalid("Visibility must be 'client' or 'internal'.")
    if visibility == Visibility.INTERNAL and not can(actor.role_enum, Permission.POST_INTERNAL):
        raise NotAllowed(f"Your role cannot add internal {what}.")


def do_add_comment(
    actor: User,
    item: WorkItem,
    body: str,
    *,
    visibility: str = Visibility.CLIENT,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Comment:
    """Post a comment; a client's reply to an item waiting on them resumes the work."""
    body = body.strip()
    if not body:
        raise Invalid("A comment cannot be empty.")
    if len(body) > 20_000:
        raise Invalid("A comment is limited to 20,000 characters.")
    _check_visibility(actor, visibility, "comments")
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, item, at)
        comment = Comment.objects.create(
            client_id=locked.client_id,
            item=locked,
            author=actor,
            body=body,
            visibility=visibility,
            created_at=at,
        )
        _event(
            locked,
            actor,
            "commented",
            at=at,
            internal=visibility == Visibility.INTERNAL,
            data={"comment_id": comment.pk},
        )
        record(
            actor=actor,
            action="comment.add",
            obj=comment,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"item": locked.pk, "visibility": visibility},
        )
        item_id = locked.pk
        rowsecurity.on_commit_in_scope(
            lambda: item_commented.send(sender=Comment, item_id=item_id, visibility=visibility)
        )
        if actor.is_client_user and locked.state_enum is State.WAITING_ON_CLIENT:
            _apply(locked, actor, Action.RESUME, at=at, note="The client replied.")
    return comment


def _check_upload(upload: UploadedFile, service: Service) -> Sniffed:
    """Refuse an empty or over-size file, or one whose content the service does not accept."""
    from django.conf import settings

    limit = settings.RELAYDESK_MAX_UPLOAD_BYTES
    if upload.size is None or upload.size == 0:
        raise Invalid(f"The file '{upload.name}' is empty.")
    if upload.size > limit:
        raise Invalid(
            f"The file '{upload.name}' is {upload.size:,} bytes; the limit is {limit:,} bytes."
        )
    try:
        return check_content(
            upload,
            upload.name or "file",
            service.allowed_file_types or [],
            service=f"the service '{service.name}'",
        )
    except ContentRefused as refusal:
        raise Invalid(refusal.message) from refusal


def _store_attachment(
    item: WorkItem, actor: User, upload: UploadedFile, visibility: str, at: dt.datetime
) -> Attachment:
    """Encrypt the upload with the client's data key and store it; name, size and SHA-256
    are the plaintext's, the content type is what the bytes are."""
    found = _check_upload(upload, item.service)
    name = get_valid_filename(upload.name or "file")[:255] or "file"
    encryption_id = uuid.uuid4()
    sealed = seal_upload(upload, client_id=item.client_id, encryption_id=encryption_id, at=at)
    attachment = Attachment(
        client_id=item.client_id,
        item=item,
        uploaded_by=actor,
        original_name=name,
        content_type=found.mime,
        size=sealed.size,
        sha256=sealed.sha256,
        visibility=visibility,
        created_at=at,
        encryption_id=encryption_id,
        key_version=sealed.key_version,
        file_kind=found.kind or "",
    )
    with sealed.content:
        attachment.file.save(name, sealed.content, save=False)
    attachment.save()
    _event(
        item,
        actor,
        "attached",
        at=at,
        note=name,
        internal=visibility == Visibility.INTERNAL,
        data={"attachment_id": attachment.pk},
    )
    return attachment


def do_add_attachment(
    actor: User,
    item: WorkItem,
    upload: UploadedFile,
    *,
    visibility: str = Visibility.CLIENT,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Attachment:
    """Attach a file to an item (the client's material or the provider's deliverable).

    The content is checked against the item's service once the item is known to
    be visible, so a refusal never tells anything about an item one cannot see.
    """
    _check_visibility(actor, visibility, "attachments")
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, item, at)
        if not locked.state_enum.is_open:
            raise Conflict(
                f"The item is {locked.state_enum.label.lower()}; it takes no more files."
            )
        attachment = _store_attachment(locked, actor, upload, visibility, at)
        record(
            actor=actor,
            action="attachment.add",
            obj=attachment,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "item": locked.pk,
                "name": attachment.original_name,
                "size": attachment.size,
                "kind": attachment.file_kind,
            },
        )
    return attachment


def do_record_download(
    actor: User, attachment: Attachment, *, source_ip: str | None = None
) -> None:
    """Write the audit record for a download."""
    record(
        actor=actor,
        action="attachment.download",
        obj=attachment,
        client=attachment.client_id,
        source_ip=source_ip,
        detail={"item": attachment.item_id, "name": attachment.original_name},
    )


@dataclass(frozen=True, slots=True)
class RevealedDetail:
    """A confidential detail with its value decrypted, for the person who revealed it."""

    pk: int
    kind: str
    label: str
    masked: str
    value: str
    kind_label: str

    def get_kind_display(self) -> str:
        """The kind as a person reads it (the same name as the model's, for templates)."""
        return self.kind_label


def do_reveal_sensitive(
    actor: User, item: WorkItem, *, source_ip: str | None = None
) -> list[RevealedDetail]:
    """Decrypt an item's confidential values, and write the reveal to the audit trail.

    Only people who may see the item and whose role may reveal get them; the
    audit record names the details revealed, never their values. A value that
    fails to decrypt (altered, or copied from another detail or client) reveals
    nothing: it raises :class:`CannotDecrypt` (409) and is audited as
    ``sensitive.decrypt_failed``.
    """
    if not can(actor.role_enum, Permission.REVEAL_SENSITIVE):
        raise NotAllowed("Your role cannot reveal confidential details.")
    if not can_see_item(actor, item):
        raise NotFound("No such work item.")
    if can(actor.role_enum, Permission.DO_WORK) and item.owner_id != actor.pk:
        raise NotAllowed("Take the item first to see its confidential details.")
    opener = ValueOpener()
    details: list[RevealedDetail] = []
    for stored in item.sensitive_details.all():
        try:
            value = opener.open(stored)
        except CannotDecrypt as problem:
            do_record_value_decrypt_failure(actor, stored, problem.reason, source_ip=source_ip)
            raise
        details.append(
            RevealedDetail(
                pk=stored.pk,
                kind=stored.kind,
                label=stored.label,
                masked=stored.masked,
                value=value,
                kind_label=stored.get_kind_display(),
            )
        )
    if details:
        record(
            actor=actor,
            action="sensitive.reveal",
            obj=item,
            client=item.client_id,
            source_ip=source_ip,
            detail={"details": [f"{d.label} ({d.kind})" for d in details]},
        )
    return details
