"""The demo's quality assurance: scorecards, sampling rules, scored reviews and disputes.

Before the history runs, the provider publishes a scorecard for each kind of work the
demo's clients buy (medical records review, legal drafting, e-filing, customer support,
data entry, payroll, market research, financial analysis) and one for any other service,
sets sampling rules on three engagements and puts two agents on probation. During the
history every review is a reviewer answering the scorecard through ``do_submit_review``:
most pass with the odd 4 or 3, some fall below the pass mark and a few fail on a critical
criterion; a failed review sends the item back for rework with the reviewer's comments.
Halfway through, the customer support scorecard gets a second version, so older reviews
keep the first. After the history some agents dispute failed reviews: leads uphold most,
overturn a few, and the latest ones wait on the leads' Disputes page.

Everything random comes from the demo's seed, so the same seed gives the same reviews.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core import quality as qa
from relaydesk.core.roles import Role
from relaydesk.demo.plan import DEMO_AGENT_EMAIL, stream
from relaydesk.demo.roster import Roster
from relaydesk.quality.actions import (
    do_decide_dispute,
    do_dispute_review,
    do_publish_scorecard_version,
    do_set_sampling_rule,
    do_submit_review,
)
from relaydesk.quality.calibration_actions import (
    do_close_calibration,
    do_open_calibration,
    do_score_calibration_item,
)
from relaydesk.quality.calibration_queries import calibration_candidates
from relaydesk.quality.models import DisputeState, Review, Scorecard
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import Agent

__all__ = [
    "ANY_SERVICE",
    "PROBATION_TEAMS",
    "REVISED_CARD",
    "SAMPLING_RULES",
    "SCORECARDS",
    "CardSpec",
    "DemoQuality",
    "Question",
    "SamplingSpec",
]

ANY_SERVICE = ""
FIVE, YES_NO = "1-5", "binary"


@dataclass(frozen=True, slots=True)
class Question:
    """A scorecard criterion, with what a reviewer writes when work falls short of it.

    ``na`` is the chance the reviewer marks it not applicable; ``minor`` are remarks on
    a pass that was not at full marks, ``fail`` what the reviewer asks to be reworked.
    """

    key: str
    label: str
    weight: float
    scale: str
    category: str
    critical: bool = False
    bonus: bool = False
    threshold: int | None = None
    na: float = 0.0
    minor: tuple[str, ...] = ()
    fail: tuple[str, ...] = ()

    def criterion(self) -> dict[str, Any]:
        """The criterion as ``do_publish_scorecard_version`` takes it."""
        fields: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "weight": self.weight,
            "scale": self.scale,
            "category": self.category,
        }
        if self.critical:
            fields["critical"] = True
        if self.threshold is not None:
            fields["threshold"] = self.threshold
        if self.bonus:
            fields["bonus"] = True
        return fields


@dataclass(frozen=True, slots=True)
class CardSpec:
    """A scorecard to publish: for one service (by slug) or for any service."""

    name: str
    service: str
    pass_mark: int
    questions: tuple[Question, ...]

    def core(self, version: int = 1) -> qa.Scorecard:
        """The card as the core's scorecard, to check answers before they are submitted."""
        criteria = tuple(qa.Criterion(**q.criterion()) for q in self.questions)
        return qa.Scorecard(self.name, version, criteria, float(self.pass_mark))


def _top(question: Question) -> int:
    """Full marks on the question's scale."""
    return 1 if question.scale == YES_NO else 5


def _q(key: str, label: str, weight: float, scale: str, category: str, **rest: Any) -> Question:
    return Question(key, label, weight, scale, category, **rest)


_RECORDS = CardSpec(
    "Medical records review",
    "document-processing",
    85,
    (
        _q(
            "coding",
            "CPT and ICD-10 codes keyed as billed",
            3,
            FIVE,
            "Accuracy",
            minor=("One ICD-10 code keyed without its seventh character; fixed it myself.",),
            fail=(
                "Two CPT codes on the itemised bill were keyed as 99213 instead of 99214; "
                "re-key them and re-run the totals.",
                "Several ICD-10 codes were taken from the intake form, not the treating "
                "physician's notes; code from the notes.",
            ),
        ),
        _q(
            "totals",
            "Billed and paid totals reconcile to the ledger",
            2,
            YES_NO,
            "Accuracy",
            fail=(
                "Billed total is off by one visit against the provider's ledger; reconcile "
                "line by line before it goes back.",
            ),
        ),
        _q(
            "chronology",
            "Treatment chronology complete, no gaps in dates of service",
            2,
            FIVE,
            "Completeness",
            minor=("Chronology fine; the two PT visits on the same day could be one line.",),
            fail=(
                "The chronology skips the ER visit and the first two chiropractic dates; "
                "add them from pages 4-6.",
            ),
        ),
        _q(
            "phi",
            "PHI handled correctly (only this claimant's records, nothing sent outside)",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "Another patient's lab results were merged into this summary. PHI breach "
                "risk: remove them, and report it to your lead today.",
                "The summary was e-mailed to a personal address. Critical PHI failure; "
                "see the lead about the incident form.",
            ),
        ),
        _q(
            "template",
            "Summary in the firm's template",
            1,
            FIVE,
            "Formatting",
            minor=("Use the firm's heading order next time (providers, then dates).",),
            fail=("Summary is not in the firm's template; redo it in the current one.",),
        ),
        _q(
            "flags",
            "Flagged duplicate bills or gaps for the attorney",
            1,
            YES_NO,
            "Communication",
            bonus=True,
        ),
    ),
)

_DRAFTING = CardSpec(
    "Legal drafting (attorney review)",
    "legal-drafting",
    85,
    (
        _q(
            "facts",
            "Facts match the file: dates, parties, amounts",
            3,
            FIVE,
            "Accuracy",
            minor=("Date of accident appears once as the 4th; it is the 14th. Corrected.",),
            fail=(
                "The demand cites the wrong date of accident and the wrong policy number; "
                "check every fact against the claim file.",
                "Medical specials in the demand don't match the bills in the file; "
                "recompute from the ledger.",
            ),
        ),
        _q(
            "law",
            "Right statute and case law for the state",
            3,
            FIVE,
            "Accuracy",
            minor=("Cite the current version of the statute; I updated the subsection.",),
            fail=(
                "Cites the pre-2012 version of 627.736; use the current statute and the "
                "fee schedule it refers to.",
                "Relies on a New York no-fault regulation for a Florida claim; redo the "
                "legal section for Florida.",
            ),
        ),
        _q(
            "deadline",
            "Response and limitation dates computed correctly",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "The 30-day response date is computed from the wrong day; a missed deadline "
                "here waives the claim. Recompute and show the count in the cover note.",
            ),
        ),
        _q(
            "privilege",
            "No privileged or third-party medical data disclosed",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "The draft quotes our internal case evaluation. That is privileged; it must "
                "never go to the carrier.",
            ),
        ),
        _q(
            "exhibits",
            "Exhibits referenced and attached",
            1,
            FIVE,
            "Completeness",
            na=0.2,
            minor=("Exhibit C is referenced as B in one place.",),
            fail=("Exhibits D and E are referenced but not attached.",),
        ),
        _q(
            "style",
            "Firm style and Bluebook citations",
            1,
            FIVE,
            "Formatting",
            minor=("A few short-form citations need 'id.'; fixed in my edit.",),
            fail=("Citations don't follow the firm's style; reformat before it's signed.",),
        ),
        _q("ready", "Ready to sign without edits", 1, YES_NO, "Communication", bonus=True),
    ),
)

_FILING = CardSpec(
    "E-filing (attorney review)",
    "e-filing",
    90,
    (
        _q(
            "deadline",
            "Correct filing deadline",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "Calendared the response for the 23rd; the deadline is the 20th (service "
                "by mail adds no days here). Fix the docket entry before anything else.",
            ),
        ),
        _q(
            "court",
            "Right court, division and case number",
            2,
            YES_NO,
            "Accuracy",
            critical=True,
            fail=(
                "The envelope is set up for the wrong county court; it would be rejected "
                "or, worse, filed in the wrong case.",
            ),
        ),
        _q(
            "documents",
            "Every document and exhibit in the envelope",
            2,
            FIVE,
            "Completeness",
            minor=("Exhibit order differs from the index; fine this time.",),
            fail=("The proposed order and Exhibit A are missing from the envelope.",),
        ),
        _q(
            "service",
            "Certificate of service included and complete",
            1,
            YES_NO,
            "Completeness",
            fail=("Missing the certificate of service; add it with every party's address.",),
        ),
        _q(
            "redaction",
            "Sensitive identifiers redacted",
            2,
            YES_NO,
            "Compliance",
            fail=("Claimant's date of birth and full SSN are visible on page 2; redact them.",),
        ),
        _q(
            "pdf",
            "Text-searchable PDF, bookmarked, within the portal's size limit",
            1,
            FIVE,
            "Formatting",
            minor=("Bookmarks are there but unnamed; name them after the exhibits.",),
            fail=("The PDF is an image scan; run OCR and bookmark the exhibits.",),
        ),
    ),
)

_SUPPORT_QUESTIONS = (
    _q(
        "resolution",
        "Issue resolved, or the next step made clear",
        3,
        FIVE,
        "Accuracy",
        minor=("Good answer; could have given the tracking link straight away.",),
        fail=(
            "The customer asked for an exchange and got a refund; read the request again "
            "and follow up with them.",
            "The reply doesn't answer the customer's question about the warranty at all.",
        ),
    ),
    _q(
        "policy",
        "Return, refund and warranty policy applied correctly",
        2,
        FIVE,
        "Compliance",
        minor=("Policy right; quote the 60-day window rather than 'about two months'.",),
        fail=(
            "Offered a full refund outside the 60-day window without a lead's approval; "
            "use the approved wording and the store-credit option.",
        ),
    ),
    _q(
        "privacy",
        "Customer verified; no card or account data exposed",
        2,
        YES_NO,
        "Compliance",
        critical=True,
        fail=(
            "The full card number was repeated back to the customer in the reply. Critical: "
            "never write card data in a ticket.",
            "Changed the shipping address without verifying the customer. Critical: "
            "verification comes first, every time.",
        ),
    ),
    _q(
        "tone",
        "Tone and empathy",
        1,
        FIVE,
        "Communication",
        minor=("Friendly, but acknowledge the delay before explaining it.",),
        fail=("Tone is curt for an upset customer; rewrite with an apology first.",),
    ),
    _q(
        "wording",
        "Spelling, grammar and macro wording",
        1,
        FIVE,
        "Formatting",
        minor=("Two typos; run the spell check.",),
        fail=("Reply doesn't follow the refund macro; use the approved wording.",),
    ),
    _q(
        "saved",
        "Saved the order or prevented a repeat contact",
        1,
        YES_NO,
        "Communication",
        bonus=True,
    ),
)
_SUPPORT = CardSpec("Customer support", "customer-support", 80, _SUPPORT_QUESTIONS)
# Version 2: order notes now count, and verification is spelled out.
_SUPPORT_V2 = CardSpec(
    "Customer support",
    "customer-support",
    80,
    (
        *_SUPPORT_QUESTIONS[:2],
        _q(
            "privacy",
            "Identity verified (order number and postcode); no card or account data exposed",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=_SUPPORT_QUESTIONS[2].fail,
        ),
        *_SUPPORT_QUESTIONS[3:5],
        _q(
            "notes",
            "Order notes updated for the next agent",
            1,
            YES_NO,
            "Completeness",
            fail=("No order note left; the next agent won't know a replacement was promised.",),
        ),
        _SUPPORT_QUESTIONS[5],
    ),
)

_DATA_ENTRY = CardSpec(
    "Data entry",
    "data-entry",
    90,
    (
        _q(
            "fields",
            "Fields keyed exactly as the source",
            4,
            FIVE,
            "Accuracy",
            minor=("One SKU keyed with a letter O for a zero; corrected.",),
            fail=(
                "Employee ID transposed on the second record and two quantities swapped; "
                "re-key the batch against the source.",
                "Seven of forty rows have the wrong unit price; re-key from the supplier's "
                "invoice, not the PO.",
            ),
        ),
        _q(
            "complete",
            "Every record of the batch entered",
            2,
            YES_NO,
            "Completeness",
            fail=("Rows 31 to 40 were not entered; finish the batch.",),
        ),
        _q(
            "formats",
            "Dates, SKUs and postcodes in the required formats",
            2,
            FIVE,
            "Formatting",
            minor=("Dates are MM/DD in two rows; the sheet wants ISO dates.",),
            fail=("Dates are keyed in three different formats; use ISO dates throughout.",),
        ),
        _q(
            "confidential",
            "Confidential data handled correctly",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "The source file was saved to the desktop outside the client's drive. "
                "Critical: delete it and tell your lead.",
            ),
        ),
        _q(
            "exceptions",
            "Illegible or missing values flagged, not guessed",
            1,
            YES_NO,
            "Communication",
            fail=("Two illegible values were guessed instead of flagged; flag them.",),
        ),
    ),
)

_PAYROLL = CardSpec(
    "Payroll run",
    "payroll",
    90,
    (
        _q(
            "gross",
            "Hours, rates and gross pay correct",
            4,
            FIVE,
            "Accuracy",
            minor=("Overtime for one employee rounded to the quarter hour; fine by policy.",),
            fail=(
                "Night-shift differential missing for plant 2; recompute gross pay for the "
                "affected employees.",
                "Overtime paid at straight time for three employees; recompute.",
            ),
        ),
        _q(
            "deductions",
            "Deductions and withholding correct",
            3,
            FIVE,
            "Accuracy",
            minor=("401(k) catch-up applied correctly; note it in the summary next time.",),
            fail=(
                "The new garnishment order wasn't applied; add it and recompute net pay.",
                "Illinois withholding uses last year's rate; update and rerun.",
            ),
        ),
        _q(
            "register",
            "Totals reconcile to the payroll register",
            2,
            YES_NO,
            "Accuracy",
            critical=True,
            fail=(
                "Totals are $1,240 short of the register. Critical: nothing is released "
                "until the register ties out.",
            ),
        ),
        _q(
            "bank",
            "Bank and personal data handled correctly",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "A direct-deposit change was keyed from an e-mail without the signed form. "
                "Critical: reverse it and follow the verification procedure.",
            ),
        ),
        _q(
            "variance",
            "Variances against last period explained",
            1,
            FIVE,
            "Communication",
            minor=("Variance note is short; name the employees behind the overtime jump.",),
            fail=("Variance explanation is missing for the night shift.",),
        ),
        _q("early", "Flagged a problem before the pay run", 1, YES_NO, "Communication", bonus=True),
    ),
)

_MARKET = CardSpec(
    "Market research",
    "market-research",
    80,
    (
        _q(
            "figures",
            "Market sizes and figures check out",
            3,
            FIVE,
            "Accuracy",
            minor=("TAM rounds differently in the summary and the table; align them.",),
            fail=(
                "The market size double-counts the aftermarket segment; rebuild the bottom-up "
                "estimate.",
            ),
        ),
        _q(
            "sources",
            "Sources cited and credible",
            2,
            FIVE,
            "Accuracy",
            minor=("Cite the trade association report by edition and page.",),
            fail=("Sources aren't cited for the market-share table.",),
        ),
        _q(
            "scope",
            "Answers the client's question within the agreed scope",
            2,
            FIVE,
            "Completeness",
            minor=("Covers the brief; the Canada question deserves one more paragraph.",),
            fail=("The brief asked for the three largest competitors; only two are covered.",),
        ),
        _q(
            "confidential",
            "No client-confidential or non-public information in the deliverable",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "The deck quotes figures from another client's data room. Critical: remove "
                "them and tell your lead.",
            ),
        ),
        _q(
            "summary",
            "Executive summary clear and actionable",
            2,
            FIVE,
            "Communication",
            minor=("Lead the summary with the answer, then the evidence.",),
            fail=("No executive summary; the partner reads the first page only.",),
        ),
        _q(
            "charts",
            "Charts and tables in house style",
            1,
            FIVE,
            "Formatting",
            minor=("Two charts lack units on the axis.",),
            fail=("Charts are screenshots; rebuild them in the house template.",),
        ),
        _q("insight", "Insight beyond the brief", 1, YES_NO, "Communication", bonus=True),
    ),
)

_FINANCE = CardSpec(
    "Financial analysis",
    "financial-analysis",
    85,
    (
        _q(
            "model",
            "Model mechanics correct (links, signs, balance sheet balances)",
            4,
            FIVE,
            "Accuracy",
            minor=("One hard-coded growth rate in the forecast; link it to the inputs tab.",),
            fail=(
                "The balance sheet doesn't balance from year 3; the debt schedule is not "
                "linked to interest expense.",
            ),
        ),
        _q(
            "inputs",
            "Inputs current and sourced (filings, lender case)",
            3,
            FIVE,
            "Accuracy",
            minor=("Use the latest 10-Q for net debt; the difference is small.",),
            fail=("The WACC inputs are from last quarter; update and rerun.",),
        ),
        _q(
            "assumptions",
            "Assumptions stated and reasonable",
            2,
            FIVE,
            "Completeness",
            minor=("State the terminal growth assumption on the summary page.",),
            fail=("Peer medians exclude two companies from the agreed set.",),
        ),
        _q(
            "confidential",
            "Confidential data handled correctly",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "The model was shared through a public link. Critical: revoke it now and "
                "report it to your lead.",
            ),
        ),
        _q(
            "memo",
            "Memo explains the drivers and the risks",
            2,
            FIVE,
            "Communication",
            minor=("Good memo; quantify the covenant headroom rather than 'comfortable'.",),
            fail=("The memo restates the numbers without explaining what drives them.",),
        ),
        _q(
            "units",
            "Formatting and units consistent",
            1,
            FIVE,
            "Formatting",
            minor=("Mixes $m and $k between tabs.",),
            fail=("Units switch between $m and $k across tabs; make them consistent.",),
        ),
    ),
)

_GENERAL = CardSpec(
    "General work quality",
    ANY_SERVICE,
    80,
    (
        _q(
            "accuracy",
            "Work is accurate",
            3,
            FIVE,
            "Accuracy",
            minor=("One start date keyed a month off; corrected.",),
            fail=(
                "The new hire's start date and pay grade don't match the offer letter; "
                "correct both in the HRIS.",
            ),
        ),
        _q(
            "complete",
            "Everything asked for was done",
            2,
            FIVE,
            "Completeness",
            minor=("Benefits enrolment done; the handbook acknowledgement is still pending.",),
            fail=("The I-9 section 2 and the benefits enrolment were not done.",),
        ),
        _q(
            "procedure",
            "The client's procedure followed",
            2,
            YES_NO,
            "Compliance",
            fail=("The termination checklist was skipped: IT access is still open.",),
        ),
        _q(
            "confidential",
            "Confidential data handled correctly",
            2,
            YES_NO,
            "Compliance",
            critical=True,
            fail=(
                "An employee's medical leave details went to the whole plant distribution "
                "list. Critical: recall the message and tell your lead.",
            ),
        ),
        _q(
            "notes",
            "Notes clear for the client and the next person",
            1,
            FIVE,
            "Communication",
            minor=("Say in the note which records were updated.",),
            fail=("No note on what was changed; the client can't check the work.",),
        ),
        _q(
            "format",
            "Formatting",
            1,
            FIVE,
            "Formatting",
            minor=("Letter uses the old logo.",),
            fail=("The letter isn't on the client's template.",),
        ),
    ),
)

SCORECARDS: tuple[CardSpec, ...] = (
    _RECORDS,
    _DRAFTING,
    _FILING,
    _SUPPORT,
    _DATA_ENTRY,
    _PAYROLL,
    _MARKET,
    _FINANCE,
    _GENERAL,
)
#: The scorecard that gets a second version halfway through the history.
REVISED_CARD = _SUPPORT_V2


@dataclass(frozen=True, slots=True)
class SamplingSpec:
    """A sampling rule for one engagement (by client slug), for one service or all."""

    client: str
    service: str
    base_rate: int
    probation_full: bool = True
    first_items_full: int = 0
    raised_rate: int = 0
    raised_for: int = 0
    weekly_minimum: int = 0


SAMPLING_RULES: tuple[SamplingSpec, ...] = (
    SamplingSpec("hartwell-cole", "", 15, raised_rate=40, raised_for=3, weekly_minimum=1),
    SamplingSpec("northwind", "", 6, raised_rate=25, raised_for=3),
    SamplingSpec("northwind", "data-entry", 4, first_items_full=1, raised_rate=25, raised_for=3),
    SamplingSpec("brightpath", "", 8, weekly_minimum=1, raised_rate=50, raised_for=2),
    SamplingSpec("brightpath", "payroll", 20, first_items_full=2, raised_rate=100, raised_for=2),
)

#: Teams with one agent on probation: a new hire on support, one under watch on records.
PROBATION_TEAMS = ("khi-support", "mnl-lpo-night")

# How often a reviewer fails work the plan did not mark for rework: most agents, and
# those on probation.
_SLIP = 0.035
_SLIP_ON_PROBATION = 0.15
# One failed review in this many fails on a critical criterion (the second, then every
# fourth after it, so even a short history has one).
_CRITICAL_EVERY = 4
# Answers on the 1-5 scale for work that passes.
_FIVE_ANSWERS = ((5, 62), (4, 30), (3, 8))
# Agents dispute about one failed review in three: never an attorney's review, nor a
# critical failure (those go to a lead's conversation, not a dispute).
_DISPUTE_SHARE = 0.35
_MIN_DISPUTES = 3
_UPHOLD_SHARE = 0.65
# One dispute in this many (at least the newest) is still waiting for a lead.
_WAITING_EVERY = 6


@dataclass(frozen=True, slots=True)
class _Argument:
    """What an agent argues in a dispute, and what a lead writes upholding or overturning.

    ``{label}`` is the criterion the review failed on. ``cards``: the scorecards whose
    work the argument fits (empty: any).
    """

    reason: str
    upheld: str
    overturned: str
    cards: tuple[str, ...] = ()


_ARGUMENTS = (
    _Argument(
        "I keyed what the source shows. The page is hard to read at that spot and I flagged "
        "it in my notes; please look at the original scan.",
        "Upheld. The original scan is readable at 200 %; '{label}' was scored right. Zoom in "
        "before keying a doubtful value.",
        "Overturned. The scan really is illegible there and the agent flagged it as the "
        "procedure says; '{label}' should not have counted against them.",
        cards=(_RECORDS.name, _DATA_ENTRY.name, _PAYROLL.name),
    ),
    _Argument(
        "The client's team asked for it this way on the morning call; it's in the shift notes.",
        "Upheld. Neither the shift notes nor the item record that instruction; '{label}' was "
        "scored on the request as written. Ask clients to put changes on the item.",
        "Overturned. The shift notes confirm the client asked for it this way; '{label}' "
        "should have had full marks. I've asked the account manager to have such changes "
        "put on the item.",
    ),
    _Argument(
        "The reviewer looked at my first draft; the final version, saved when I completed "
        "the item, has this fixed.",
        "Upheld. The version reviewed is the one saved at completion; '{label}' was scored "
        "on what was delivered.",
        "Overturned. The reviewer opened the earlier draft; the version saved at completion "
        "has '{label}' right. Noted for the next calibration session.",
    ),
    _Argument(
        "I followed the updated procedure the lead sent out last week; the reviewer scored "
        "against the old one.",
        "Upheld. The update covers a different client; for this engagement the old procedure "
        "still applies, so '{label}' stands.",
        "Overturned. The update applies here and the reviewer had not seen it; I've shared "
        "it with the QA team.",
    ),
)


@dataclass(slots=True)
class _Failed:
    """A failed review kept in memory for the disputes that follow the history."""

    review_id: int
    agent_id: int
    at: dt.datetime
    label: str
    card: str
    disputable: bool


@dataclass(slots=True)
class _Dispute:
    """A dispute to write: who raises it when, and how (and whether yet) a lead decides."""

    failed: _Failed
    raised: dt.datetime
    argument: _Argument = _ARGUMENTS[1]
    uphold: bool = True
    decided_at: dt.datetime | None = None
    lead: User | None = None


@dataclass(slots=True)
class _Tally:
    reviews: int = 0
    passed: int = 0
    auto_failed: int = 0


class DemoQuality:
    """Publishes the demo's scorecards and rules, and writes its reviews and disputes.

    ``lead`` publishes scorecards and sets sampling rules. ``revise_at`` is when the
    customer support scorecard gets its second version (``None``: never).
    """

    def __init__(
        self,
        *,
        seed: int,
        now: dt.datetime,
        lead: User,
        services: Mapping[str, Service],
        engagements: Mapping[str, Engagement],
        revise_at: dt.datetime | None,
    ) -> None:
        self.now = now
        self.lead = lead
        self.services = services
        self.engagements = engagements
        self.revise_at = revise_at
        self.rng = stream(seed, "quality")
        self.by_service: dict[int, CardSpec] = {}
        self.general: CardSpec = _GENERAL
        self.cores: dict[str, qa.Scorecard] = {}
        self.cards: dict[str, Scorecard] = {}
        self.probation: set[int] = set()
        self.failed: list[_Failed] = []
        self.tally = _Tally()
        self.revised_on: dt.date | None = None

    # ------------------------------------------------------------------ before the history

    def set_up(
        self, published_at: dt.datetime, agents_by_team: Mapping[str, Sequence[Agent]]
    ) -> str:
        """Publish every scorecard, set the sampling rules, put agents on probation."""
        for spec in SCORECARDS:
            service = self.services[spec.service] if spec.service else None
            card = Scorecard.objects.create(name=spec.name, service=service)
            do_publish_scorecard_version(
                self.lead,
                card,
                [q.criterion() for q in spec.questions],
                spec.pass_mark,
                at=published_at,
            )
            self.cards[spec.name] = card
            self.cores[spec.name] = spec.core()
            if service is not None:
                self.by_service[service.pk] = spec
        rules_at = published_at + dt.timedelta(days=20)
        for rule in SAMPLING_RULES:
            do_set_sampling_rule(
                self.lead,
                self.engagements[rule.client],
                service=self.services[rule.service] if rule.service else None,
                base_rate=rule.base_rate,
                probation_full=rule.probation_full,
                first_items_full=rule.first_items_full,
                raised_rate=rule.raised_rate,
                raised_for=rule.raised_for,
                weekly_minimum=rule.weekly_minimum,
                at=rules_at,
            )
        for team in PROBATION_TEAMS:
            # The team's newest hire (the last created), never the demo's own agent.
            candidates = [
                a for a in agents_by_team.get(team, ()) if a.user.email != DEMO_AGENT_EMAIL
            ]
            if candidates:
                agent = candidates[-1]
                agent.on_probation = True
                agent.save(update_fields=["on_probation"])
                self.probation.add(agent.user_id)
        engagements = len({rule.client for rule in SAMPLING_RULES})
        return (
            f"quality: {len(SCORECARDS)} scorecards, {len(SAMPLING_RULES)} sampling rules on "
            f"{engagements} engagements, {len(self.probation)} agents on probation"
        )

    # ------------------------------------------------------------------ during the history

    def _revise(self, at: dt.datetime) -> None:
        """Publish the second version of the revised scorecard once the history reaches it."""
        if self.revise_at is None or self.revised_on is not None or at < self.revise_at:
            return
        spec = REVISED_CARD
        do_publish_scorecard_version(
            self.lead,
            self.cards[spec.name],
            [q.criterion() for q in spec.questions],
            spec.pass_mark,
            at=self.revise_at,
        )
        self.cores[spec.name] = spec.core(2)
        self.by_service[self.services[spec.service].pk] = spec
        self.revised_on = self.revise_at.date()

    def review(
        self, reviewer: User, item: WorkItem, at: dt.datetime, *, may_fail: bool, planned_fail: bool
    ) -> Review:
        """The reviewer scores the item through ``do_submit_review``; a fail sends it to rework.

        ``planned_fail``: the plan has the reviewer return this work; ``may_fail``: a
        failure is possible now (first review, and the agent has room for the rework).
        """
        self._revise(at)
        spec = self.by_service.get(item.service_id, self.general)
        card = self.cores[spec.name]
        slip = _SLIP_ON_PROBATION if item.owner_id in self.probation else _SLIP
        fails = may_fail and (planned_fail or self.rng.random() < slip)
        critical = fails and len(self.failed) % _CRITICAL_EVERY == 1
        if critical:
            answers, comments, label = self._critical_fail(spec, card)
        elif fails:
            answers, comments, label = self._below_mark(spec, card)
        else:
            answers, comments, label = self._pass(spec, card)
        review = do_submit_review(reviewer, item, answers, comments, at=at)
        tally = self.tally
        tally.reviews += 1
        tally.passed += review.passed
        tally.auto_failed += review.auto_failed
        if not review.passed and review.agent_id is not None:
            self.failed.append(
                _Failed(
                    review.pk,
                    review.agent_id,
                    at,
                    label,
                    spec.name,
                    disputable=(
                        not review.auto_failed and reviewer.role != Role.SUPERVISING_ATTORNEY.value
                    ),
                )
            )
        return review

    def _answer(self, question: Question) -> int | None:
        """A passing answer: full marks mostly, the odd 4 or 3, sometimes not applicable."""
        if question.bonus:
            roll = self.rng.random()
            return 1 if roll < 0.2 else (0 if roll < 0.35 else None)
        if question.na and self.rng.random() < question.na:
            return None
        if question.scale == YES_NO:
            return 1 if question.critical or self.rng.random() < 0.96 else 0
        values, weights = zip(*_FIVE_ANSWERS, strict=True)
        return self.rng.choices(values, weights=weights)[0]

    def _answers(self, spec: CardSpec) -> dict[str, int | None]:
        return {q.key: self._answer(q) for q in spec.questions}

    def _pass(self, spec: CardSpec, card: qa.Scorecard) -> tuple[dict[str, int | None], str, str]:
        answers = self._answers(spec)
        scored = qa.score_review(card, answers)
        # A reviewer who passes the work gives marks that pass: lift the costliest answers.
        while not scored.passed:
            question = max(
                (q for q in spec.questions if not q.bonus and answers[q.key] is not None),
                key=lambda q: q.weight * (_top(q) - (answers[q.key] or 0)) / _top(q),
            )
            answers[question.key] = _top(question)
            scored = qa.score_review(card, answers)
        short = [
            q
            for q in spec.questions
            if not q.bonus and answers[q.key] not in (None, _top(q)) and q.minor
        ]
        if short:
            chosen = self.rng.choice(short)
            comments = self.rng.choice(chosen.minor) if self.rng.random() < 0.6 else ""
        else:
            comments = self.rng.choice(("", "", "", "Clean work.", "Good work, thanks."))
        return answers, comments, ""

    def _below_mark(
        self, spec: CardSpec, card: qa.Scorecard
    ) -> tuple[dict[str, int | None], str, str]:
        answers = self._answers(spec)
        culprits = [q for q in spec.questions if q.fail and not q.critical and not q.bonus]
        chosen: list[Question] = []
        scored = qa.score_review(card, answers)
        while scored.passed and len(chosen) < len(culprits):
            left = [q for q in culprits if q not in chosen]
            question = self.rng.choices(left, weights=[q.weight for q in left])[0]
            chosen.append(question)
            answers[question.key] = 0 if question.scale == YES_NO else self.rng.choice((1, 2))
            scored = qa.score_review(card, answers)
        if not chosen:  # already below the mark: name the weakest answer
            chosen = [min(culprits, key=lambda q: (answers[q.key] or _top(q), -q.weight))]
        comments = " ".join(self.rng.choice(q.fail) for q in chosen)
        return answers, comments, chosen[0].label

    def _critical_fail(
        self, spec: CardSpec, card: qa.Scorecard
    ) -> tuple[dict[str, int | None], str, str]:
        answers = self._answers(spec)
        critical = [q for q in spec.questions if q.critical]
        question = self.rng.choice(critical)
        threshold = qa.Criterion(**question.criterion()).pass_threshold
        answers[question.key] = threshold - 1
        return answers, self.rng.choice(question.fail), question.label

    # ------------------------------------------------------------------ after the history

    def disputes(self, rosters: Mapping[int, Roster], leads: Sequence[tuple[User, Roster]]) -> str:
        """Agents dispute some failed reviews; leads decide the older ones, the newest wait.

        Written after the history with the times they happened: an agent disputes on their
        next shift, the first lead at work decides within a few working hours. Agents do
        not dispute a supervising attorney's review, nor a critical failure.
        """
        candidates: list[_Dispute] = []
        for failed in self.failed:
            roster = rosters.get(failed.agent_id)
            if not failed.disputable or roster is None:
                continue
            raised = roster.advance(failed.at, self.rng.uniform(20, 240))
            if raised < self.now - dt.timedelta(minutes=30):
                candidates.append(_Dispute(failed, raised))
        chosen = [c for c in candidates if self.rng.random() < _DISPUTE_SHARE]
        for extra in reversed(candidates):  # too few: the most recent ones are disputed too
            if len(chosen) >= _MIN_DISPUTES:
                break
            if extra not in chosen:
                chosen.append(extra)
        chosen.sort(key=lambda plan: plan.raised)
        waiting = max(1, len(chosen) // _WAITING_EVERY)
        for position, plan in enumerate(chosen):
            fitting = [a for a in _ARGUMENTS if not a.cards or plan.failed.card in a.cards]
            plan.argument = self.rng.choice(fitting)
            plan.uphold = self.rng.random() < _UPHOLD_SHARE
            minutes = self.rng.uniform(45, 600)
            decided_at, lead = min(
                ((roster.advance(plan.raised, minutes), user) for user, roster in leads),
                key=lambda option: option[0],
            )
            # The newest disputes wait for a lead, as does one that would be decided after now.
            if position < len(chosen) - waiting and decided_at < self.now:
                plan.decided_at, plan.lead = decided_at, lead
        decided = [plan for plan in chosen if plan.lead is not None]
        if len(decided) >= 2 and len({plan.uphold for plan in decided}) == 1:
            decided[0].uphold = not decided[0].uphold  # leads do both
        outcomes: Counter[str] = Counter()
        reviews = Review.objects.in_bulk([plan.failed.review_id for plan in chosen])
        agents = User.objects.in_bulk([plan.failed.agent_id for plan in chosen])
        for plan in chosen:
            argument, label = plan.argument, plan.failed.label
            dispute = do_dispute_review(
                agents[plan.failed.agent_id],
                reviews[plan.failed.review_id],
                argument.reason.format(label=label),
                at=plan.raised,
            )
            if plan.lead is None or plan.decided_at is None:
                outcomes[DisputeState.OPEN.value] += 1
                continue
            note = (argument.upheld if plan.uphold else argument.overturned).format(label=label)
            do_decide_dispute(plan.lead, dispute, plan.uphold, note, at=plan.decided_at)
            outcomes[(DisputeState.UPHELD if plan.uphold else DisputeState.OVERTURNED).value] += 1
        return (
            f"quality: {len(chosen)} disputes ({outcomes[DisputeState.UPHELD.value]} upheld, "
            f"{outcomes[DisputeState.OVERTURNED.value]} overturned, "
            f"{outcomes[DisputeState.OPEN.value]} open)"
        )

    # ------------------------------------------------------------------ calibration

    def calibration(self) -> str:
        """Two calibration sessions on Northwind's support work: last week's, closed, where
        one reviewer scores harsher than the lead and one more leniently; and this week's,
        still open with a few scores in."""
        engagement = self.engagements["northwind"]
        service = self.services["customer-support"]
        # Support work is reviewed by QA reviewers; the first four are invited.
        reviewers = list(
            User.objects.filter(role=Role.QA_REVIEWER.value, is_active=True).order_by("pk")[:4]
        )
        candidates = [c.item for c in calibration_candidates(self.lead, engagement, service.pk)]
        if len(reviewers) < 3 or len(candidates) < 9:
            return "quality: calibration skipped (too little finished support work)"
        spec = next(spec for spec in self.by_service.values() if spec.name == _SUPPORT.name)
        # How each scorer leans against the benchmark: 0 scores as the lead does.
        leanings = {self.lead.pk: 0.0, reviewers[0].pk: 0.0, reviewers[1].pk: -1.0}
        leanings[reviewers[2].pk] = 0.6

        def answers(leaning: float) -> dict[str, int | None]:
            given: dict[str, int | None] = {}
            for question in spec.questions:
                if question.bonus:
                    given[question.key] = self.rng.choice((None, 0, 1))
                elif question.scale == YES_NO:
                    slip = 0.05 + max(0.0, -leaning) * 0.12
                    given[question.key] = 0 if self.rng.random() < slip else 1
                else:
                    drift = self.rng.choice((-1, 0, 0, 1))
                    given[question.key] = max(1, min(5, round(4 + leaning + drift)))
            return given

        opened = self.now - dt.timedelta(days=6)
        closed = do_open_calibration(
            self.lead,
            engagement,
            title="Support replies, last week",
            item_ids=[item.pk for item in candidates[4:9]],
            reviewer_ids=[r.pk for r in reviewers],
            tolerance=5,
            at=opened,
        )
        scored_at = opened + dt.timedelta(hours=3)
        for scorer in [self.lead, *reviewers[:3]]:
            for item in candidates[4:9]:
                scored_at += dt.timedelta(minutes=self.rng.uniform(6, 25))
                do_score_calibration_item(
                    scorer, closed, item, answers(leanings[scorer.pk]), at=scored_at
                )
        do_close_calibration(self.lead, closed, at=opened + dt.timedelta(days=2))
        current = do_open_calibration(
            self.lead,
            engagement,
            title="Support replies, this week",
            item_ids=[item.pk for item in candidates[:4]],
            reviewer_ids=[r.pk for r in reviewers[:3]],
            tolerance=5,
            at=self.now - dt.timedelta(hours=20),
        )
        scored_at = self.now - dt.timedelta(hours=18)
        for scorer, item in [(self.lead, candidates[0]), (self.lead, candidates[1])]:
            do_score_calibration_item(scorer, current, item, answers(0.0), at=scored_at)
        do_score_calibration_item(reviewers[0], current, candidates[0], answers(0.0), at=scored_at)
        return "quality: calibration sessions: 1 closed (4 scorers, 5 items), 1 open"

    def summary(self) -> str:
        """The history's reviews in one line for the demo's log."""
        tally = self.tally
        share = f"{tally.passed / tally.reviews * 100:.1f} %" if tally.reviews else "–"
        revised = (
            f"; '{REVISED_CARD.name}' v2 published {self.revised_on.isoformat()}"
            if self.revised_on
            else ""
        )
        return (
            f"quality: {tally.reviews} scored reviews, {share} passed, "
            f"{tally.auto_failed} auto-failed{revised}"
        )
