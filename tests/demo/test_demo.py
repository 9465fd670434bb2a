"""Given a small demo load, what a person signing in would notice."""

from __future__ import annotations

import datetime as dt
import itertools
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.urls import reverse

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.eligibility import first_exclusion
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.demo.builder import DEMO_LOGINS, DEMO_PASSWORD, DemoSummary
from relaydesk.quality.models import (
    Dispute,
    DisputeState,
    Review,
    SamplingRule,
    Scorecard,
    ScorecardVersion,
)
from relaydesk.routing.models import Handoff, HandoffState
from relaydesk.vault.actions import plaintext_of
from relaydesk.work.models import Attachment, WorkItem, WorkItemEvent
from relaydesk.work.queries import item_needs, visible_work_items
from relaydesk.workforce.models import Agent, ShiftPattern, Site
from relaydesk.workforce.queries import HOLDING_STATES, agent_profile
from tests.conftest import login

from .conftest import NOW

pytestmark = pytest.mark.django_db

ROLE_BY_LABEL = {role.label: role for role in Role}
OPEN_STATES = {
    State.QUEUED,
    State.ASSIGNED,
    State.IN_PROGRESS,
    State.WAITING_ON_CLIENT,
    State.IN_REVIEW,
    State.REWORK,
    State.DELIVERED,
}


def test_fixed_logins_exist_with_their_roles_and_the_demo_password(small_demo: DemoSummary):
    emails = {email for _, _, email in DEMO_LOGINS}
    assert {
        "admin@relaydesk.test",
        "lead@relaydesk.test",
        "agent@relaydesk.test",
        "qa@relaydesk.test",
        "attorney@relaydesk.test",
        "analyst@relaydesk.test",
        "dana@hartwell-cole.test",
        "paul@hartwell-cole.test",
        "admin@northwind.test",
        "member@northwind.test",
        "admin@brightpath.test",
        "member@brightpath.test",
        "admin@meridian.test",
        "member@meridian.test",
    } == emails
    for label, name, email in DEMO_LOGINS:
        user = User.objects.select_related("client").get(email=email)
        assert user.full_name == name
        assert user.role == ROLE_BY_LABEL[label.split(",")[0]].value
        assert user.is_active
        assert user.check_password(DEMO_PASSWORD), email
        if user.is_client_user:
            assert user.client is not None
            assert email.split("@")[1] == f"{user.client.slug}.test"
    admin = User.objects.get(email="admin@relaydesk.test")
    assert admin.is_staff and admin.role == Role.PROVIDER_ADMIN
    assert User.objects.get(email="dana@hartwell-cole.test").role == Role.CLIENT_ADMIN
    assert User.objects.get(email="paul@hartwell-cole.test").role == Role.CLIENT_MEMBER
    assert User.objects.get(email="analyst@relaydesk.test").role == Role.SENIOR_ANALYST


def test_four_sites_follow_the_sun_with_about_sixty_agents(small_demo: DemoSummary):
    sites = {site.name: site for site in Site.objects.all()}
    assert set(sites) == {"Manila", "Karachi", "Pune", "Tampa"}
    assert sites["Tampa"].is_onshore and not sites["Manila"].is_onshore
    assert sites["Pune"].time_zone == "Asia/Kolkata"
    night = ShiftPattern.objects.get(site=sites["Manila"], name="Night", weekday=0)
    assert (night.starts_at, night.ends_at) == (dt.time(21), dt.time(6)) and night.crosses_midnight
    assert not ShiftPattern.objects.filter(site=sites["Tampa"], weekday__gte=5).exists()
    assert Agent.objects.count() == small_demo.agents
    assert 55 <= small_demo.agents <= 65
    for agent in Agent.objects.select_related("user", "site"):
        assert agent.user.role == Role.AGENT
        assert agent.user.time_zone == agent.site.time_zone
        assert 2 <= agent.capacity <= 5
        assert "en" in agent.languages
    languages = {
        site: [set(a.languages) for a in Agent.objects.filter(site__name=site)]
        for site in ("Karachi", "Pune", "Manila", "Tampa")
    }
    assert all("ur" in spoken for spoken in languages["Karachi"])
    assert all("hi" in spoken for spoken in languages["Pune"] if len(spoken) > 1)
    assert any("es" in spoken for spoken in languages["Manila"])
    assert any("es" in spoken for spoken in languages["Tampa"])
    lead = User.objects.get(email="lead@relaydesk.test")
    assert lead.time_zone == "Asia/Manila"
    assert set(
        User.objects.filter(role=Role.SUPERVISING_ATTORNEY).values_list("time_zone", flat=True)
    ) == {"America/New_York"}
    # KPO work is reviewed where its expert teams sit.
    assert set(
        User.objects.filter(role=Role.SENIOR_ANALYST).values_list("time_zone", flat=True)
    ) == {"Asia/Kolkata", "America/New_York"}


def test_four_clients_with_their_engagements(small_demo: DemoSummary):
    clients = {c.slug: c for c in Client.objects.all()}
    assert set(clients) == {"hartwell-cole", "northwind", "brightpath", "meridian"}
    assert clients["hartwell-cole"].name == "Hartwell & Cole Injury Law"
    services = {
        e.client.slug: set(e.services.values_list("slug", flat=True))
        for e in Engagement.objects.select_related("client")
    }
    assert services == {
        "hartwell-cole": {"document-processing", "e-filing", "legal-drafting"},
        "northwind": {"customer-support", "data-entry"},
        "brightpath": {"payroll", "hr-administration"},
        "meridian": {"market-research", "financial-analysis"},
    }
    hartwell = Engagement.objects.get(client__slug="hartwell-cole")
    assert hartwell.required_certification is not None
    assert hartwell.required_certification.code == "pip-no-fault"
    assert hartwell.allowed_countries == ["US", "PH", "IN"]
    assert hartwell.coverage == "business_hours" and hartwell.pricing_basis == "per_item"
    assert Engagement.objects.get(client__slug="northwind").coverage == "24x7"
    brightpath = Engagement.objects.get(client__slug="brightpath")
    assert brightpath.pricing_basis == "per_fte" and brightpath.time_zone == "America/Chicago"
    dedicated = list(brightpath.dedicated_agents.select_related("site"))
    assert len(dedicated) == 3
    for agent in dedicated:
        skills = agent_profile(agent).skills
        assert skills["payroll-processing"] >= 3 and skills["hr-operations"] >= 3
        assert agent.site.country in brightpath.allowed_countries
    assert set(
        WorkItem.objects.filter(client__slug="hartwell-cole").values_list("jurisdiction", flat=True)
    ) <= {"US-FL", "US-NY", "US-MI"}


def test_the_demo_agent_can_work_hartwell_fl_reviews_and_northwind_support(
    small_demo: DemoSummary,
):
    agent = Agent.objects.select_related("user", "site").get(user__email="agent@relaydesk.test")
    assert agent.site.name == "Manila" and agent.capacity == 5
    assert set(agent.languages) == {"en", "es"}
    profile = agent_profile(agent)
    assert {"phi", "privileged"} <= profile.clearances
    fl_review = WorkItem.objects.filter(
        client__slug="hartwell-cole", service__slug="document-processing", jurisdiction="US-FL"
    ).first()
    support = WorkItem.objects.filter(
        client__slug="northwind", service__slug="customer-support", language="en"
    ).first()
    assert fl_review is not None and support is not None
    for item in (fl_review, support):
        assert first_exclusion(profile, item_needs(item), NOW.date(), check_capacity=False) is None
    assert WorkItem.objects.filter(owner=agent.user).exists()
    assert visible_work_items(agent.user).filter(state=State.QUEUED).exists()


def test_every_timeline_starts_with_submission_and_ends_in_the_items_state(
    small_demo: DemoSummary,
):
    events: dict[int, list[WorkItemEvent]] = {}
    for event in WorkItemEvent.objects.order_by("item_id", "at", "id"):
        events.setdefault(event.item_id, []).append(event)
    items = list(WorkItem.objects.all())
    assert len(items) == small_demo.items > 100
    for item in items:
        timeline = events[item.pk]
        assert timeline[0].kind == "submitted", item.title
        assert item.created_at == timeline[0].at
        assert all(a.at <= b.at for a, b in itertools.pairwise(timeline))
        assert all(e.at <= NOW for e in timeline)
        state = ""
        for event in timeline:
            if event.to_state:
                assert event.from_state == state, (item.title, event.kind)
                state = event.to_state
        assert state == item.state, item.title


def test_reviews_are_by_the_right_role_and_never_by_whoever_did_the_work(
    small_demo: DemoSummary,
):
    reviews = WorkItemEvent.objects.filter(
        kind__in=[Action.APPROVE.value, Action.RETURN_FOR_REWORK.value]
    ).select_related("actor", "item__service")
    assert reviews.exists()
    for review in reviews:
        assert review.actor is not None
        wanted = review.item.service.review_role or Role.QA_REVIEWER.value
        assert review.actor.role == wanted
        workers = review.item.events.filter(kind__in=["start", "complete"])
        assert not workers.filter(actor=review.actor).exists()
    # Meridian's research and analysis is signed off by senior analysts, never QA reviewers.
    kpo = reviews.filter(item__service__line__code="KPO")
    assert kpo.exists()
    assert set(kpo.values_list("actor__role", flat=True)) == {Role.SENIOR_ANALYST.value}


def test_no_agent_holds_more_than_their_capacity(small_demo: DemoSummary):
    held = (
        WorkItem.objects.filter(state__in=HOLDING_STATES)
        .values_list("owner__email")
        .annotate(n=Count("id"))
    )
    capacity = dict(Agent.objects.values_list("user__email", "capacity"))
    assert held
    for email, load in held:
        assert load <= capacity[email], email


def test_recent_work_is_left_in_every_open_state(small_demo: DemoSummary):
    states = {State(s) for s in WorkItem.objects.values_list("state", flat=True)}
    assert states >= OPEN_STATES
    assert State.ACCEPTED in states
    held = WorkItem.objects.filter(state__in=["assigned", "in_progress", "rework"])
    assert not held.filter(owner__isnull=True).exists()
    waiting = WorkItem.objects.filter(state=State.WAITING_ON_CLIENT).first()
    assert waiting is not None and waiting.events.filter(kind="wait_on_client").exclude(note="")


def test_items_read_like_real_requests(small_demo: DemoSummary, settings, demo_media: Path):
    items = WorkItem.objects.all()
    hartwell = items.filter(client__slug="hartwell-cole")
    assert hartwell.filter(Q(title__contains="claimant") | Q(title__contains=" v. ")).exists()
    assert items.filter(client__slug="northwind", title__contains="order #").exists()
    assert not items.filter(Q(title="") | Q(description="") | Q(external_ref="")).exists()
    assert items.filter(due_at__isnull=False).exists()
    assert {p for p in items.values_list("priority", flat=True)} >= {1, 2, 3}
    counts = dict(items.values_list("client__slug").annotate(n=Count("id")))
    assert counts["northwind"] > counts["meridian"]
    settings.MEDIA_ROOT = demo_media
    settings.RELAYDESK_MASTER_KEY_FILE = str(demo_media / "master.key")
    attachments = list(Attachment.objects.all())
    assert attachments
    for attachment in attachments:
        head = next(plaintext_of(attachment))[:4]
        assert attachment.size > 0
        if attachment.content_type == "application/pdf":
            assert head == b"%PDF"
    assert items.filter(Q(comments__visibility="internal")).exists()
    assert items.filter(Q(comments__visibility="client")).exists()


def test_loading_twice_is_refused_unless_if_empty(small_demo: DemoSummary):
    out = StringIO()
    call_command("demo", "--if-empty", stdout=out)
    text = out.getvalue()
    assert "Demo already loaded." in text
    assert "agent@relaydesk.test" in text and DEMO_PASSWORD in text
    with pytest.raises(CommandError, match="fresh database"):
        call_command("demo", stdout=StringIO())


def test_agents_leaving_their_shift_have_handed_over_work_in_progress(small_demo: DemoSummary):
    offers = list(
        Handoff.objects.filter(state=HandoffState.OFFERED).select_related(
            "item", "from_agent__site", "to_agent__user"
        )
    )
    assert offers, "the demo's shift change hands over work"
    for offer in offers:
        assert offer.note.startswith("Done: ")
        assert offer.to_agent is not None and offer.item.owner_id == offer.to_agent.user_id
        assert offer.item.state == State.ASSIGNED
        assert offer.respond_by > small_demo.now
        # The relay's last steps (the SLA watch may have spoken since).
        kinds = [
            k for k in offer.item.events.values_list("kind", flat=True) if not k.startswith("sla_")
        ]
        assert kinds[-2:] == ["handed_off", Action.ASSIGN.value]


# --------------------------------------------------------------------------- quality


def test_every_service_is_scored_on_a_scorecard_with_a_critical_criterion(
    small_demo: DemoSummary,
):
    cards = list(Scorecard.objects.select_related("service").prefetch_related("versions"))
    scoped = {card.service.slug for card in cards if card.service is not None}
    offered = set(Engagement.objects.values_list("services__slug", flat=True))
    # Every service the clients buy has a card of its own but one, scored on the general card.
    assert len(offered - scoped) == 1
    assert [card.name for card in cards if card.service is None] == ["General work quality"]
    with_bonus = 0
    for card in cards:
        latest = card.latest_version()
        assert latest is not None
        core = latest.to_core()
        assert any(c.critical for c in core.criteria), card.name
        assert {c.scale.value for c in core.criteria} >= {"1-5", "binary"}, card.name
        assert all(c.category for c in core.criteria), card.name
        with_bonus += any(c.bonus for c in core.criteria)
    assert 0 < with_bonus < len(cards)
    # One card changed halfway: each review keeps the version in force when it was written.
    revised = [card for card in cards if card.versions.count() == 2]
    assert [card.name for card in revised] == ["Customer support"]
    for review in Review.objects.select_related("scorecard_version"):
        in_force = (
            ScorecardVersion.objects.filter(
                scorecard_id=review.scorecard_version.scorecard_id,
                created_at__lte=review.created_at,
            )
            .order_by("-version")
            .first()
        )
        assert review.scorecard_version == in_force


def test_most_reviewed_work_passes_and_failed_work_goes_back_for_rework(
    small_demo: DemoSummary,
):
    reviews = list(Review.objects.select_related("item", "reviewer"))
    assert len(reviews) >= 30
    passed = [r for r in reviews if r.passed]
    # About nine in ten over a month; three days (and their items left in rework) are a
    # small sample, so the band is wider here.
    assert 0.75 <= len(passed) / len(reviews) <= 0.95
    # Passes vary: not every answer gets full marks.
    assert any(float(r.score) < 100 for r in passed)
    failed = [r for r in reviews if not r.passed]
    auto_failed = [r for r in failed if r.auto_failed]
    assert auto_failed and len(auto_failed) < len(failed)
    for review in failed:
        assert review.comments.strip(), review
        returned = review.item.events.filter(
            kind=Action.RETURN_FOR_REWORK.value, at=review.created_at, actor=review.reviewer
        )
        assert returned.get().note == review.comments
    for review in auto_failed:
        assert float(review.score) == 0 and review.failed_criteria
    # Every review delivered or returned the item it scored: no unscored verdicts.
    verdicts = WorkItemEvent.objects.filter(
        kind__in=[Action.APPROVE.value, Action.RETURN_FOR_REWORK.value]
    )
    assert verdicts.count() == len(reviews)


def test_no_one_reviews_their_own_work(small_demo: DemoSummary):
    reviews = Review.objects.select_related("reviewer", "agent", "item__service")
    assert reviews.exists()
    for review in reviews:
        assert review.agent is not None and review.agent.role == Role.AGENT
        assert review.reviewer_id != review.agent_id
        assert review.reviewer.role == (review.item.service.review_role or Role.QA_REVIEWER)


def test_items_go_to_review_for_reasons_a_lead_can_read(small_demo: DemoSummary):
    reasons = list(Review.objects.values_list("sampled_reason", flat=True))
    assert all(reasons)
    for wanted in (
        "review is mandatory",
        "on probation",
        "item of this service (the first",
        "weekly minimum",
        "base rate",
    ):
        assert any(wanted in reason for reason in reasons), wanted
    on_probation = Agent.objects.filter(on_probation=True)
    assert 1 <= on_probation.count() <= 2
    assert SamplingRule.objects.exists()


def test_agents_dispute_failed_reviews_and_leads_decide_them(small_demo: DemoSummary):
    disputes = list(Dispute.objects.select_related("review", "agent", "decided_by"))
    states = {d.state for d in disputes}
    # Three days hold few failed reviews: one dispute waits and at least one is decided.
    assert DisputeState.OPEN in states
    assert states & {DisputeState.UPHELD, DisputeState.OVERTURNED}
    for dispute in disputes:
        assert not dispute.review.passed
        assert dispute.agent_id == dispute.review.agent_id
        assert dispute.review.created_at < dispute.created_at < NOW
        assert dispute.reason.strip()
        if dispute.is_open:
            assert dispute.decided_by is None and not dispute.review.overturned
            continue
        assert dispute.decided_by is not None and dispute.decided_by.role == Role.OPS_LEAD
        assert dispute.decided_at is not None and dispute.created_at < dispute.decided_at < NOW
        assert dispute.decision_note.strip()
        assert dispute.review.overturned == (dispute.state == DisputeState.OVERTURNED)
    # The leads' Disputes page has one to decide.
    waiting = next(d for d in disputes if d.is_open)
    page = login(User.objects.get(email="lead@relaydesk.test")).get(reverse("quality:disputes"))
    assert page.status_code == 200
    assert waiting.review.item.reference in page.content.decode()


def test_a_closed_calibration_shows_a_harsh_and_a_lenient_reviewer(small_demo: DemoSummary):
    from relaydesk.quality.calibration_queries import calibration_figures
    from relaydesk.quality.models import CalibrationSession

    sessions = {s.state: s for s in CalibrationSession.objects.all()}
    assert set(sessions) == {"open", "closed"}
    lead = User.objects.get(email="lead@relaydesk.test")
    result = calibration_figures(lead, sessions["closed"])
    assert result is not None
    leanings = sorted(a.mean_difference or 0 for a in result.result.reviewers.values())
    assert leanings[0] < 0 < leanings[-1]  # one scores harsher than the lead, one kinder
    # The open session is blind: nothing to compare yet.
    assert calibration_figures(lead, sessions["open"]) is None
    page = login(lead).get(reverse("quality:calibration")).content.decode()
    assert "Support replies, last week" in page and "Support replies, this week" in page


def test_each_engagement_has_agreed_objectives_and_one_waits_for_the_provider(
    small_demo: DemoSummary,
):
    from relaydesk.insights.models import Objective

    objectives = list(Objective.objects.select_related("engagement", "proposed_by"))
    waiting = [o for o in objectives if not o.is_agreed]
    assert len(waiting) == 1 and waiting[0].metric == "cost_cap"
    assert waiting[0].proposed_by.is_client_user
    assert {o.engagement_id for o in objectives} == set(
        Engagement.objects.values_list("pk", flat=True)
    )
    admin = User.objects.get(email="dana@hartwell-cole.test")
    page = login(admin).get(reverse("insights:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Turnaround SLA attainment" in html and "Backlog" in html
    lead = login(User.objects.get(email="lead@relaydesk.test"))
    listed = lead.get(reverse("insights:objectives")).content.decode()
    assert "Agree" in listed  # the cost cap waits for the provider


def test_every_engagement_has_an_intake_address_and_the_mornings_mail_landed(
    small_demo: DemoSummary, settings
):
    from relaydesk.mailintake.models import IngestedMessage, IntakeAddress, QuarantinedMessage

    addresses = list(IntakeAddress.objects.filter(active=True))
    assert {a.engagement_id for a in addresses} == set(
        Engagement.objects.values_list("pk", flat=True)
    )
    assert all(a.address.endswith("@" + settings.RELAYDESK_INTAKE_DOMAIN) for a in addresses)
    results = sorted(IngestedMessage.objects.values_list("result", flat=True))
    assert results == ["commented", "created", "created", "created", "quarantined"]
    mailed = WorkItem.objects.filter(
        pk__in=IngestedMessage.objects.filter(result="created").values("item")
    )
    assert Attachment.objects.filter(item__in=mailed, content_type="application/pdf").exists()
    replied = IngestedMessage.objects.get(result="commented")
    assert replied.item in mailed and replied.comment is not None
    held = QuarantinedMessage.objects.select_related("client").get()
    assert held.reason_code == "unknown_sender" and held.client is not None
