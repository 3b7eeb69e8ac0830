"""Admins reword the status sections; anyone who can see a submission can preview its email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.settings import SettingsDep
from app.messaging.models import SectionKind
from app.messaging.template_admin import service
from app.messaging.template_admin.schemas import (
    PreviewPublic,
    PreviewRequest,
    TemplatePublic,
    TemplateUpdate,
)
from app.submissions import service as submissions

router = APIRouter(prefix="/templates", tags=["messages"], responses=problem_responses(401, 422))

Kind = Annotated[SectionKind, Path(description="The section kind (what a candidate email says).")]


@router.get("", summary="List status templates")
async def list_templates(session: SessionDep, _: CurrentPrincipal) -> list[TemplatePublic]:
    """Every section kind with its current wording (an admin's override, or the default)."""
    return await service.list_templates(session)


@router.put("/{kind}", summary="Reword a status template", responses=problem_responses(403))
async def put_template(
    session: SessionDep, principal: AdminPrincipal, kind: Kind, body: TemplateUpdate
) -> TemplatePublic:
    """Replace the wording of one section kind. Checked first: it must render, and promising
    kinds must state the date ({{ next_date }})."""
    return await service.reword(session, principal, kind, body.body)


@router.delete(
    "/{kind}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Restore a default template",
    responses=problem_responses(403, 404),
)
async def delete_template(session: SessionDep, principal: AdminPrincipal, kind: Kind) -> None:
    """Back to the packaged wording."""
    await service.restore(session, principal, kind)


@router.post("/{kind}/preview", summary="Preview a status email", responses=problem_responses(404))
async def preview(
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    kind: Kind,
    body: PreviewRequest,
) -> PreviewPublic:
    """What the candidate of this submission would receive for this kind now; nothing is sent
    or recorded. Only candidate-safe facts appear (R-CAND-6)."""
    submission = await submissions.get(session, principal, body.submission_id)
    return await service.preview(session, submission, kind, settings=settings)
