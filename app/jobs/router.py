"""Jobs over REST."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal, IntegrationPrincipal
from app.core.crud import upsert_responses
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import (
    ClientFilter,
    ExternalIdFilter,
    ExternalIdPath,
    IdPath,
    OwnerFilter,
    Paging,
    UpdatedSince,
)
from app.core.pagination import Page
from app.jobs import service
from app.jobs.models import JobCreate, JobPublic, JobUpdate

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=problem_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a job",
    responses=problem_responses(403, 409),
)
async def create_job(
    session: SessionDep, principal: CurrentPrincipal, body: JobCreate
) -> JobPublic:
    """Add a client's opening. Its primary contact is the one chased for decisions."""
    return JobPublic.model_validate(await service.create(session, principal, body))


@router.get("", summary="List jobs")
async def list_jobs(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    owner_id: OwnerFilter = None,
    client_id: ClientFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[JobPublic]:
    """Jobs visible to the caller, in id order."""
    return await service.list_page(
        session,
        principal,
        page,
        updated_since=updated_since,
        owner_id=owner_id,
        client_id=client_id,
        external_id=external_id,
    )


@router.get("/{job_id}", summary="Get a job", responses=problem_responses(404))
async def get_job(session: SessionDep, principal: CurrentPrincipal, job_id: IdPath) -> JobPublic:
    """One job."""
    return await service.read(session, principal, job_id)


@router.patch("/{job_id}", summary="Update a job", responses=problem_responses(403, 404, 409))
async def update_job(
    session: SessionDep, principal: CurrentPrincipal, job_id: IdPath, body: JobUpdate
) -> JobPublic:
    """Change the fields given; closing a job is `status: closed`."""
    job = await service.get(session, principal, job_id)
    return JobPublic.model_validate(await service.update(session, principal, job, body))


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a job",
    responses=problem_responses(404, 409),
)
async def delete_job(session: SessionDep, principal: CurrentPrincipal, job_id: IdPath) -> None:
    """Only for a job entered by mistake; a job with submissions answers 409."""
    job = await service.get(session, principal, job_id)
    await service.delete(session, principal, job)


@router.put(
    "/by-external-id/{external_id}",
    summary="Create or update a job by external id",
    responses={**problem_responses(403, 409), **upsert_responses(JobPublic)},
)
async def upsert_job(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: JobCreate,
    response: Response,
) -> JobPublic:
    """For ATS syncs: creates the job (201) or updates the fields given (200)."""
    job, created = await service.upsert(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return JobPublic.model_validate(job)
