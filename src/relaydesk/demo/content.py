"""Words for the demo: people's names per country, and what clients write about.

Everything here is plain data or a pure function of a ``random.Random`` and a
date, so the same seed always writes the same demo.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

DASH = "\N{EN DASH}"
ARROW = "\N{RIGHTWARDS ARROW}"

# --------------------------------------------------------------------------- people

FIRST_NAMES: dict[str, list[str]] = {
    "PH": [
        "Maria",
        "Jose",
        "Angelica",
        "Mark",
        "Kristine",
        "John Paul",
        "Jerome",
        "Princess",
        "Rowena",
        "Arnel",
        "Joy",
        "Carlo",
        "Patricia",
        "Ramon",
        "Liza",
        "Aileen",
        "Jomar",
        "Rhea",
        "Paolo",
        "Camille",
        "Jericho",
        "Katrina",
        "Rodel",
        "Mylene",
        "Christian",
        "Janine",
        "Ronaldo",
        "Kimberly",
        "Ferdinand",
        "Lovely",
    ],
    "PK": [
        "Ayesha",
        "Bilal",
        "Fatima",
        "Hamza",
        "Zainab",
        "Usman",
        "Sana",
        "Ali",
        "Hira",
        "Faisal",
        "Mahnoor",
        "Asad",
        "Iqra",
        "Kashif",
        "Nida",
        "Saad",
        "Rabia",
        "Waqas",
        "Mehwish",
        "Junaid",
    ],
    "IN": [
        "Aditya",
        "Priyanka",
        "Rohan",
        "Sneha",
        "Vikram",
        "Ananya",
        "Siddharth",
        "Pooja",
        "Rahul",
        "Neha",
        "Amit",
        "Kavya",
        "Nikhil",
        "Shruti",
        "Varun",
        "Isha",
        "Tejas",
        "Gauri",
        "Omkar",
        "Aparna",
        "Harsh",
        "Rutuja",
    ],
    "US": [
        "Jessica",
        "Michael",
        "Ashley",
        "Christopher",
        "Brittany",
        "Daniel",
        "Amanda",
        "Carlos",
        "Lauren",
        "Tyler",
        "Vanessa",
        "Kevin",
        "Stephanie",
        "Brandon",
        "Nicole",
        "Jordan",
    ],
}

LAST_NAMES: dict[str, list[str]] = {
    "PH": [
        "Santos",
        "Reyes",
        "Cruz",
        "Bautista",
        "Garcia",
        "Mendoza",
        "Dela Cruz",
        "Aquino",
        "Ramos",
        "Castillo",
        "Navarro",
        "Soriano",
        "Manalo",
        "Pascual",
        "Tolentino",
        "Gonzales",
        "Flores",
        "Lim",
        "Torres",
        "Domingo",
        "Salazar",
        "Mercado",
        "Rivera",
        "Gatchalian",
        "Macaraeg",
    ],
    "PK": [
        "Khan",
        "Ahmed",
        "Siddiqui",
        "Malik",
        "Butt",
        "Chaudhry",
        "Sheikh",
        "Raza",
        "Hussain",
        "Iqbal",
        "Mirza",
        "Abbasi",
        "Javed",
        "Rehman",
        "Zaidi",
        "Farooq",
    ],
    "IN": [
        "Deshpande",
        "Joshi",
        "Patil",
        "Sharma",
        "Iyer",
        "Gupta",
        "Rao",
        "Pawar",
        "Mehta",
        "Shinde",
        "Bhosale",
        "Gokhale",
        "Apte",
        "Kale",
        "Chavan",
        "Menon",
        "Reddy",
        "Jadhav",
    ],
    "US": [
        "Johnson",
        "Rodriguez",
        "Thompson",
        "Martinez",
        "Walker",
        "Hernandez",
        "Mitchell",
        "Perez",
        "Collins",
        "Rivera",
        "Brooks",
        "Sanders",
        "Coleman",
        "Diaz",
        "Foster",
    ],
}

# --------------------------------------------------------------------------- clients' world

CLAIMANTS = [
    "J. Ortiz",
    "M. Alvarez",
    "T. Nguyen",
    "R. Baptiste",
    "S. Williams",
    "K. Patel",
    "D. Hernandez",
    "L. Jean-Louis",
    "A. Moreno",
    "B. Thompson",
    "C. Rivera",
    "E. Fernandez",
    "G. Brooks",
    "H. Castillo",
    "N. Pierre",
    "P. Delgado",
    "V. Romero",
    "W. Jackson",
    "Y. Cabrera",
    "F. Mitchell",
    "O. Salazar",
    "R. Lindqvist",
    "T. Okonkwo",
    "M. Kowalski",
    "S. Haddad",
]

INSURERS = {
    "US-FL": [
        "Progressive",
        "GEICO",
        "State Farm",
        "Allstate",
        "USAA",
        "Infinity Auto",
        "Direct General",
        "Security National",
        "Ocean Harbor",
    ],
    "US-NY": ["GEICO", "Allstate", "Progressive", "NYCM", "Travelers"],
    "US-MI": ["Auto-Owners", "Citizens", "MEEMIC", "Progressive", "Farm Bureau"],
}

PROVIDERS = {
    "US-FL": [
        "Tampa Bay Imaging",
        "Suncoast Chiropractic",
        "Bayfront Health ER",
        "Gulf Coast Orthopedics",
        "Clearwater Physical Therapy",
        "St. Joseph's Hospital",
        "Brandon Spine & Rehab",
    ],
    "US-NY": ["Brooklyn Medical PC", "Queens Pain Management", "Kings County Imaging"],
    "US-MI": ["Beaumont Hospital", "Detroit Spine Center", "Oakland Physical Medicine"],
}

COUNTIES = {
    "US-FL": ["Hillsborough", "Pinellas", "Pasco", "Polk", "Orange", "Miami-Dade", "Broward"],
    "US-NY": ["Kings", "Queens", "Bronx"],
    "US-MI": ["Wayne", "Oakland", "Macomb"],
}

ADJUSTERS = ["Karen Blake", "Tom Reddick", "Luz Medina", "Greg Saunders", "Nadia Foster"]

NORTHWIND_PRODUCTS = [
    "2-person backpacking tent",
    "hiking boots",
    "down jacket",
    "trekking poles",
    "rain shell",
    "sleeping bag",
    "camp stove",
    "fleece pullover",
    "trail runners",
    "kayak paddle",
    "insulated water bottle",
    "headlamp",
]
FOOTWEAR = ["hiking boots", "trail runners", "approach shoes"]
NORTHWIND_PRODUCTS_ES = [
    "tienda de campaña",
    "botas de montaña",
    "chaqueta de plumas",
    "bastones de trekking",
    "saco de dormir",
    "chaqueta impermeable",
    "zapatillas de trail",
]
NORTHWIND_CATEGORIES = ["footwear", "tents", "outerwear", "paddle sports", "camp kitchen"]
NORTHWIND_REGIONS = ["Pacific Northwest", "Mountain West", "Northeast", "Great Lakes"]
PROMO_CODES = ["SPRING20", "TRAIL15", "FREESHIP", "WELCOME10", "SUMMIT25"]

BRIGHTPATH_PLANTS = {1: "Joliet", 2: "Peoria", 3: "Rockford"}
BRIGHTPATH_ROLES = [
    "machine operator",
    "quality technician",
    "forklift operator",
    "maintenance mechanic",
    "production supervisor",
    "shipping clerk",
    "welder",
    "HR generalist",
]
BRIGHTPATH_DEPTS = ["Maintenance", "Assembly", "Shipping & Receiving", "Quality", "Finance"]
NEW_HIRES = [
    "Tyler Grant",
    "Rosa Jimenez",
    "Kevin Doyle",
    "Aaliyah Moore",
    "Brian Kowalczyk",
    "Megan Schultz",
    "Jamal Harris",
    "Olivia Bennett",
    "Luis Navarro",
    "Hannah Fischer",
]

MERIDIAN_SECTORS = [
    "regional banks",
    "specialty insurance MGAs",
    "US cold-chain logistics",
    "dental service organisations",
    "industrial automation",
    "data-centre REITs",
    "mid-market SaaS",
    "community banks in the Southeast",
    "veterinary clinics",
]
MERIDIAN_COMPANIES = [
    "Calloway Foods",
    "Harbor Point Logistics",
    "Ironridge Components",
    "Sable Creek Energy",
    "Vantage Dental Partners",
    "Northgate Packaging",
    "Bluewater Marine Services",
    "Cedar Valley Health",
    "Redline Fleet Services",
]

# --------------------------------------------------------------------------- conversations

CLIENT_NOTES_ON_SUBMIT = {
    "hartwell-cole": [
        "Adjuster is {adjuster}; please note the claim number on every page.",
        "PIP limits are close to exhausted on this one, so please prioritise.",
        "More records are coming from the PT clinic next week; start with what's attached.",
        "The client speaks Spanish at home; the intake notes are in the matter file.",
    ],
    "northwind": [
        "Customer is a Trailhead member; offer expedited reshipment if it comes to that.",
        "Customer called again this morning, please answer today.",
        "We already issued a store credit once on this account; check before refunding.",
    ],
    "brightpath": [
        "Plant manager confirmed the overtime hours are correct as submitted.",
        "Please copy Karen on the summary; finance closes the month on the 3rd.",
        "The union rate change took effect on the 1st; use the new table.",
    ],
    "meridian": [
        "Please include thrift holding companies in the peer set.",
        "The IC meets Thursday; a draft by Wednesday noon ET would be ideal.",
        "Use the company's adjusted EBITDA definition from the lender deck.",
    ],
}

AGENT_PICKUP_NOTES = [
    "Picked this up; you'll have it back today.",
    "Working on this now. I'll post an update if anything is missing.",
    "Started on this. Everything needed seems to be here.",
    "On it. First pass is under way.",
]

INTERNAL_NOTES = {
    "document-processing": [
        "Bill totals don't match the EOB; used the EOB figures per SOP 4.2.",
        "Two pages of the ER record are illegible; flagged in the index.",
        "Duplicate HCFA for the same DOS; coded once and noted the duplicate.",
    ],
    "legal-drafting": [
        "Used the updated demand template (rev. 2026-03).",
        "Statute citation checked against the current Fla. Stat. 627.736.",
    ],
    "e-filing": [
        "Portal was slow this morning; filing confirmation saved to the matter.",
        "Clerk requires the civil cover sheet as a separate PDF.",
    ],
    "customer-support": [
        "Carrier shows the parcel delivered to a neighbour; offered a claim.",
        "Refund was issued on the 2nd; bank processing takes 5 to 7 days.",
        "Escalated to the warehouse for a photo of the packed order.",
    ],
    "data-entry": [
        "Three invoices lack PO numbers; keyed them as non-PO spend.",
        "Supplier changed remit-to address; updated vendor master.",
    ],
    "payroll": [
        "Variance traced to a missed shift differential on nights.",
        "Two employees had duplicate 401(k) deductions; reversed in the next run.",
    ],
    "hr-administration": [
        "Background check cleared; I-9 section 2 completed by the plant.",
        "Benefits carrier file goes out Friday; change included.",
    ],
    "market-research": [
        "Two sources disagree on market size; footnoted both.",
        "Peer set trimmed to companies with public filings.",
    ],
    "financial-analysis": [
        "Model ties to the 10-Q; minor rounding in segment totals.",
        "Used the lender case for the downside scenario.",
    ],
}

WAIT_NOTES = {
    "hartwell-cole": [
        (
            "We need the itemised UB-04 for the {dos} visit; the file only has the summary.",
            "Itemised UB-04 uploaded to the matter now.",
        ),
        (
            "The police report names a different driver; please confirm which is our client.",
            "Our client is the passenger; the driver is the spouse. Thanks for checking.",
        ),
        (
            "Please confirm the PIP carrier: the intake says {insurer}, the bills say another.",
            "It's {insurer}. The bills were sent to the health insurer by mistake.",
        ),
    ],
    "northwind": [
        (
            "The order number doesn't match the e-mail on file; can you confirm the account?",
            "The customer used a guest checkout, same order. Go ahead.",
        ),
        (
            "Policy says refunds over $250 need approval. OK to refund in full?",
            "Approved, refund in full.",
        ),
    ],
    "brightpath": [
        (
            "Timesheets for the line supervisors at plant {plant} are missing for the period.",
            "Sent over now, sorry about that.",
        ),
        (
            "The offer letter and the HRIS show different start dates; which is right?",
            "The offer letter is correct; HRIS will be fixed.",
        ),
    ],
    "meridian": [
        (
            "Which fiscal year-end should we normalise to for the peers?",
            "Calendar year, please.",
        ),
        (
            "The data room is missing the Q2 management accounts. Can you request them?",
            "Uploaded to the data room this morning.",
        ),
    ],
}

QA_RETURN_NOTES = {
    "LPO": [
        "Two CPT codes were mis-keyed on page 3; fix them and re-run the totals.",
        "The demand amount doesn't match the ledger; reconcile and resubmit.",
        "Caption has the wrong county; correct before filing.",
        "Missing the certificate of service.",
    ],
    "BPO": [
        "Reply doesn't follow the refund macro; use the approved wording.",
        "Employee ID transposed on the second record.",
        "Variance explanation is missing for the night shift.",
    ],
    "KPO": [
        "Sources aren't cited for the market-share table.",
        "The WACC inputs are from last quarter; update and rerun.",
        "Peer medians exclude two companies from the agreed set.",
    ],
}

CLIENT_REWORK_NOTES = {
    "hartwell-cole": [
        "The letter cites the wrong date of accident; it was the 14th.",
        "Please add the MRI bill from {provider}; it's in the file.",
    ],
    "northwind": [
        "The customer wrote back: the replacement is also the wrong size.",
        "Please use the new returns address in Reno.",
    ],
    "brightpath": [
        "The corrected figure still leaves a $312 gap for plant {plant}.",
        "Please also update the emergency contact; it changed.",
    ],
    "meridian": [
        "Please add a sensitivity table on exit multiple.",
        "Include the two thrifts we discussed in the peer set.",
    ],
}

CLIENT_THANKS = [
    "Thanks, this looks good.",
    "Perfect, thank you.",
    "Great turnaround, thanks!",
    "Received, thanks.",
]

APPROVAL_NOTES = {
    "qa_reviewer": ["", "", "Scored 96/100; minor formatting only.", "Meets the checklist."],
    "supervising_attorney": ["", "Reviewed and approved.", "Approved for filing."],
    "senior_analyst": [
        "",
        "",
        "Figures tie back to the sources; approved.",
        "Method and assumptions hold up.",
    ],
}

CLIENT_CANCEL_NOTES = [
    "Duplicate request; we sent this twice.",
    "No longer needed.",
    "The customer resolved this themselves.",
]
LEAD_CANCEL_NOTES = [
    "Client withdrew the request by phone.",
    "Matter settled; client asked us to stop.",
    "Merged into an earlier request for the same case.",
]

# --------------------------------------------------------------------------- item writing


@dataclass(frozen=True, slots=True)
class ItemText:
    """Title, description, reference and jurisdiction for one item."""

    title: str
    description: str
    external_ref: str
    jurisdiction: str = ""
    language: str = "en"


def _month(day: dt.date, back: int = 0) -> str:
    year, month = day.year, day.month - back
    while month < 1:
        month += 12
        year -= 1
    return dt.date(year, month, 1).strftime("%B")


def _quarter(day: dt.date) -> str:
    quarter = (day.month - 1) // 3
    return f"Q{quarter}" if quarter else "Q4"


def hartwell_text(rng: random.Random, service: str, day: dt.date) -> ItemText:
    """A Hartwell & Cole PIP matter: bill reviews, demand letters, filings."""
    jurisdiction = rng.choices(["US-FL", "US-NY", "US-MI"], weights=[80, 12, 8])[0]
    claimant = rng.choice(CLAIMANTS)
    insurer = rng.choice(INSURERS[jurisdiction])
    provider = rng.choice(PROVIDERS[jurisdiction])
    county = rng.choice(COUNTIES[jurisdiction])
    dos = day - dt.timedelta(days=rng.randint(12, 120))
    claim = f"{rng.randint(1000, 9999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
    matter = f"HC-{day:%y}-{rng.randint(1200, 4800):04d}"
    if service == "document-processing":
        title = rng.choice(
            [
                f"PIP bill review {DASH} claimant {claimant}, DOS {dos.isoformat()}",
                f"Medical records summary {DASH} {claimant}, {provider}",
                f"Index ER records {DASH} {claimant}",
                f"Code CMS-1500 bills {DASH} {claimant}, {provider}",
                f"Treatment chronology {DASH} {claimant}",
            ]
        )
        description = (
            f"Records from {provider} for our client {claimant} ({insurer} claim {claim}). "
            "Index every page, summarise diagnoses and treatment, and flag any bill "
            "that exceeds the fee schedule."
        )
    elif service == "legal-drafting":
        if jurisdiction == "US-FL":
            title = rng.choice(
                [
                    f"Draft PIP demand letter {DASH} {claimant}, {insurer} claim {claim}",
                    f"Draft pre-suit demand (Fla. Stat. 627.736(10)) {DASH} {claimant}",
                    f"Draft response to IME cut-off {DASH} {claimant}",
                    f"Draft interrogatories {DASH} {claimant} v. {insurer}",
                ]
            )
        elif jurisdiction == "US-NY":
            title = f"Draft no-fault arbitration request (AR-1) {DASH} {claimant} v. {insurer}"
        else:
            title = f"Draft attendant-care demand (Michigan PIP) {DASH} {claimant}"
        description = (
            f"Use the bills and records in matter {matter}. Client {claimant}, "
            f"carrier {insurer}, claim {claim}. Attorney review required before it goes out."
        )
    else:
        title = rng.choice(
            [
                f"E-file complaint {DASH} {claimant} v. {insurer} ({county} County)",
                f"E-file notice of appearance {DASH} {claimant} v. {insurer}",
                f"E-file motion to compel PIP benefits {DASH} {claimant}",
                f"E-file notice of voluntary dismissal {DASH} {claimant} v. {insurer}",
            ]
        )
        description = (
            f"{county} County, case for {claimant} against {insurer}. File through the "
            "county portal once the attorney has approved the final PDF; save the stamped copy."
        )
    return ItemText(title, description, matter, jurisdiction=jurisdiction)


def northwind_text(rng: random.Random, service: str, day: dt.date) -> ItemText:
    """A Northwind Outfitters customer ticket or back-office data job."""
    order = rng.randint(41000, 68999)
    ticket = f"NW-T{rng.randint(210000, 389999)}"
    if service == "customer-support":
        if rng.random() < 0.18:
            product = rng.choice(NORTHWIND_PRODUCTS_ES)
            title = rng.choice(
                [
                    f"Pedido #{order}: reembolso no recibido",
                    f"Cambio de talla {DASH} pedido #{order}",
                    f"¿Dónde está mi pedido #{order}?",
                    f"Producto dañado {DASH} {product}, pedido #{order}",
                ]
            )
            description = (
                f"El cliente escribe en español sobre el pedido #{order} ({product}). "
                "Responder en español según las plantillas de Northwind."
            )
            return ItemText(title, description, ticket, language="es")
        product = rng.choice(NORTHWIND_PRODUCTS)
        title = rng.choice(
            [
                f"Order #{order} refund not received",
                f"Wrong size delivered {DASH} order #{order}",
                f"Where is my order #{order}?",
                f"Return label not working {DASH} order #{order}",
                f"Promo code {rng.choice(PROMO_CODES)} rejected at checkout",
                f"Damaged {product} {DASH} order #{order}",
                f"Charged twice for order #{order}",
                f"Exchange request: {rng.choice(FOOTWEAR)} size 10 {ARROW} 10.5",
            ]
        )
        description = (
            f"Customer ticket {ticket} about order #{order} ({product}). Check the order "
            "history and carrier tracking, answer within policy, and log the outcome."
        )
        return ItemText(title, description, ticket)
    po = f"PO-{rng.randint(70000, 89999)}"
    title = rng.choice(
        [
            f"Key supplier invoices {DASH} batch {rng.randint(300, 999)} "
            f"({rng.randint(20, 140)} invoices)",
            f"Update product attributes {DASH} {rng.choice(NORTHWIND_CATEGORIES)}",
            f"Enter inbound ASN data {DASH} {po}",
            f"Cleanse customer addresses {DASH} {rng.choice(NORTHWIND_REGIONS)} batch",
        ]
    )
    description = (
        "Key the records from the attached source into the ERP and double-check totals "
        "against the control sheet."
    )
    return ItemText(title, description, po)


def brightpath_text(rng: random.Random, service: str, day: dt.date) -> ItemText:
    """A Brightpath Manufacturing payroll or HR request."""
    plant = rng.choice(list(BRIGHTPATH_PLANTS))
    employee = rng.randint(10400, 18999)
    if service == "payroll":
        period_end = day - dt.timedelta(days=(day.weekday() - 4) % 7)
        title = rng.choice(
            [
                f"{_month(day, 1)} payroll variance {DASH} plant {plant}",
                f"Overtime reconciliation {DASH} week {period_end.isocalendar().week}, "
                f"plant {plant}",
                f"Garnishment order setup {DASH} employee #{employee}",
                f"Final pay calculation {DASH} termination, employee #{employee}",
                f"Bi-weekly pay run validation {DASH} period ending {period_end.isoformat()}",
                f"401(k) deduction mismatch {DASH} {rng.randint(2, 14)} employees",
            ]
        )
        description = (
            f"Plant {plant} ({BRIGHTPATH_PLANTS[plant]}). Reconcile against the timekeeping "
            "export and the pay register; list every adjustment with the reason."
        )
        return ItemText(title, description, f"BP-PAY-{rng.randint(2000, 6999)}")
    title = rng.choice(
        [
            f"Onboard new hire {DASH} {rng.choice(NEW_HIRES)}, "
            f"{rng.choice(BRIGHTPATH_ROLES)}, plant {plant}",
            f"Benefits enrolment change {DASH} employee #{employee}",
            f"Offboarding checklist {DASH} {rng.choice(NEW_HIRES)}",
            f"I-9 re-verification {DASH} {rng.randint(2, 9)} employees",
            f"Update org chart {DASH} {rng.choice(BRIGHTPATH_DEPTS)}",
            f"FMLA leave file {DASH} employee #{employee}",
        ]
    )
    description = (
        f"Plant {plant} ({BRIGHTPATH_PLANTS[plant]}). Follow the HR SOP, update the HRIS "
        "and confirm to the plant HR contact when done."
    )
    return ItemText(title, description, f"BP-HR-{rng.randint(1000, 4999)}")


def meridian_text(rng: random.Random, service: str, day: dt.date) -> ItemText:
    """A Meridian Capital Partners research or analysis request."""
    sector = rng.choice(MERIDIAN_SECTORS)
    company = rng.choice(MERIDIAN_COMPANIES)
    if service == "market-research":
        title = rng.choice(
            [
                f"{_quarter(day)} peer comparison {DASH} {sector}",
                f"Market sizing {DASH} {sector}",
                f"Competitor landscape {DASH} {sector}",
                f"Expert-call summary {DASH} {sector}",
            ]
        )
        description = (
            f"For the {sector} thesis. Sources, method and a one-page summary up front; "
            "tables in the attached workbook format."
        )
    else:
        title = rng.choice(
            [
                f"DCF valuation {DASH} {company}",
                f"Credit memo {DASH} {company} term loan",
                f"Comparable-company analysis {DASH} {sector}",
                f"Covenant compliance check {DASH} {company}",
                f"Earnings model update {DASH} {company} {_quarter(day)}",
            ]
        )
        description = (
            f"{company}: use the data-room financials and the lender case. Deliver the model "
            "and a two-page memo with the key sensitivities."
        )
    return ItemText(title, description, f"MCP-RQ-{rng.randint(100, 999)}")


TEXT_WRITERS = {
    "hartwell-cole": hartwell_text,
    "northwind": northwind_text,
    "brightpath": brightpath_text,
    "meridian": meridian_text,
}


def pdf_bytes(lines: list[str]) -> bytes:
    """A small but well-formed one-page PDF showing ``lines`` (ASCII only)."""

    def escape(text: str) -> str:
        text = text.encode("ascii", "replace").decode()
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = ["BT", "/F1 11 Tf", "72 740 Td", "14 TL"]
    for line in lines:
        body.append(f"({escape(line)}) Tj T*")
    body.append("ET")
    stream = "\n".join(body).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
