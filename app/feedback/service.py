"""Client feedback, and the recruiter's approval of the part a candidate may read (R-CAND-6)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth.principal import Principal
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import Conflict, InvalidInput
from app.core.filters import UpdatedSince
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.feedback.models import (
    Feedback,
    FeedbackCreate,
    FeedbackPublic,
    FeedbackUpdate,
    SummaryStatus,
)
from app.interviews.models import Interview
from app.sla import service as sla
from app.submissions.models import Submission


async def get(session: AsyncSession, principal: Principal, feedback_id: int) -> Feedback:
    return await crud.get_or_404(
        session, Feedback, feedback_id, visible=ownership.feedback(principal)
    )


async def read(session: AsyncSession, principal: Principal, feedback_id: int) -> FeedbackPublic:
    """One piece of feedback, as answered (no ORM object: issue 14)."""
    return await crud.read_or_404(
        session, Feedback, FeedbackPublic, feedback_id, visible=ownership.feedback(principal)
    )


async def create(session: AsyncSession, principal: Principal, data: FeedbackCreate) -> Feedback:
    now = utcnow()
    submission = await crud.require_ref(
        session,
        Submission,
        data.submission_id,
        field="body.submission_id",
        visible=ownership.submissions(principal),
    )
    if data.interview_id is not None:
        interview = await crud.require_ref(
            session, Interview, data.interview_id, field="body.interview_id"
        )
        if interview.submission_id != submission.id:
            raise InvalidInput("body.interview_id", "The interview belongs to another submission.")
    received_at = data.received_at or now
    crud.not_in_future("body.received_at", received_at, now)
    await crud.ensure_external_id_free(session, Feedback, data.external_id, own_id=None)
    feedback = Feedback.model_validate(
        data,
        update={
            "received_at": received_at,
            "summary_status": SummaryStatus.pending
            if data.shareable_summary
            else SummaryStatus.none,
        },
    )
    session.add(feedback)
    await session.flush()
    assert feedback.id is not None
    await events.record(
        session,
        principal,
        action="feedback.created",
        record_type="feedback",
        record_id=feedback.id,
        data={"submission_id": submission.id, "decision": feedback.decision},
    )
    await sla.on_feedback(
        session,
        submission,
        decision=str(feedback.decision),
        stated_decision_date=feedback.stated_decision_date,
        at=received_at,
    )
    return feedback


async def update(
    session: AsyncSession, principal: Principal, feedback: Feedback, data: FeedbackUpdate
) -> Feedback:
    changes = data.model_dump(exclude_unset=True)
    await crud.ensure_external_id_free(
        session, Feedback, changes.get("external_id"), own_id=feedback.id
    )
    if (
        "shareable_summary" in changes
        and changes["shareable_summary"] != feedback.shareable_summary
    ):
        # A changed summary must be approved again before any candidate can read it.
        changes["summary_status"] = (
            SummaryStatus.pending if changes["shareable_summary"] else SummaryStatus.none
        )
        changes["summary_approved_by_type"] = None
        changes["summary_approved_by"] = None
        changes["summary_approved_at"] = None
    await events.record_update(
        session,
        principal,
        record_type="feedback",
        record_id=feedback.id,
        changed=crud.apply_changes(feedback, changes),
    )
    return feedback


async def approve_summary(
    session: AsyncSession, principal: Principal, feedback: Feedback
) -> Feedback:
    """R-CAND-6 / R-FB: only an approved summary may ever reach the candidate."""
    if feedback.summary_status == SummaryStatus.none:
        raise Conflict("There is no shareable summary to approve.")
    if feedback.summary_status == SummaryStatus.approved:
        return feedback
    crud.apply_changes(
        feedback,
        {
            "summary_status": SummaryStatus.approved,
            "summary_approved_by_type": principal.actor_type,
            "summary_approved_by": principal.actor_id,
            "summary_approved_at": utcnow(),
        },
    )
    assert feedback.id is not None
    await events.record(
        session,
        principal,
        action="feedback.summary_approved",
        record_type="feedback",
        record_id=feedback.id,
    )
    return feedback


async def upsert(
    session: AsyncSession, principal: Principal, external_id: str, data: FeedbackCreate
) -> tuple[Feedback, bool]:
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Feedback, external_id)
    if existing is None:
        return await create(session, principal, data), True
    if name := crud.create_only_mismatch(
        existing, data.model_dump(), ("submission_id", "interview_id")
    ):
        raise Conflict(f"Feedback's {name} cannot change; record new feedback instead.")
    fields = data.model_dump(
        exclude_unset=True, exclude={"submission_id", "interview_id", "received_at"}
    )
    return await update(session, principal, existing, FeedbackUpdate.from_upsert(fields)), False


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    updated_since: UpdatedSince,
    submission_id: int | None,
    external_id: str | None,
) -> Page[FeedbackPublic]:
    stmt = crud.where_all(
        select(Feedback),
        ownership.feedback(principal),
        col(Feedback.submission_id) == submission_id if submission_id else None,
        col(Feedback.external_id) == external_id if external_id else None,
    )
    return await crud.fetch_page(
        session, stmt, Feedback, page, FeedbackPublic, updated_since=updated_since
    )
