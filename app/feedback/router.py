"""Client feedback over REST."""

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
from app.feedback import service
from app.feedback.models import FeedbackCreate, FeedbackPublic, FeedbackUpdate

router = APIRouter(prefix="/feedback", tags=["feedback"], responses=problem_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record client feedback",
    responses=problem_responses(409),
)
async def create_feedback(
    session: SessionDep, principal: CurrentPrincipal, body: FeedbackCreate
) -> FeedbackPublic:
    """What the client said about a submission. A `shareable_summary` waits for a recruiter's
    approval; `internal_notes` never reach a candidate."""
    return FeedbackPublic.model_validate(await service.create(session, principal, body))


@router.get("", summary="List feedback")
async def list_feedback(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    submission_id: SubmissionFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[FeedbackPublic]:
    """Feedback visible to the caller, in id order."""
    return await service.list_page(
        session,
        principal,
        page,
        updated_since=updated_since,
        submission_id=submission_id,
        external_id=external_id,
    )


@router.get("/{feedback_id}", summary="Get feedback", responses=problem_responses(404))
async def get_feedback(
    session: SessionDep, principal: CurrentPrincipal, feedback_id: IdPath
) -> FeedbackPublic:
    """One piece of feedback."""
    return await service.read(session, principal, feedback_id)


@router.patch("/{feedback_id}", summary="Update feedback", responses=problem_responses(404, 409))
async def update_feedback(
    session: SessionDep, principal: CurrentPrincipal, feedback_id: IdPath, body: FeedbackUpdate
) -> FeedbackPublic:
    """Change the fields given. A changed summary needs approval again."""
    feedback = await service.get(session, principal, feedback_id)
    return FeedbackPublic.model_validate(await service.update(session, principal, feedback, body))


@router.post(
    "/{feedback_id}/approve-summary",
    summary="Approve the shareable summary",
    responses=problem_responses(404, 409),
)
async def approve_summary(
    session: SessionDep, principal: CurrentPrincipal, feedback_id: IdPath
) -> FeedbackPublic:
    """The recruiter's word that the summary may be shown to the candidate (R-CAND-6, R-FB)."""
    feedback = await service.get(session, principal, feedback_id)
    return FeedbackPublic.model_validate(
        await service.approve_summary(session, principal, feedback)
    )


@router.put(
    "/by-external-id/{external_id}",
    summary="Create or update feedback by external id",
    responses={**problem_responses(403, 409), **upsert_responses(FeedbackPublic)},
)
async def upsert_feedback(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: FeedbackCreate,
    response: Response,
) -> FeedbackPublic:
    """For ATS syncs: records the feedback (201) or updates it (200)."""
    feedback, created = await service.upsert(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return FeedbackPublic.model_validate(feedback)
