"""What Candor said, or would have said, to whom, and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import CurrentPrincipal
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import CandidateFilter, IdPath, Paging, SubmissionFilter
from app.core.pagination import Page
from app.messaging import service
from app.messaging.models import MessageKind, MessageState
from app.messaging.schemas import MessagePublic, PromisePublic
from app.submissions import service as submissions

router = APIRouter(tags=["messages"], responses=problem_responses(401, 422))


@router.get("/messages", summary="List messages")
async def list_messages(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    candidate_id: CandidateFilter = None,
    submission_id: SubmissionFilter = None,
    kind: Annotated[MessageKind | None, Query()] = None,
    state: Annotated[MessageState | None, Query()] = None,
) -> Page[MessagePublic]:
    """Every message, sent or held: why it exists (`reason`), which rule held or refused it
    (`gate_rule`), who it went to, the promise it made and its delivery story."""
    return await service.list_messages(
        session,
        principal,
        page,
        candidate_id=candidate_id,
        submission_id=submission_id,
        kind=kind,
        state=state,
    )


@router.get(
    "/submissions/{submission_id}/promises",
    summary="Promises made about a submission",
    responses=problem_responses(404),
)
async def list_promises(
    session: SessionDep, principal: CurrentPrincipal, submission_id: IdPath
) -> list[PromisePublic]:
    """R-CAND-1: each "you'll hear from us by …" date, and whether it was kept or broken."""
    submission = await submissions.get(session, principal, submission_id)
    return await service.promises(session, submission)
