"""Candidates over REST: create, read, list, update, and upsert by the ATS's id."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal, IntegrationPrincipal
from app.candidates import service
from app.candidates.models import CandidateCreate, CandidatePublic, CandidateUpdate
from app.core.crud import upsert_responses
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import (
    ExternalIdFilter,
    ExternalIdPath,
    IdPath,
    OwnerFilter,
    Paging,
    UpdatedSince,
)
from app.core.pagination import Page

router = APIRouter(prefix="/candidates", tags=["candidates"], responses=problem_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a candidate",
    responses=problem_responses(403, 409),
)
async def create_candidate(
    session: SessionDep, principal: CurrentPrincipal, body: CandidateCreate
) -> CandidatePublic:
    """Add a job seeker. A recruiter's new candidates are their own; others name `owner_id`."""
    return CandidatePublic.model_validate(await service.create(session, principal, body))


@router.get("", summary="List candidates")
async def list_candidates(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    owner_id: OwnerFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[CandidatePublic]:
    """Candidates visible to the caller, in id order; a recruiter sees only their own."""
    return await service.list_page(
        session,
        principal,
        page,
        updated_since=updated_since,
        owner_id=owner_id,
        external_id=external_id,
    )


@router.get("/{candidate_id}", summary="Get a candidate", responses=problem_responses(404))
async def get_candidate(
    session: SessionDep, principal: CurrentPrincipal, candidate_id: IdPath
) -> CandidatePublic:
    """One candidate."""
    return await service.read(session, principal, candidate_id)


@router.patch(
    "/{candidate_id}",
    summary="Update a candidate",
    responses=problem_responses(403, 404, 409),
)
async def update_candidate(
    session: SessionDep, principal: CurrentPrincipal, candidate_id: IdPath, body: CandidateUpdate
) -> CandidatePublic:
    """Change the fields given; the others keep their values."""
    candidate = await service.get(session, principal, candidate_id)
    return CandidatePublic.model_validate(await service.update(session, principal, candidate, body))


@router.put(
    "/by-external-id/{external_id}",
    summary="Create or update a candidate by external id",
    responses={**problem_responses(403, 409), **upsert_responses(CandidatePublic)},
    status_code=status.HTTP_200_OK,
)
async def upsert_candidate(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: CandidateCreate,
    response: Response,
) -> CandidatePublic:
    """For ATS syncs: creates the candidate (201) or updates the fields given (200)."""
    candidate, created = await service.upsert(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return CandidatePublic.model_validate(candidate)
