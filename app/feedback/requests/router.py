"""Feedback requests for recruiters (R-FB): list, read, answer with an approved summary, decline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import CurrentPrincipal
from app.core.clock import utcnow
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import IdPath, Paging, SubmissionFilter
from app.core.pagination import Page
from app.feedback.models import (
    FeedbackAnswer,
    FeedbackDecline,
    FeedbackRequestPublic,
    FeedbackRequestState,
)
from app.feedback.requests import service

router = APIRouter(
    prefix="/feedback-requests", tags=["feedback"], responses=problem_responses(401, 422)
)


@router.get("", summary="List feedback requests")
async def list_requests(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    state: Annotated[FeedbackRequestState | None, Query()] = None,
    submission_id: SubmissionFilter = None,
) -> Page[FeedbackRequestPublic]:
    """Candidates' requests for feedback after a rejection, on submissions I can see."""
    return await service.list_page(
        session, principal, page, state=state, submission_id=submission_id
    )


@router.get("/{request_id}", summary="Get a feedback request", responses=problem_responses(404))
async def get_request(
    session: SessionDep, principal: CurrentPrincipal, request_id: IdPath
) -> FeedbackRequestPublic:
    """One request and what became of it."""
    return FeedbackRequestPublic.model_validate(await service.get(session, principal, request_id))


@router.post(
    "/{request_id}/answer",
    summary="Answer a feedback request",
    responses=problem_responses(404, 409),
)
async def answer_request(
    session: SessionDep, principal: CurrentPrincipal, request_id: IdPath, body: FeedbackAnswer
) -> FeedbackRequestPublic:
    """R-FB: share a summary you approve (your words, or a feedback record's approved summary);
    the candidate gets it by email. Never the client's internal notes."""
    row = await service.get(session, principal, request_id)
    done = await service.answer(
        session, principal, row, summary=body.summary, feedback_id=body.feedback_id, now=utcnow()
    )
    return FeedbackRequestPublic.model_validate(done)


@router.post(
    "/{request_id}/decline",
    summary="Decline a feedback request",
    responses=problem_responses(404, 409),
)
async def decline_request(
    session: SessionDep, principal: CurrentPrincipal, request_id: IdPath, body: FeedbackDecline
) -> FeedbackRequestPublic:
    """R-FB: no feedback can be had; the candidate is told kindly (the reason stays internal)."""
    row = await service.get(session, principal, request_id)
    done = await service.decline(session, principal, row, reason=body.reason, now=utcnow())
    return FeedbackRequestPublic.model_validate(done)
