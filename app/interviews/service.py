"""Interviews of a submission, and who interviews (R-TY-5 needs exactly that list)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth.principal import Principal
from app.clients.models import Contact
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import Conflict, InvalidInput
from app.core.filters import UpdatedSince
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.interviews.models import (
    Interview,
    InterviewCreate,
    InterviewInterviewer,
    InterviewPublic,
    InterviewStatus,
    InterviewUpdate,
)
from app.jobs.models import Job
from app.sla import service as sla
from app.submissions import states
from app.submissions.models import Submission
from app.submissions.states import Stage
from app.thank_you import service as thank_you


async def get(session: AsyncSession, principal: Principal, interview_id: int) -> Interview:
    return await crud.get_or_404(
        session, Interview, interview_id, visible=ownership.interviews(principal)
    )


async def interviewer_ids(
    session: AsyncSession, interview_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Interviewers of many interviews in one query (no N+1 on list pages)."""
    found: dict[int, list[int]] = defaultdict(list)
    if not interview_ids:
        return found
    stmt = (
        select(col(InterviewInterviewer.interview_id), col(InterviewInterviewer.contact_id))
        .where(col(InterviewInterviewer.interview_id).in_(interview_ids))
        .order_by(col(InterviewInterviewer.contact_id))
    )
    for interview_id, contact_id in (await session.execute(stmt)).all():
        found[interview_id].append(contact_id)
    return found


async def public(session: AsyncSession, interview: Interview) -> InterviewPublic:
    assert interview.id is not None
    ids = await interviewer_ids(session, [interview.id])
    return InterviewPublic.model_validate(interview, update={"interviewer_ids": ids[interview.id]})


async def _check_interviewers(
    session: AsyncSession, submission: Submission, contact_ids: list[int], field: str
) -> list[int]:
    """Interviewers must be contacts of the job's client: nobody else gets the thank-you note."""
    unique = sorted(set(contact_ids))
    if not unique:
        return unique
    client_id = await session.scalar(
        select(col(Job.client_id)).where(col(Job.id) == submission.job_id)
    )
    stmt = select(col(Contact.id)).where(
        col(Contact.id).in_(unique), col(Contact.client_id) == client_id
    )
    valid = set((await session.execute(stmt)).scalars())
    missing = [cid for cid in unique if cid not in valid]
    if missing:
        raise InvalidInput(field, f"Not contacts of this job's client: {missing}.")
    return unique


async def _set_interviewers(
    session: AsyncSession, interview_id: int, contact_ids: list[int]
) -> None:
    await session.execute(
        delete(InterviewInterviewer).where(col(InterviewInterviewer.interview_id) == interview_id)
    )
    session.add_all(
        InterviewInterviewer(interview_id=interview_id, contact_id=cid) for cid in contact_ids
    )
    await session.flush()  # sessions do not autoflush: the answer reads these rows back


async def create(session: AsyncSession, principal: Principal, data: InterviewCreate) -> Interview:
    submission = await crud.require_ref(
        session,
        Submission,
        data.submission_id,
        field="body.submission_id",
        visible=ownership.submissions(principal),
    )
    if Stage(submission.stage) in states.FINAL:
        raise Conflict(f"Submission {submission.id} is {submission.stage}; it takes no interviews.")
    contacts = await _check_interviewers(
        session, submission, data.interviewer_ids, "body.interviewer_ids"
    )
    await crud.ensure_external_id_free(session, Interview, data.external_id, own_id=None)
    interview = Interview.model_validate(data)
    session.add(interview)
    await session.flush()
    assert interview.id is not None
    await _set_interviewers(session, interview.id, contacts)
    await events.record(
        session,
        principal,
        action="interview.created",
        record_type="interview",
        record_id=interview.id,
        data={"submission_id": submission.id},
    )
    if interview.stated_decision_date is not None:
        await sla.on_decision_date_changed(session, submission)
    if interview.status == InterviewStatus.held:
        await thank_you.on_interview_held(session, interview, now=utcnow())
    return interview


async def update(
    session: AsyncSession, principal: Principal, interview: Interview, data: InterviewUpdate
) -> Interview:
    changes = data.model_dump(exclude_unset=True)
    new_ids = changes.pop("interviewer_ids", None)
    starts = changes.get("starts_at", interview.starts_at)
    ends = changes.get("ends_at", interview.ends_at)
    if starts is None or ends is None or ends <= starts:
        raise InvalidInput("body.ends_at", "ends_at must be after starts_at.")
    await crud.ensure_external_id_free(
        session, Interview, changes.get("external_id"), own_id=interview.id
    )
    assert interview.id is not None
    changed = crud.apply_changes(interview, changes)
    if new_ids is not None:
        submission = await session.get(Submission, interview.submission_id)
        assert submission is not None
        contacts = await _check_interviewers(session, submission, new_ids, "body.interviewer_ids")
        current = (await interviewer_ids(session, [interview.id]))[interview.id]
        if contacts != current:
            await _set_interviewers(session, interview.id, contacts)
            changed.append("interviewer_ids")
            interview.updated_at = utcnow()
    if "stated_decision_date" in changed or "status" in changed:
        submission = await session.get(Submission, interview.submission_id)
        assert submission is not None
        await sla.on_decision_date_changed(session, submission)
    await events.record_update(
        session, principal, record_type="interview", record_id=interview.id, changed=changed
    )
    if "status" in changed and interview.status == InterviewStatus.held:
        await thank_you.on_interview_held(session, interview, now=utcnow())
    return interview


async def upsert(
    session: AsyncSession, principal: Principal, external_id: str, data: InterviewCreate
) -> tuple[Interview, bool]:
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Interview, external_id)
    if existing is None:
        return await create(session, principal, data), True
    if crud.create_only_mismatch(existing, data.model_dump(), ("submission_id",)):
        raise Conflict("An interview cannot move to another submission.")
    fields = data.model_dump(exclude_unset=True, exclude={"submission_id"})
    fields.setdefault("starts_at", data.starts_at)
    fields.setdefault("ends_at", data.ends_at)
    return await update(session, principal, existing, InterviewUpdate.from_upsert(fields)), False


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    updated_since: UpdatedSince,
    submission_id: int | None,
    external_id: str | None,
) -> Page[InterviewPublic]:
    stmt = crud.where_all(
        select(Interview),
        ownership.interviews(principal),
        col(Interview.submission_id) == submission_id if submission_id else None,
        col(Interview.external_id) == external_id if external_id else None,
    )
    result = await crud.fetch_page(
        session, stmt, Interview, page, InterviewPublic, updated_since=updated_since
    )
    ids = await interviewer_ids(session, [item.id for item in result.items])
    for item in result.items:
        item.interviewer_ids = ids[item.id]
    return result
