"""The catalog every Relaydesk deployment starts with: BPO, LPO and KPO services.

Used by a data migration, so it takes the model classes as arguments
(historical models there, real ones elsewhere).
"""

from __future__ import annotations

from typing import Any

LINES = [
    ("BPO", "Business process outsourcing", "Routine, high-volume, rule-driven work."),
    ("LPO", "Legal process outsourcing", "Clerk-level legal work for law firms."),
    ("KPO", "Knowledge process outsourcing", "Expert work with multi-stage expert review."),
]

SKILLS = {
    "customer-communication": "Customer communication",
    "hr-operations": "HR operations",
    "data-entry": "Data entry",
    "it-support": "IT support",
    "bookkeeping": "Bookkeeping and accounting",
    "payroll-processing": "Payroll processing",
    "marketing-content": "Marketing content",
    "legal-document-review": "Legal document review",
    "legal-correspondence": "Legal correspondence",
    "case-management": "Case-management systems",
    "legal-drafting": "Legal drafting",
    "court-e-filing": "Court e-filing",
    "legal-research": "Legal research",
    "market-research": "Market research",
    "financial-analysis": "Financial analysis",
    "data-analysis": "Data analysis",
}

CLEARANCES = {
    "phi": "PHI handling (HIPAA) training",
    "financial-data": "Financial and bank data handling",
    "privileged": "Attorney–client privilege training",
}

CERTIFICATIONS = {
    "pip-no-fault": "PIP no-fault law",
    "e-filing-registration": "Court e-filing registration",
    "cfa-level-2": "CFA Level II",
}

# slug, line, name, skills {slug: min proficiency}, review policy, review role,
# QA sample %, sensitivity, clearance, description
SERVICES: list[tuple[Any, ...]] = [
    (
        "customer-support",
        "BPO",
        "Customer support",
        {"customer-communication": 3},
        "sampled",
        "",
        10,
        "standard",
        "",
        "Answer customers by e-mail, chat and phone.",
    ),
    (
        "hr-administration",
        "BPO",
        "HR administration",
        {"hr-operations": 3},
        "sampled",
        "",
        10,
        "confidential",
        "",
        "On- and off-boarding, records, benefits.",
    ),
    (
        "data-entry",
        "BPO",
        "Data entry",
        {"data-entry": 2},
        "sampled",
        "",
        5,
        "standard",
        "",
        "Key and verify records from documents.",
    ),
    (
        "it-help-desk",
        "BPO",
        "IT help desk",
        {"it-support": 3},
        "sampled",
        "",
        10,
        "standard",
        "",
        "First- and second-line IT support.",
    ),
    (
        "accounting-finance",
        "BPO",
        "Accounting & finance",
        {"bookkeeping": 3},
        "sampled",
        "",
        15,
        "financial",
        "financial-data",
        "Payables, receivables, reconciliations.",
    ),
    (
        "payroll",
        "BPO",
        "Payroll",
        {"payroll-processing": 3},
        "sampled",
        "",
        25,
        "financial",
        "financial-data",
        "Pay runs, deductions, filings.",
    ),
    (
        "marketing",
        "BPO",
        "Marketing",
        {"marketing-content": 3},
        "sampled",
        "",
        10,
        "standard",
        "",
        "Campaign execution and content upkeep.",
    ),
    (
        "document-processing",
        "LPO",
        "Document processing",
        {"legal-document-review": 3},
        "sampled",
        "",
        20,
        "phi",
        "phi",
        "Index, summarise and code legal and medical documents.",
    ),
    (
        "email-handling",
        "LPO",
        "Email handling",
        {"legal-correspondence": 3},
        "sampled",
        "",
        10,
        "privileged",
        "privileged",
        "Triage and answer a firm's mailboxes.",
    ),
    (
        "case-management-upkeep",
        "LPO",
        "Case-management upkeep",
        {"case-management": 3},
        "sampled",
        "",
        10,
        "privileged",
        "privileged",
        "Keep matters, dates and parties current.",
    ),
    (
        "legal-drafting",
        "LPO",
        "Legal drafting",
        {"legal-drafting": 4},
        "mandatory",
        "supervising_attorney",
        100,
        "privileged",
        "privileged",
        "Draft letters, pleadings and demand packages for attorney review.",
    ),
    (
        "e-filing",
        "LPO",
        "E-filing",
        {"court-e-filing": 3},
        "mandatory",
        "supervising_attorney",
        100,
        "privileged",
        "privileged",
        "Prepare and submit court filings.",
    ),
    (
        "legal-research",
        "LPO",
        "Legal research",
        {"legal-research": 4},
        "sampled",
        "",
        20,
        "privileged",
        "privileged",
        "Research memos with citations.",
    ),
    (
        "market-research",
        "KPO",
        "Market research",
        {"market-research": 4},
        "mandatory",
        "senior_analyst",
        100,
        "confidential",
        "",
        "Market sizing and competitor studies.",
    ),
    (
        "financial-analysis",
        "KPO",
        "Financial analysis",
        {"financial-analysis": 4},
        "mandatory",
        "senior_analyst",
        100,
        "confidential",
        "financial-data",
        "Models, valuations and earnings analysis.",
    ),
    (
        "data-interpretation",
        "KPO",
        "Data interpretation",
        {"data-analysis": 4},
        "mandatory",
        "senior_analyst",
        100,
        "confidential",
        "",
        "Turn data sets into findings.",
    ),
]


def seed_catalog(
    service_line: Any,
    skill: Any,
    service: Any,
    service_skill: Any,
    clearance: Any,
    certification: Any,
) -> None:
    """Create (or update) the standard catalog; safe to run more than once."""
    lines = {}
    for code, name, description in LINES:
        lines[code], _ = service_line.objects.update_or_create(
            code=code, defaults={"name": name, "description": description}
        )
    skills = {}
    for slug, name in SKILLS.items():
        skills[slug], _ = skill.objects.update_or_create(slug=slug, defaults={"name": name})
    clearances = {}
    for code, name in CLEARANCES.items():
        clearances[code], _ = clearance.objects.update_or_create(code=code, defaults={"name": name})
    for code, name in CERTIFICATIONS.items():
        certification.objects.update_or_create(code=code, defaults={"name": name})
    for (
        slug,
        line,
        name,
        needs,
        policy,
        role,
        rate,
        sensitivity,
        needed_clearance,
        description,
    ) in SERVICES:
        row, _ = service.objects.update_or_create(
            slug=slug,
            defaults={
                "line": lines[line],
                "name": name,
                "description": description,
                "review_policy": policy,
                "review_role": role,
                "qa_sample_rate": rate,
                "sensitivity": sensitivity,
                "required_clearance": clearances.get(needed_clearance),
            },
        )
        for skill_slug, minimum in needs.items():
            service_skill.objects.update_or_create(
                service=row, skill=skills[skill_slug], defaults={"min_proficiency": minimum}
            )


# The kinds of files (judged by content, see relaydesk.vault.sniff) each seeded service accepts.
_LEGAL = ["pdf", "office", "image", "email", "text"]
FILE_TYPES: dict[str, list[str]] = {
    "customer-support": ["pdf", "image", "office", "text", "email"],
    "hr-administration": ["pdf", "image", "office", "text"],
    "data-entry": ["pdf", "image", "office", "text"],
    "it-help-desk": ["pdf", "image", "office", "text", "email"],
    "accounting-finance": ["pdf", "image", "office", "text"],
    "payroll": ["pdf", "office", "text"],
    "marketing": ["pdf", "image", "office", "text"],
    "document-processing": _LEGAL,
    "email-handling": _LEGAL,
    "case-management-upkeep": _LEGAL,
    "legal-drafting": _LEGAL,
    "e-filing": _LEGAL,
    "legal-research": _LEGAL,
    "market-research": ["pdf", "office", "image", "text"],
    "financial-analysis": ["pdf", "office", "text"],
    "data-interpretation": ["pdf", "office", "image", "text"],
}


def seed_file_types(service: Any) -> None:
    """Set the accepted file kinds of the seeded services; safe to run more than once."""
    for slug, kinds in FILE_TYPES.items():
        service.objects.filter(slug=slug).update(allowed_file_types=list(kinds))
