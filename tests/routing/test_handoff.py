"""Handoff at shift end: a relay from one site's shift to the next that loses nothing.

Manila works 09:00-17:00 (01:00-09:00 UTC), Pune 14:00-22:00 (08:30-16:30 UTC)
and Fort Lauderdale 09:00-17:00 (14:00-22:00 UTC), Monday to Friday. The clock
is Tuesday 3 March 2026.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.routing.actions import (
    do_acknowledge_handoff,
    do_claim_next,
    do_hand_off,
    do_hand_off_after_shift_end,
    do_return_stale_handoffs,
    do_set_presence,
)
from relaydesk.routing.models import AgentPresence, Handoff, HandoffState
from relaydesk.routing.queries import handoff_desk
from relaydesk.work.actions import do_assign, do_transition
from relaydesk.work.models import WorkItem
from relaydesk.work.queries import visible_events
from relaydesk.workforce.models import Agent, Site
from tests.conftest import PASSWORD, World, login, make_agent
from tests.routing.conftest import queue, shifts

UTC = dt.UTC
MIN = dt.timedelta(minutes=1)
MORNING = dt.datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 in Manila
NEAR_END = dt.datetime(2026, 3, 3, 8, 40, tzinfo=UTC)  # 16:40 in Manila, 14:10 in Pune
MANILA_ENDS = dt.datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
PUNE_ENDS = dt.datetime(2026, 3, 3, 16, 30, tzinfo=UTC)
FLORIDA_STARTS = dt.datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
SKILLS = {"legal-document-review": 4, "legal-drafting": 4, "data-entry": 4}
WEEKDAYS = range(5)


def _site(code: str, name: str, country: str, zone: str, start: int, end: int) -> Site:
    site, _ = Site.objects.get_or_create(
        code=code, defaults={"name": name, "country": country, "time_zone": zone}
    )
    shifts(site, [(day, dt.time(start), dt.time(end)) for day in WEEKDAYS])
    return site


def _agent(email: str, site: Site, code: str, **fields: object) -> User:
    user = do_create_user(
        None,
        email=email,
        full_name=email.split("@")[0].title(),
        role=Role.AGENT,
        password=PASSWORD,
        time_zone=site.time_zone,
    )
    make_agent(user, site, code=code, skills=fields.pop("skills", SKILLS), **fields)  # type: ignore[arg-type]
    return user


class Relay:
    """The world with three sites in a row and an engagement any of them may deliver."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.manila = _site("mnl", "Manila", "PH", "Asia/Manila", 9, 17)
        self.pune = _site("pnq", "Pune", "IN", "Asia/Kolkata", 14, 22)
        self.florida = _site("fll", "Fort Lauderdale", "US", "America/New_York", 9, 17)
        self.priya = _agent("priya@provider.test", self.pune, "P-001", languages=["en"])
        self.engagement = Engagement.objects.create(
            client=world.client_a,
            name="Follow-the-sun intake",
            time_zone="America/New_York",
            allowed_countries=["PH", "IN", "US"],
            starts_on=dt.date(2026, 1, 1),
        )
        self.engagement.services.set(Service.objects.filter(slug="data-entry"))

    @property
    def maria(self) -> User:
        """The Manila agent who holds the work when the day ends."""
        return self.w.agent

    def in_progress(self, title: str = "Key claim forms", *, at: dt.datetime = MORNING) -> WorkItem:
        """An item Maria took and started in the morning."""
        item = queue(self.w.member_a, self.engagement, at=at - MIN, title=title)
        do_assign(self.maria, item, self.maria.agent, at=at)
        do_transition(self.maria, item, Action.START, at=at + MIN)
        item.refresh_from_db()
        return item


@pytest.fixture
def relay(world: World) -> Relay:
    return Relay(world)


def _alerts() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action="routing.lead_alert").order_by("seq"))


# --- the note ---------------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   \n "])
def test_a_handoff_needs_a_note(relay: Relay, note: str) -> None:
    item = relay.in_progress()
    with pytest.raises(Invalid, match="Write a handoff note"):
        do_hand_off(relay.maria, item, note, at=NEAR_END)
    item.refresh_from_db()
    assert (item.state, item.owner) == (State.IN_PROGRESS.value, relay.maria)
    assert not Handoff.objects.exists()


def test_a_handoff_note_has_a_limit(relay: Relay) -> None:
    item = relay.in_progress()
    with pytest.raises(Invalid, match="limited to 4,000 characters"):
        do_hand_off(relay.maria, item, "x" * 4_001, at=NEAR_END)
    assert not Handoff.objects.exists()


# --- the offer --------------------------------------------------------------------------------


def test_the_item_is_offered_to_an_eligible_agent_of_the_next_shift_at_another_site(
    relay: Relay,
) -> None:
    item = relay.in_progress()

    handoff = do_hand_off(
        relay.maria, item, "  Keyed 30 of 40 forms; the rest are in tray B. ", at=NEAR_END
    )

    assert handoff.to_agent == relay.priya.agent and handoff.from_agent == relay.maria.agent
    assert handoff.state == HandoffState.OFFERED
    assert handoff.note == "Keyed 30 of 40 forms; the rest are in tray B."
    # Pune is on shift when Manila's ends: 30 minutes from then to acknowledge.
    assert handoff.respond_by == MANILA_ENDS + 30 * MIN
    item.refresh_from_db()
    assert (item.state, item.owner) == (State.ASSIGNED.value, relay.priya)
    handed = item.events.get(kind="handed_off")
    assert (handed.actor, handed.note, handed.internal) == (relay.maria, handoff.note, True)
    assert handed.data["owner"] == "Priya" and handed.data["from"] == "Agent"
    record = AuditRecord.objects.get(action="work_item.hand_off")
    assert (record.actor_id, record.detail["to"]) == (relay.maria.pk, relay.priya.agent.pk)
    assert not _alerts()
    # The client sees neither the note nor who holds its work.
    assert "handed_off" not in {e.kind for e in visible_events(relay.w.member_a, item)}


def test_agents_who_may_not_work_the_item_are_never_offered_it(relay: Relay) -> None:
    pune = relay.pune
    _agent("noskill@provider.test", pune, "P-002", skills={"data-entry": 1}, languages=["en"])
    _agent("spanish@provider.test", pune, "P-003", languages=["es"])
    full = _agent("full@provider.test", pune, "P-004", languages=["en"], capacity=1)
    busy = queue(relay.w.member_a, relay.engagement, at=MORNING, title="keeps Full busy")
    do_assign(full, busy, full.agent, at=MORNING)
    relay.priya.agent.delete()  # Pune's only eligible agent has left
    kuala = _site("kul", "Kuala Lumpur", "MY", "Asia/Kuala_Lumpur", 14, 22)  # not allowed
    _agent("kl@provider.test", kuala, "K-001", languages=["en"])
    sam = _agent("sam@provider.test", relay.florida, "F-001", languages=["en"])
    item = relay.in_progress()

    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)

    # Florida starts at 14:00 UTC: the soonest of the agents who may work the item.
    assert handoff.to_agent == sam.agent
    assert handoff.respond_by == FLORIDA_STARTS + 30 * MIN


def test_an_agent_at_capacity_is_passed_over(relay: Relay) -> None:
    relay.priya.agent.capacity = 1
    relay.priya.agent.save()
    busy = queue(relay.w.member_a, relay.engagement, at=MORNING, title="keeps Priya busy")
    do_assign(relay.priya, busy, relay.priya.agent, at=MORNING)
    sam = _agent("sam@provider.test", relay.florida, "F-001", languages=["en"])
    item = relay.in_progress()

    assert do_hand_off(relay.maria, item, "Half done.", at=NEAR_END).to_agent == sam.agent


def test_only_the_holder_hands_an_item_off(relay: Relay) -> None:
    item = relay.in_progress()
    with pytest.raises(NotAllowed, match="Only agents hand off"):
        do_hand_off(relay.w.lead, item, "note", at=NEAR_END)
    with pytest.raises(NotFound):
        do_hand_off(relay.w.other_agent, item, "note", at=NEAR_END)
    with pytest.raises(NotAllowed, match="Only agents hand off"):
        do_hand_off(relay.w.member_a, item, "note", at=NEAR_END)
    assert not Handoff.objects.exists()


def test_an_item_waiting_on_the_client_stays_until_the_client_replies(relay: Relay) -> None:
    item = relay.in_progress()
    do_transition(
        relay.maria, item, Action.WAIT_ON_CLIENT, note="Which tray?", at=MORNING + 5 * MIN
    )
    with pytest.raises(Conflict, match="waiting on the client"):
        do_hand_off(relay.maria, item, "note", at=NEAR_END)


# --- acknowledgement --------------------------------------------------------------------------


def test_acknowledging_gives_the_next_agent_the_item(relay: Relay) -> None:
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)

    done = do_acknowledge_handoff(relay.priya, handoff, at=MANILA_ENDS + 5 * MIN)

    assert (done.state, done.acknowledged_at) == (HandoffState.ACKNOWLEDGED, MANILA_ENDS + 5 * MIN)
    item.refresh_from_db()
    assert item.owner == relay.priya
    event = item.events.get(kind="handoff_acknowledged")
    assert (event.actor, event.note) == (relay.priya, "Priya took over from Agent.")
    assert AuditRecord.objects.filter(action="work_item.acknowledge_handoff").count() == 1
    # Priya works it from here.
    do_transition(relay.priya, item, Action.START, at=MANILA_ENDS + 6 * MIN)
    with pytest.raises(Conflict, match="already acknowledged"):
        do_acknowledge_handoff(relay.priya, handoff, at=MANILA_ENDS + 7 * MIN)


def test_only_the_offered_agent_may_acknowledge(relay: Relay) -> None:
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)

    with pytest.raises(NotAllowed, match="offered to Priya"):
        do_acknowledge_handoff(relay.maria, handoff, at=MANILA_ENDS)
    with pytest.raises(NotFound):
        do_acknowledge_handoff(relay.w.other_agent, handoff, at=MANILA_ENDS)
    for outsider in (relay.w.lead, relay.w.member_a, relay.w.qa):
        with pytest.raises(NotAllowed, match="Only agents acknowledge"):
            do_acknowledge_handoff(outsider, handoff, at=MANILA_ENDS)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.OFFERED


def test_acknowledging_respects_capacity(relay: Relay) -> None:
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)
    # Meanwhile a lead gives Priya more than she may hold.
    for n in range(3):
        extra = queue(relay.w.member_a, relay.engagement, at=NEAR_END, title=f"extra {n}")
        if n < 2:
            do_assign(relay.w.lead, extra, relay.priya.agent, at=NEAR_END + MIN)
    relay.priya.agent.capacity = 2
    relay.priya.agent.save()

    with pytest.raises(Conflict, match="You hold 3 items and may hold 2"):
        do_acknowledge_handoff(relay.priya, handoff, at=MANILA_ENDS)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.OFFERED


# --- not acknowledged -------------------------------------------------------------------------


def test_a_stale_offer_returns_to_the_front_of_the_queue_and_the_next_get_next_gets_it_first(
    relay: Relay,
) -> None:
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done; tray B left.", at=NEAR_END)
    # Older and more urgent work waits in the queue.
    urgent = queue(relay.w.member_a, relay.engagement, at=MORNING, title="urgent", priority=4)
    early = do_return_stale_handoffs(at=handoff.respond_by - MIN)
    assert early.returned == 0

    sweep = do_return_stale_handoffs(at=handoff.respond_by + MIN)

    assert sweep.returned == 1
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.RETURNED
    assert handoff.return_reason == "Not acknowledged by Priya by 09:30 UTC"
    item.refresh_from_db()
    assert (item.state, item.owner, item.queue_front) == (State.QUEUED.value, None, True)
    [alert] = _alerts()
    assert alert.detail["item"] == item.reference and alert.detail["reason"] == (
        "handoff not acknowledged"
    )
    # Too late to acknowledge now.
    with pytest.raises(Conflict, match=r"closed \(not acknowledged by Priya"):
        do_acknowledge_handoff(relay.priya, handoff, at=handoff.respond_by + 2 * MIN)
    # The next "Get next" gets it first, ahead of the urgent item.
    ravi = _agent("ravi@provider.test", relay.pune, "P-005", languages=["en"])
    do_set_presence(ravi, "available", at=handoff.respond_by)
    claim = do_claim_next(ravi, at=handoff.respond_by + 2 * MIN)
    assert claim.item == item
    assert do_claim_next(ravi, at=handoff.respond_by + 3 * MIN).item == urgent


def test_whoever_gets_a_returned_item_takes_it_off_the_front(
    relay: Relay, django_capture_on_commit_callbacks: object
) -> None:
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)
    do_return_stale_handoffs(at=handoff.respond_by + MIN)
    do_set_presence(relay.priya, "available", at=handoff.respond_by)

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert do_claim_next(relay.priya, at=handoff.respond_by + 2 * MIN).item == item

    item.refresh_from_db()
    assert not item.queue_front


def test_an_offer_whose_agent_started_the_work_counts_as_taken_up(relay: Relay) -> None:
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)
    do_transition(relay.priya, item, Action.START, at=MANILA_ENDS + MIN)

    sweep = do_return_stale_handoffs(at=handoff.respond_by + MIN)

    assert (sweep.returned, sweep.taken_up) == (0, 1)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ACKNOWLEDGED
    item.refresh_from_db()
    assert (item.state, item.owner) == (State.IN_PROGRESS.value, relay.priya)
    assert not _alerts()


def test_with_nobody_eligible_on_the_next_shift_the_item_goes_to_the_front_with_its_note(
    relay: Relay,
) -> None:
    relay.priya.agent.delete()
    # The other Manila agent, back tomorrow morning, would be next: they have left too.
    relay.w.other_agent.is_active = False
    relay.w.other_agent.save()
    item = relay.in_progress()

    handoff = do_hand_off(relay.maria, item, "Keyed 30 of 40.", at=NEAR_END)

    assert (handoff.to_agent, handoff.state) == (None, HandoffState.RETURNED)
    assert handoff.return_reason == "Nobody eligible on the next shift."
    item.refresh_from_db()
    assert (item.state, item.owner, item.queue_front) == (State.QUEUED.value, None, True)
    kinds = list(item.events.values_list("kind", flat=True))
    assert kinds[-4:] == ["handed_off", "handoff_returned", "assign", "release"]
    assert item.events.get(kind="handed_off").note == "Keyed 30 of 40."
    [alert] = _alerts()
    assert alert.detail["reason"] == "nobody eligible is on the next shift"


# --- nothing dropped when an agent simply leaves ----------------------------------------------


def test_going_offline_hands_off_every_item_held_without_a_note(relay: Relay) -> None:
    first = relay.in_progress("first")
    second = relay.in_progress("second", at=MORNING + 10 * MIN)
    do_set_presence(relay.maria, "available", at=MORNING)
    waiting = relay.in_progress("waiting")
    do_transition(
        relay.maria, waiting, Action.WAIT_ON_CLIENT, note="Which tray?", at=MORNING + 5 * MIN
    )

    # Ten minutes before the end of the shift: Pune is on shift, Manila's other agent is not
    # for long enough.
    do_set_presence(relay.maria, "offline", at=MANILA_ENDS - 10 * MIN)

    for item in (first, second):
        item.refresh_from_db()
        assert (item.state, item.owner) == (State.ASSIGNED.value, relay.priya)
        handoff = item.handoffs.get()
        assert handoff.note.startswith(
            "Agent went offline without a handoff note; last update: work started by Agent, "
        )
        assert handoff.from_agent == relay.maria.agent
    assert len(_alerts()) == 2 and {a.detail["reason"] for a in _alerts()} == {"went offline"}
    waiting.refresh_from_db()
    assert (waiting.state, waiting.owner) == (State.WAITING_ON_CLIENT.value, relay.maria)


def test_signing_out_hands_off_what_the_agent_holds(relay: Relay) -> None:
    # Pune works around the clock here, so whenever the test runs, it is on shift.
    relay.pune.shifts.all().delete()
    shifts(relay.pune, [(day, dt.time(0), dt.time(0)) for day in range(7)], name="all day")
    item = relay.in_progress()
    do_set_presence(relay.maria, "available", at=MORNING)
    # The other Manila agent has left, so Pune takes over even during Manila's day.
    User.objects.filter(pk=relay.w.other_agent.pk).update(is_active=False)
    browser = login(relay.maria)

    assert browser.post("/accounts/logout/").status_code == 302

    item.refresh_from_db()
    assert item.owner == relay.priya
    assert item.handoffs.get().note.startswith("Agent signed out without a handoff note")
    assert AgentPresence.objects.get(agent=relay.maria.agent).status == "offline"
    assert _alerts()[0].detail["reason"] == "signed out"


def test_items_of_an_agent_whose_shift_ended_are_handed_off_after_a_grace(relay: Relay) -> None:
    item = relay.in_progress()
    # Work the other Manila agent got after their shift ended is not theirs to hand off yet.
    late = queue(relay.w.member_a, relay.engagement, at=MANILA_ENDS + MIN, title="late")
    do_assign(relay.w.lead, late, relay.w.other_agent.agent, at=MANILA_ENDS + 5 * MIN)

    assert do_hand_off_after_shift_end(at=MANILA_ENDS + 10 * MIN).handed_off == 0
    sweep = do_hand_off_after_shift_end(at=MANILA_ENDS + 16 * MIN)

    assert sweep.handed_off == 1
    item.refresh_from_db()
    assert item.owner == relay.priya
    assert item.handoffs.get().note.startswith(
        "Agent's shift at Manila ended at 17:00 local time without a handoff note; last update:"
    )
    late.refresh_from_db()
    assert late.owner == relay.w.other_agent
    assert [a.detail["reason"] for a in _alerts()] == ["shift ended"]
    # An item with an open offer is left to the stale sweep.
    assert do_hand_off_after_shift_end(at=MANILA_ENDS + 20 * MIN).handed_off == 0


# --- the whole relay --------------------------------------------------------------------------


def test_the_timeline_shows_the_whole_relay(relay: Relay) -> None:
    sam = _agent("sam@provider.test", relay.florida, "F-001", languages=["en"])
    item = relay.in_progress()
    first = do_hand_off(relay.maria, item, "Manila: 30 of 40 keyed.", at=NEAR_END)
    do_acknowledge_handoff(relay.priya, first, at=MANILA_ENDS + 2 * MIN)
    do_transition(relay.priya, item, Action.START, at=MANILA_ENDS + 3 * MIN)
    second = do_hand_off(
        relay.priya, item, "Pune: 38 of 40; two illegible.", at=PUNE_ENDS - 20 * MIN
    )
    assert second.to_agent == sam.agent and second.respond_by == PUNE_ENDS + 30 * MIN
    do_return_stale_handoffs(at=PUNE_ENDS + 31 * MIN)

    events = [
        (e.kind, e.actor.full_name if e.actor else "Relaydesk", e.note)
        for e in item.events.order_by("at", "id")
        if e.kind not in ("submitted", "queue")
    ]
    assert events == [
        ("take", "Agent", ""),
        ("start", "Agent", ""),
        ("handed_off", "Agent", "Manila: 30 of 40 keyed."),
        ("assign", "Relaydesk", "Handed off by Agent; waiting for Priya to acknowledge."),
        ("handoff_acknowledged", "Priya", "Priya took over from Agent."),
        ("start", "Priya", ""),
        ("handed_off", "Priya", "Pune: 38 of 40; two illegible."),
        ("assign", "Relaydesk", "Handed off by Priya; waiting for Sam to acknowledge."),
        (
            "handoff_returned",
            "Relaydesk",
            "Not acknowledged by Sam by 17:00 UTC: back at the front of the queue, with the "
            "note; the lead was alerted.",
        ),
        (
            "release",
            "Relaydesk",
            "Not acknowledged by Sam by 17:00 UTC; back at the front of the queue.",
        ),
    ]
    item.refresh_from_db()
    assert item.state == State.QUEUED.value and item.queue_front
    page = login(relay.w.lead).get(f"/items/{item.pk}/").content.decode()
    for text in (
        "Handed off",
        "Manila: 30 of 40 keyed.",
        "Handoff acknowledged",
        "Handoff returned",
    ):
        assert text in page


# --- the API ----------------------------------------------------------------------------------


def _api(user: User) -> HttpClient:
    from relaydesk.accounts.actions import do_create_api_token
    from tests.conftest import with_authenticator

    # Provider staff need an authenticator app before their tokens work.
    _, secret = do_create_api_token(with_authenticator(user), name="handoff test")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_handing_off_and_acknowledging_over_the_api(relay: Relay) -> None:
    relay.pune.shifts.all().delete()
    shifts(relay.pune, [(day, dt.time(0), dt.time(0)) for day in range(7)], name="all day")
    item = relay.in_progress()
    maria, priya = _api(relay.maria), _api(relay.priya)
    url = f"/api/v1/work-items/{item.pk}/handoff"

    refused = maria.post(url, {"note": " "}, content_type="application/json")
    assert refused.status_code == 422 and "Write a handoff note" in refused.json()["detail"]
    assert priya.post(url, {"note": "x"}, content_type="application/json").status_code == 404

    given = maria.post(url, {"note": "Half done."}, content_type="application/json")
    assert given.status_code == 201, given.content
    body = given.json()
    assert (body["state"], body["to_agent"]["name"], body["to_agent"]["site"]) == (
        "offered",
        "Priya",
        "Pune",
    )
    mine = priya.get("/api/v1/agents/me/handoffs").json()
    assert [h["id"] for h in mine["to_me"]] == [body["id"]] and mine["to_me"][0][
        "note"
    ] == "Half done."
    assert maria.get("/api/v1/agents/me/handoffs").json()["from_me"][0]["id"] == body["id"]

    ack = f"/api/v1/handoffs/{body['id']}/acknowledge"
    assert maria.post(ack).status_code == 403
    assert _api(relay.w.other_agent).post(ack).status_code == 404
    assert _api(relay.w.member_a).post(ack).status_code == 404
    taken = priya.post(ack)
    assert taken.status_code == 200 and taken.json()["state"] == "acknowledged"
    assert priya.post(ack).status_code == 409
    assert _api(relay.w.member_a).get("/api/v1/agents/me/handoffs").status_code == 403


# --- the workspace ----------------------------------------------------------------------------


def test_the_workspace_asks_for_handoffs_near_shift_end_and_lists_what_was_handed_over(
    relay: Relay,
) -> None:
    from django.utils import timezone

    from relaydesk.workforce.models import ShiftException, ShiftExceptionKind

    now = timezone.now()
    # Maria's shift today: overtime that ends in 25 minutes; Pune never closes.
    relay.manila.shifts.all().delete()
    ShiftException.objects.create(
        site=relay.manila,
        kind=ShiftExceptionKind.OVERTIME,
        name="Late shift",
        agent=relay.maria.agent,
        starts_at=now - dt.timedelta(hours=7),
        ends_at=now + 25 * MIN,
    )
    relay.pune.shifts.all().delete()
    shifts(relay.pune, [(day, dt.time(0), dt.time(0)) for day in range(7)], name="all day")
    item = relay.in_progress(at=now - dt.timedelta(hours=2))
    maria = login(relay.maria)

    page = maria.get("/workspace/").content.decode()
    assert "Your shift ends at" in page
    assert "(in 24 min)" in page or "(in 25 min)" in page
    assert "hand off your 1 item" in page

    refused = maria.post(f"/workspace/items/{item.pk}/handoff/", {"note": ""})
    assert refused.status_code == 422 and "Write a handoff note" in refused.content.decode()

    done = maria.post(f"/workspace/items/{item.pk}/handoff/", {"note": "Tray B left."}, follow=True)
    assert "handed to Priya (Pune)" in done.content.decode()

    priya = login(relay.priya)
    waiting = priya.get("/workspace/").content.decode()
    assert "Handed to you — acknowledge" in waiting and "Tray B left." in waiting
    handoff = Handoff.objects.get()
    opened = priya.post(f"/workspace/handoffs/{handoff.pk}/acknowledge/", follow=True)
    assert opened.redirect_chain[-1][0] == f"/items/{item.pk}/"
    assert "Handoff acknowledged" in opened.content.decode()
    assert (
        login(relay.w.other_agent)
        .post(f"/workspace/handoffs/{handoff.pk}/acknowledge/")
        .status_code
        == 404
    )
    agent_ids = set(Agent.objects.values_list("pk", flat=True))
    assert relay.priya.agent.pk in agent_ids


def test_the_workspace_says_why_an_item_waiting_on_the_client_is_not_handed_off(
    relay: Relay,
) -> None:
    item = relay.in_progress()
    do_transition(relay.maria, item, Action.WAIT_ON_CLIENT, note="Which tray?", at=MORNING + MIN)

    page = login(relay.maria).post(f"/workspace/items/{item.pk}/handoff/", {"note": "Left: all"})

    assert page.status_code == 409
    assert f"{item.reference} is waiting on the client: it stays with you" in page.content.decode()
    assert not Handoff.objects.exists()


# --- what a review found ----------------------------------------------------------------------


def _nobody_next(relay: Relay) -> None:
    """Nobody may take Maria's work over: Pune's agent and Manila's other agent have left."""
    relay.priya.agent.delete()
    relay.w.other_agent.is_active = False
    relay.w.other_agent.save()


def test_work_in_progress_sent_to_the_front_keeps_its_place_once_committed(
    relay: Relay, django_capture_on_commit_callbacks: Any
) -> None:
    _nobody_next(relay)
    item = relay.in_progress()

    with django_capture_on_commit_callbacks(execute=True):
        do_hand_off(relay.maria, item, "Keyed 30 of 40.", at=NEAR_END)

    item.refresh_from_db()
    assert (item.state, item.owner, item.queue_front) == (State.QUEUED.value, None, True)


def test_with_push_on_arrival_a_returned_offer_goes_to_someone_else(
    relay: Relay, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.RELAYDESK_PUSH_ON_ARRIVAL = True
    item = relay.in_progress()
    handoff = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)
    # Priya, who let the offer lapse, has been idle longest; Ravi came on later.
    do_set_presence(relay.priya, "available", at=NEAR_END + MIN)
    ravi = _agent("ravi@provider.test", relay.pune, "P-005", languages=["en"])
    do_set_presence(ravi, "available", at=handoff.respond_by - 5 * MIN)

    with django_capture_on_commit_callbacks(execute=True):
        assert do_return_stale_handoffs(at=handoff.respond_by + MIN).returned == 1

    item.refresh_from_db()
    assert (item.state, item.owner, item.queue_front) == (State.ASSIGNED.value, ravi, False)


def test_with_push_on_arrival_work_nobody_could_take_over_does_not_go_back_to_its_giver(
    relay: Relay, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.RELAYDESK_PUSH_ON_ARRIVAL = True
    _nobody_next(relay)
    item = relay.in_progress()
    do_set_presence(relay.maria, "available", at=MORNING)

    with django_capture_on_commit_callbacks(execute=True):
        do_hand_off(relay.maria, item, "Keyed 30 of 40.", at=NEAR_END)

    item.refresh_from_db()
    assert (item.state, item.owner, item.queue_front) == (State.QUEUED.value, None, True)


def test_the_agent_an_item_is_handed_to_counts_as_busy(relay: Relay) -> None:
    do_set_presence(relay.priya, "available", at=MORNING)
    item = relay.in_progress()

    do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)

    assert AgentPresence.objects.get(agent=relay.priya.agent).idle_since == NEAR_END


def test_an_offer_a_lead_overrode_does_not_stop_the_new_holder_handing_off(relay: Relay) -> None:
    sam = _agent("sam@provider.test", relay.florida, "F-001", languages=["en"])
    dana = _agent("dana@provider.test", relay.pune, "P-006", languages=["en"])
    item = relay.in_progress()
    dead = do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)
    do_assign(relay.w.lead, item, dana.agent, at=NEAR_END + MIN)

    # Dana sees the item among those to hand off; Priya no longer sees an offer.
    assert [i.pk for i in handoff_desk(dana, at=NEAR_END + 2 * MIN).items] == [item.pk]
    assert handoff_desk(relay.priya, at=NEAR_END + 2 * MIN).to_me == ()
    handoff = do_hand_off(dana, item, "Dana: nearly done.", at=NEAR_END + 2 * MIN)

    assert (handoff.to_agent, handoff.state) == (sam.agent, HandoffState.OFFERED)
    dead.refresh_from_db()
    assert dead.state == HandoffState.RETURNED
    assert dead.return_reason == "Reassigned to Dana before it was acknowledged."
    closed = AuditRecord.objects.get(action="work_item.handoff_closed")
    assert closed.detail["handoff"] == dead.pk and closed.detail["owner"] == "Dana"


def test_the_shift_end_sweep_hands_off_an_item_whose_offer_a_lead_overrode(
    relay: Relay,
) -> None:
    sam = _agent("sam@provider.test", relay.florida, "F-001", languages=["en"])
    dana = _agent("dana@provider.test", relay.pune, "P-006", languages=["en"])
    item = relay.in_progress()
    do_hand_off(relay.maria, item, "Half done.", at=NEAR_END)
    do_assign(relay.w.lead, item, dana.agent, at=NEAR_END + MIN)

    sweep = do_hand_off_after_shift_end(at=PUNE_ENDS + 16 * MIN)

    assert sweep.handed_off == 1
    item.refresh_from_db()
    assert item.owner == sam
    assert list(item.handoffs.values_list("state", flat=True).order_by("created_at")) == [
        HandoffState.RETURNED,
        HandoffState.OFFERED,
    ]


def test_items_of_a_deactivated_agent_are_handed_off(relay: Relay) -> None:
    item = relay.in_progress()
    relay.maria.is_active = False
    relay.maria.save()

    sweep = do_hand_off_after_shift_end(at=MORNING + 10 * MIN)

    assert sweep.handed_off == 1
    item.refresh_from_db()
    # Manila's other agent is on shift now.
    assert item.owner == relay.w.other_agent
    assert item.handoffs.get().note.startswith(
        "Agent's account was deactivated without a handoff note; last update:"
    )
    assert [a.detail["reason"] for a in _alerts()] == ["account deactivated"]


def test_the_stale_sweep_records_every_outcome(relay: Relay) -> None:
    started = relay.in_progress("started")
    waiting = relay.in_progress("waiting")
    moved = relay.in_progress("moved")
    offers = [do_hand_off(relay.maria, i, "Half done.", at=NEAR_END) for i in (started, waiting)]
    moved_offer = do_hand_off(relay.maria, moved, "Half done.", at=NEAR_END)
    do_transition(relay.priya, started, Action.START, at=MANILA_ENDS + MIN)
    do_transition(relay.priya, waiting, Action.START, at=MANILA_ENDS + MIN)
    do_transition(
        relay.priya, waiting, Action.WAIT_ON_CLIENT, note="Which tray?", at=MANILA_ENDS + 2 * MIN
    )
    do_assign(relay.w.lead, moved, relay.w.other_agent.agent, at=MANILA_ENDS + 3 * MIN)

    sweep = do_return_stale_handoffs(at=MANILA_ENDS + 31 * MIN)

    assert (sweep.returned, sweep.taken_up, sweep.closed) == (0, 2, 1)
    for offer in offers:
        offer.refresh_from_db()
        assert offer.state == HandoffState.ACKNOWLEDGED
    taken = AuditRecord.objects.filter(action="work_item.handoff_taken_up")
    assert sorted(r.detail["handoff"] for r in taken) == sorted(o.pk for o in offers)
    closed = AuditRecord.objects.get(action="work_item.handoff_closed")
    assert closed.detail["handoff"] == moved_offer.pk
    waiting.refresh_from_db()
    assert (waiting.state, waiting.owner) == (State.WAITING_ON_CLIENT.value, relay.priya)
