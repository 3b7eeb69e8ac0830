"""Feedback requests (R-FB): after a rejection the candidate may ask, once per submission.

The request becomes a task for the owner recruiter, who answers with a summary they approve
(their own words, or a feedback record's summary once approved) or declines. Where the job's
contact is ``do_not_contact``, or there is none to ask, the candidate is told kindly at once that
feedback is not available, and no task asks anyone to contact them (R-CP-2).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import SYSTEM, Principal
from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.core import crud
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.feedback.models import (
    Feedback,
    FeedbackRequest,
    FeedbackRequestPublic,
    FeedbackRequestState,
    SummaryStatus,
)
from app.feedback.requests import repository
from app.messaging import outbox
from app.messaging.models import MessageKind
from app.submissions.models import Submission
from app.submissions.states import Stage
from app.tasks.models import TaskKind
from app.tasks.recruiter import finish_task, open_task

#: A feedback request is answered within 2 business days, breached at 3 (agency calendar).
ANSWER_DAYS, BREACH_DAYS = 2, 3


async def get(session: AsyncSession, principal: Principal, request_id: int) -> FeedbackRequest:
    return await crud.get_or_404(
        session, FeedbackRequest, request_id, visible=repository.visible_to(principal)
    )


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    state: FeedbackRequestState | None,
    submission_id: int | None,
) -> Page[FeedbackRequestPublic]:
    stmt = crud.where_all(
        select(FeedbackRequest),
        repository.visible_to(principal),
        col(FeedbackRequest.state) == state.value if state else None,
        col(FeedbackRequest.submission_id) == submission_id if submission_id else None,
    )
    return await crud.fetch_page(session, stmt, FeedbackRequest, page, FeedbackRequestPublic)


async def request(
    session: AsyncSession, *, candidate_id: int, submission_id: int, now: datetime
) -> FeedbackRequest:
    """The candidate asks (through their link) for feedback on one rejected submission."""
    submission = await session.get(Submission, submission_id)
    if submission is None or submission.candidate_id != candidate_id:
        raise NotFound(f"No application with id {submission_id}.")
    if submission.stage != Stage.rejected:
        raise Conflict("Feedback can be asked for once the client has made a decision to reject.")
    if await repository.asked_already(session, submission_id):
        raise Conflict("Feedback was already asked for on this application (once per application).")
    row = FeedbackRequest(submission_id=submission_id, candidate_id=candidate_id, requested_at=now)
    session.add(row)
    await session.flush()
    assert row.id is not None
    if not await repository.someone_to_ask(session, submission):
        row.state, row.answered_at = FeedbackRequestState.unavailable, now
        row.reason = "R-FB no contact who may be asked (none, or do_not_contact)"
        await _tell(session, row, MessageKind.feedback_unavailable, now=now)
    else:
        agency = await calendars.default_calendar(session)
        task = await open_task(
            session,
            kind=TaskKind.feedback_request,
            assignee_id=submission.owner_id,
            submission_id=submission_id,
            title=f"The candidate asks for feedback on submission {submission_id}",
            detail="Ask the client, then answer with a summary you approve (never their "
            "internal notes), or decline and the candidate is told kindly.",
            due_at=bt.add_business_days(agency, now, ANSWER_DAYS),
            breach_at=bt.add_business_days(agency, now, BREACH_DAYS),
        )
        row.task_id = task.id
    await events.record(
        session,
        SYSTEM,
        action="feedback_request.created",
        record_type="submission",
        record_id=submission_id,
        data={"request_id": row.id, "state": str(row.state), "via": "private link"},
    )
    return row


async def _tell(
    session: AsyncSession,
    row: FeedbackRequest,
    kind: MessageKind,
    *,
    now: datetime,
    detail: str | None = None,
) -> None:
    await outbox.enqueue_to_candidate(
        session,
        kind=kind,
        submission_id=row.submission_id,
        candidate_id=row.candidate_id,
        due_at=now,
        reason="feedback request",
        automated=False,  # an answer to the candidate's own question
        detail=detail,
    )


def _open(row: FeedbackRequest) -> None:
    if row.state != FeedbackRequestState.open:
        raise Conflict(f"This feedback request is already {row.state!s}.")


async def answer(
    session: AsyncSession,
    principal: Principal,
    row: FeedbackRequest,
    *,
    summary: str | None,
    feedback_id: int | None,
    now: datetime,
) -> FeedbackRequest:
    """R-FB: the candidate gets a recruiter-approved summary, never internal notes."""
    _open(row)
    if (summary is None) == (feedback_id is None):
        raise InvalidInput("body", "Give exactly one of `summary` and `feedback_id`.")
    if feedback_id is not None:
        feedback = await session.get(Feedback, feedback_id)
        if feedback is None or feedback.submission_id != row.submission_id:
            raise InvalidInput("body.feedback_id", "Not feedback on this submission.")
        if feedback.summary_status != SummaryStatus.approved or not feedback.shareable_summary:
            raise Conflict("That feedback has no approved shareable summary yet.")
        summary = feedback.shareable_summary
    assert summary is not None
    row.state, row.summary, row.answered_at = FeedbackRequestState.answered, summary, now
    row.answered_by = principal.user_id
    await finish_task(session, row.task_id, now=now, resolution="answered")
    await _tell(session, row, MessageKind.feedback_shared, now=now, detail=summary)
    await events.record(
        session,
        principal,
        action="feedback_request.answered",
        record_type="submission",
        record_id=row.submission_id,
        data={"request_id": row.id},
    )
    return row


async def decline(
    session: AsyncSession, principal: Principal, row: FeedbackRequest, *, reason: str, now: datetime
) -> FeedbackRequest:
    """R-FB: no feedback can be had; the candidate is told kindly (not the reason)."""
    _open(row)
    row.state, row.reason, row.answered_at = FeedbackRequestState.unavailable, reason, now
    row.answered_by = principal.user_id
    await finish_task(session, row.task_id, now=now, resolution="declined")
    await _tell(session, row, MessageKind.feedback_unavailable, now=now)
    await events.record(
        session,
        principal,
        action="feedback_request.declined",
        record_type="submission",
        record_id=row.submission_id,
        data={"request_id": row.id},
    )
    return row
