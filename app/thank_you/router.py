"""Thank-you notes for recruiters: the review queue, the notes, and the three review answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import CurrentPrincipal
from app.core.clock import utcnow
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import IdPath, Paging, SubmissionFilter
from app.core.models import MAX_ID
from app.core.pagination import Page
from app.interviews import service as interviews
from app.thank_you import service
from app.thank_you.models import NoteSource, NoteState
from app.thank_you.schemas import (
    NoteApprove,
    NoteCreate,
    NotePublic,
    NoteRequestChanges,
    NoteWithhold,
)

router = APIRouter(tags=["thank-you notes"], responses=problem_responses(401, 422))


@router.get("/notes", summary="List thank-you notes")
async def list_notes(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    state: Annotated[NoteState | None, Query()] = None,
    submission_id: SubmissionFilter = None,
    interview_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[NotePublic]:
    """Notes a recruiter can see, with every version, its automatic findings and, once
    approved, what became of it for each interviewer."""
    return await service.list_page(
        session,
        principal,
        page,
        state=state,
        submission_id=submission_id,
        interview_id=interview_id,
    )


@router.get("/notes/review-queue", summary="My thank-you notes awaiting review")
async def review_queue(session: SessionDep, principal: CurrentPrincipal) -> list[NotePublic]:
    """R-TY-4: notes awaiting my review, soonest review deadline first (at most 200)."""
    return await service.review_queue(session, principal)


@router.get("/notes/{note_id}", summary="Get a thank-you note", responses=problem_responses(404))
async def get_note(session: SessionDep, principal: CurrentPrincipal, note_id: IdPath) -> NotePublic:
    """One note with its versions, findings and recipients."""
    note = await service.get(session, principal, note_id)
    return (await service.publics(session, [note]))[0]


@router.post(
    "/interviews/{interview_id}/notes",
    status_code=status.HTTP_201_CREATED,
    summary="Enter a thank-you note on the candidate's behalf",
    responses=problem_responses(404, 409),
)
async def create_note(
    session: SessionDep, principal: CurrentPrincipal, interview_id: IdPath, body: NoteCreate
) -> NotePublic:
    """R-TY-1: a recruiter may enter the note a candidate sent them another way. It goes
    through the same checks and review as a note from the candidate's link."""
    interview = await interviews.get(session, principal, interview_id)
    note = await service.submit(
        session, principal, interview, text=body.text, source=NoteSource.recruiter, now=utcnow()
    )
    return (await service.publics(session, [note]))[0]


@router.post(
    "/notes/{note_id}/approve",
    summary="Approve a thank-you note",
    responses=problem_responses(404, 409),
)
async def approve_note(
    session: SessionDep, principal: CurrentPrincipal, note_id: IdPath, body: NoteApprove
) -> NotePublic:
    """R-TY-3/5: optionally with an edited text (both versions kept; the edit is what is sent).
    Each interviewer then gets it as their contact policy allows: an email from the agency with
    the recruiter in copy and as reply-to (`open`), a task to pass it on (`recruiter_only`), or
    nothing (`do_not_contact`)."""
    note = await service.get(session, principal, note_id)
    done = await service.approve(session, principal, note, text=body.text, now=utcnow())
    return (await service.publics(session, [done]))[0]


@router.post(
    "/notes/{note_id}/request-changes",
    summary="Ask the candidate to change a note",
    responses=problem_responses(404, 409),
)
async def request_changes(
    session: SessionDep, principal: CurrentPrincipal, note_id: IdPath, body: NoteRequestChanges
) -> NotePublic:
    """R-TY-3: the candidate gets the comment by email and may send a new version."""
    note = await service.get(session, principal, note_id)
    done = await service.request_changes(
        session, principal, note, comment=body.comment, now=utcnow()
    )
    return (await service.publics(session, [done]))[0]


@router.post(
    "/notes/{note_id}/withhold",
    summary="Withhold a thank-you note",
    responses=problem_responses(404, 409),
)
async def withhold_note(
    session: SessionDep, principal: CurrentPrincipal, note_id: IdPath, body: NoteWithhold
) -> NotePublic:
    """R-TY-3: nothing reaches the client; the candidate is told kindly (not the reason)."""
    note = await service.get(session, principal, note_id)
    done = await service.withhold(session, principal, note, reason=body.reason, now=utcnow())
    return (await service.publics(session, [done]))[0]
