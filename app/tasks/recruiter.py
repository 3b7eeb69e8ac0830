"""Tasks other domains hand to a submission's recruiter (messaging failures, provider bounces).

One place, so every such task is made the same way: assigned to the submission's owner, due now,
breached a business day later on the agency's default calendar (R-BT: recruiter tasks use it),
and never twice while one is still open for the same submission.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.submissions.models import Submission
from app.tasks.models import Task, TaskKind, TaskState


async def open_fix_address_task(
    session: AsyncSession, submission_id: int, *, title: str, detail: str, now: datetime
) -> Task | None:
    """R-CAND-5: the recruiter fixes the candidate's address; one open task per submission.
    Returns the new task, or None when one is already open (or the submission is gone)."""
    already = await session.scalar(
        select(col(Task.id)).where(
            col(Task.submission_id) == submission_id,
            col(Task.kind) == TaskKind.fix_address.value,
            col(Task.state) == TaskState.open.value,
        )
    )
    if already is not None:
        return None
    owner = await session.scalar(
        select(col(Submission.owner_id)).where(col(Submission.id) == submission_id)
    )
    if owner is None:
        return None
    agency = await calendars.default_calendar(session)
    return await open_task(
        session,
        kind=TaskKind.fix_address,
        assignee_id=owner,
        submission_id=submission_id,
        title=title,
        detail=detail,
        due_at=now,
        breach_at=bt.add_business_days(agency, now, 1),
    )


async def open_task(
    session: AsyncSession,
    *,
    kind: TaskKind,
    assignee_id: int,
    submission_id: int | None,
    title: str,
    detail: str,
    due_at: datetime,
    breach_at: datetime,
    contact_id: int | None = None,
) -> Task:
    """A task for a recruiter from another domain (review, pass on, feedback request)."""
    task = Task(
        kind=kind,
        state=TaskState.open,
        assignee_id=assignee_id,
        submission_id=submission_id,
        contact_id=contact_id,
        title=title[:300],
        detail=detail[:2000],
        due_at=due_at,
        breach_at=breach_at,
    )
    session.add(task)
    await session.flush()
    return task


async def open_pass_on_task(
    session: AsyncSession,
    *,
    assignee_id: int,
    submission_id: int,
    contact_id: int,
    contact_name: str,
    why: str,
    now: datetime,
) -> Task:
    """R-CP-2: a `recruiter_only` contact (or one Candor cannot email) gets an approved note
    from the recruiter personally; due now, breached a business day later (agency calendar)."""
    agency = await calendars.default_calendar(session)
    return await open_task(
        session,
        kind=TaskKind.pass_on,
        assignee_id=assignee_id,
        submission_id=submission_id,
        contact_id=contact_id,
        title=f"Pass a thank-you note on to {contact_name} personally",
        detail=f"{why} The approved text is on the note (GET /v1/notes?submission_id="
        f"{submission_id}).",
        due_at=now,
        breach_at=bt.add_business_days(agency, now, 1),
    )


async def finish_task(
    task_id: int | None, session: AsyncSession, *, now: datetime, resolution: str
) -> None:
    """Close a task another domain's action answered (a review decided, a request answered)."""
    if task_id is None:
        return
    task = await session.get(Task, task_id)
    if task is not None and task.state == TaskState.open:
        task.state, task.completed_at, task.resolution = TaskState.done, now, resolution
        task.updated_at = now
