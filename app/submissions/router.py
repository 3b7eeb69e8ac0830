"""Submissions and stage moves over REST."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.dependencies import CurrentPrincipal, IntegrationPrincipal
from app.core.crud import upsert_responses
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import (
    CandidateFilter,
    ExternalIdFilter,
    ExternalIdPath,
    IdPath,
    JobFilter,
    OwnerFilter,
    Paging,
    UpdatedSince,
)
from app.core.pagination import Page
from app.submissions import service
from app.submissions.models import (
    StageMoveCreate,
    StageMovePublic,
    SubmissionCreate,
    SubmissionPublic,
    SubmissionUpdate,
)
from app.submissions.states import Stage

router = APIRouter(
    prefix="/submissions", tags=["submissions"], responses=problem_responses(401, 422)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a candidate to a job",
    responses=problem_responses(403, 409),
)
async def create_submission(
    session: SessionDep, principal: CurrentPrincipal, body: SubmissionCreate
) -> SubmissionPublic:
    """Put a candidate forward for a job. It starts in `submitted`; `submitted_at` may be
    backdated to when it really happened, never set in the future."""
    return service.public(await service.create(session, principal, body))


@router.get("", summary="List submissions")
async def list_submissions(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    owner_id: OwnerFilter = None,
    stage: Annotated[Stage | None, Query()] = None,
    candidate_id: CandidateFilter = None,
    job_id: JobFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[SubmissionPublic]:
    """Submissions visible to the caller, in id order."""
    return await service.list_page(
        session,
        principal,
        page,
        updated_since=updated_since,
        owner_id=owner_id,
        stage=stage,
        candidate_id=candidate_id,
        job_id=job_id,
        external_id=external_id,
    )


@router.get("/{submission_id}", summary="Get a submission", responses=problem_responses(404))
async def get_submission(
    session: SessionDep, principal: CurrentPrincipal, submission_id: IdPath
) -> SubmissionPublic:
    """One submission, with the stage moves allowed from where it stands."""
    return await service.read(session, principal, submission_id)


@router.patch(
    "/{submission_id}",
    summary="Update a submission",
    responses=problem_responses(403, 404, 409),
)
async def update_submission(
    session: SessionDep, principal: CurrentPrincipal, submission_id: IdPath, body: SubmissionUpdate
) -> SubmissionPublic:
    """Change the external id or (admins, integrations) the owner. Stages move only through
    `POST /v1/submissions/{id}/moves`."""
    submission = await service.get(session, principal, submission_id)
    return service.public(await service.update_submission(session, principal, submission, body))


@router.put(
    "/by-external-id/{external_id}",
    summary="Create or update a submission by external id",
    responses={**problem_responses(403, 409), **upsert_responses(SubmissionPublic)},
)
async def upsert_submission(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: SubmissionCreate,
    response: Response,
) -> SubmissionPublic:
    """For ATS syncs: creates the submission (201) or updates its owner (200). Candidate and job
    never change; stages move through the moves endpoint."""
    submission, created = await service.upsert(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return service.public(submission)


@router.post(
    "/{submission_id}/moves",
    summary="Move a submission to another stage",
    responses=problem_responses(404, 409),
)
async def move_submission(
    session: SessionDep, principal: CurrentPrincipal, submission_id: IdPath, body: StageMoveCreate
) -> SubmissionPublic:
    """Move per R-ST. A refused move answers 409 and names the allowed moves in `allowed`.
    `occurred_at` may backdate the move, never into the future nor before the current stage."""
    submission = await service.get(session, principal, submission_id)
    return service.public(await service.move(session, principal, submission, body))


@router.get(
    "/{submission_id}/moves",
    summary="Stage history of a submission",
    responses=problem_responses(404),
)
async def list_moves(
    session: SessionDep, principal: CurrentPrincipal, submission_id: IdPath
) -> list[StageMovePublic]:
    """Every stage move, oldest first, with who made it and when it really happened."""
    submission = await service.get(session, principal, submission_id)
    return await service.moves(session, submission)
