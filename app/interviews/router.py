"""Interviews over REST."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal, IntegrationPrincipal
from app.core.crud import upsert_responses
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import (
    ExternalIdFilter,
    ExternalIdPath,
    IdPath,
    Paging,
    SubmissionFilter,
    UpdatedSince,
)
from app.core.pagination import Page
from app.interviews import service
from app.interviews.models import InterviewCreate, InterviewPublic, InterviewUpdate

router = APIRouter(prefix="/interviews", tags=["interviews"], responses=problem_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule an interview",
    responses=problem_responses(409),
)
async def create_interview(
    session: SessionDep, principal: CurrentPrincipal, body: InterviewCreate
) -> InterviewPublic:
    """Add an interview to a submission: kind, start and end, the interviewers (contacts of the
    job's client), and any stated decision date and reply channel."""
    interview = await service.create(session, principal, body)
    return await service.public(session, interview)


@router.get("", summary="List interviews")
async def list_interviews(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    submission_id: SubmissionFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[InterviewPublic]:
    """Interviews visible to the caller, in id order."""
    return await service.list_page(
        session,
        principal,
        page,
        updated_since=updated_since,
        submission_id=submission_id,
        external_id=external_id,
    )


@router.get("/{interview_id}", summary="Get an interview", responses=problem_responses(404))
async def get_interview(
    session: SessionDep, principal: CurrentPrincipal, interview_id: IdPath
) -> InterviewPublic:
    """One interview, with its interviewers."""
    return await service.public(session, await service.get(session, principal, interview_id))


@router.patch(
    "/{interview_id}", summary="Update an interview", responses=problem_responses(404, 409)
)
async def update_interview(
    session: SessionDep, principal: CurrentPrincipal, interview_id: IdPath, body: InterviewUpdate
) -> InterviewPublic:
    """Change the fields given; `interviewer_ids`, when given, replaces the list. Mark it held
    with `status: held`, or cancelled."""
    interview = await service.get(session, principal, interview_id)
    return await service.public(session, await service.update(session, principal, interview, body))


@router.put(
    "/by-external-id/{external_id}",
    summary="Create or update an interview by external id",
    responses={**problem_responses(403, 409), **upsert_responses(InterviewPublic)},
)
async def upsert_interview(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: InterviewCreate,
    response: Response,
) -> InterviewPublic:
    """For ATS syncs: creates the interview (201) or updates it (200); its submission is fixed."""
    interview, created = await service.upsert(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return await service.public(session, interview)
