"""The service catalog, readable by everyone signed in."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from relaydesk.catalog.models import Service
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["catalog"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 429: ErrorOut}


class SkillNeedOut(Schema):
    """A skill a service needs."""

    skill: str
    min_proficiency: int


class ServiceOut(Schema):
    """A service the provider offers."""

    slug: str
    name: str
    line: str
    description: str
    review_policy: str
    review_role: str
    sensitivity: str
    skills: list[SkillNeedOut]
    allowed_file_types: list[str]


@router.get("/services", response={200: list[ServiceOut], **ERRORS}, summary="List services")
def list_services(request: HttpRequest) -> list[ServiceOut]:
    """Every service of every line (BPO, LPO, KPO)."""
    services = Service.objects.select_related("line").prefetch_related("skill_needs__skill")
    return [
        ServiceOut(
            slug=s.slug,
            name=s.name,
            line=s.line.code,
            description=s.description,
            review_policy=s.review_policy,
            review_role=s.review_role,
            sensitivity=s.sensitivity,
            skills=[
                SkillNeedOut(skill=n.skill.slug, min_proficiency=n.min_proficiency)
                for n in s.skill_needs.all()
            ],
            allowed_file_types=list(s.allowed_file_types or []),
        )
        for s in services
    ]
