"""The candidate's private link over REST (R-TY-1, R-FB, R-CP-4, R-CAND-5).

No account and no API key: the token in the path is the credential (only its hash is stored).
An unknown token answers 404, an expired or revoked one 401. Everything answered is built from
candidate-safe models (app/portal/schemas.py): no internal notes, no unapproved feedback, no
confidential client names (R-CAND-6). Staff make and revoke links with their API key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import CurrentPrincipal
from app.candidates import service as candidates
from app.core.clock import utcnow
from app.core.database import SessionDep, WriteSessionDep
from app.core.errors import Conflict, NotFound, problem_responses
from app.core.filters import IdPath
from app.core.settings import Settings, SettingsDep
from app.events import service as events
from app.feedback.requests import service as feedback_requests
from app.interviews import service as interviews
from app.portal import links
from app.portal import service as portal
from app.portal.models import CandidateLink
from app.portal.schemas import (
    PortalAnswer,
    PortalFeedbackRequestCreate,
    PortalNoteCreate,
    PortalNoteView,
    PortalStatus,
)
from app.submissions.models import Submission
from app.thank_you.schemas import LinkCreate, LinkIssued

router = APIRouter(
    prefix="/portal", tags=["candidate portal"], responses=problem_responses(401, 404, 422)
)
staff_router = APIRouter(tags=["candidate portal"], responses=problem_responses(401, 422))

Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


async def _link(session: AsyncSession, settings: Settings, token: str) -> CandidateLink:
    # Records the link's last use: the GETs below take a session that commits (WriteSessionDep).
    return await links.resolve(session, settings, token, now=utcnow())


@router.get("/{token}", summary="Where I stand")
async def my_status(session: WriteSessionDep, settings: SettingsDep, token: Token) -> PortalStatus:
    """Each of the candidate's applications in plain words: the stage, what happens next, the
    date they will hear by (R-CAND-1), who invited them to email directly (and that they should
    copy their recruiter, R-CP-4), and whether they may ask for feedback (R-FB)."""
    return await portal.status(session, await _link(session, settings, token))


@router.get("/{token}/note", summary="My thank-you note")
async def my_note(session: WriteSessionDep, settings: SettingsDep, token: Token) -> PortalNoteView:
    """The interview this link is for, its interviewers, and the note: its versions, the
    recruiter's comment when they asked for a change, and what became of it."""
    return await portal.note_view(session, await _link(session, settings, token))


@router.post(
    "/{token}/note",
    status_code=status.HTTP_201_CREATED,
    summary="Write my thank-you note",
    responses=problem_responses(409),
)
async def write_note(
    session: SessionDep, settings: SettingsDep, token: Token, body: PortalNoteCreate
) -> PortalNoteView:
    """R-TY-1/2: the note (or, after a change request, its new version) goes to the recruiter
    first. A note after the 24-hour window is accepted and marked late."""
    link = await _link(session, settings, token)
    return await portal.write_note(session, link, body.text)


@router.post(
    "/{token}/feedback-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Ask for feedback",
    responses=problem_responses(409),
)
async def ask_feedback(
    session: SessionDep, settings: SettingsDep, token: Token, body: PortalFeedbackRequestCreate
) -> PortalAnswer:
    """R-FB: once per application, after a rejection. Your recruiter asks the client; where no
    one can be asked you are told so by email."""
    link = await _link(session, settings, token)
    await feedback_requests.request(
        session, candidate_id=link.candidate_id, submission_id=body.submission_id, now=utcnow()
    )
    return PortalAnswer(message="Your recruiter will come back to you by email.")


@router.post("/{token}/opt-out", summary="Stop automated status emails")
async def portal_opt_out(session: SessionDep, settings: SettingsDep, token: Token) -> PortalAnswer:
    """R-CAND-5: no more automated status emails; the recruiter's tasks still fire."""
    await portal.opt_out(session, await _link(session, settings, token))
    return PortalAnswer(message="You will get no more automated status updates.")


@staff_router.post(
    "/candidates/{candidate_id}/links",
    status_code=status.HTTP_201_CREATED,
    summary="Make a private link for a candidate",
    responses=problem_responses(404, 409),
)
async def make_link(
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    candidate_id: IdPath,
    body: LinkCreate,
) -> LinkIssued:
    """A link to pass on personally: a status link (30 days), or with `interview_id` a
    thank-you note link for that interview (72 hours). The URL is shown once."""
    candidate = await candidates.get(session, principal, candidate_id)
    assert candidate.id is not None
    if body.interview_id is not None:
        interview = await interviews.get(session, principal, body.interview_id)
        submission = await session.get(Submission, interview.submission_id)
        if submission is None or submission.candidate_id != candidate.id:
            raise Conflict("That interview is not this candidate's.")
    issued = links.issue(
        settings, candidate_id=candidate.id, interview_id=body.interview_id, now=utcnow()
    )
    table = CandidateLink.__table__  # type: ignore[attr-defined]
    new_id = (await session.execute(insert(table).returning(table.c.id), [issued.row])).scalar_one()
    await events.record(
        session,
        principal,
        action="candidate_link.created",
        record_type="candidate",
        record_id=candidate.id,
        data={"link_id": new_id, "interview_id": body.interview_id},
    )
    return LinkIssued(
        id=new_id,
        url=issued.url,
        candidate_id=candidate.id,
        interview_id=body.interview_id,
        expires_at=issued.row["expires_at"],
    )


@staff_router.post(
    "/candidate-links/{link_id}/revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a private link",
    responses=problem_responses(404),
)
async def revoke_link(session: SessionDep, principal: CurrentPrincipal, link_id: IdPath) -> None:
    """The link stops working at once (its holder gets 401)."""
    link = await session.get(CandidateLink, link_id)
    if link is None:
        raise NotFound(f"No candidate link with id {link_id}.")
    await candidates.get(session, principal, link.candidate_id)  # 404 unless visible
    await links.revoke(session, link, now=utcnow())
    await events.record(
        session,
        principal,
        action="candidate_link.revoked",
        record_type="candidate",
        record_id=link.candidate_id,
        data={"link_id": link_id},
    )
