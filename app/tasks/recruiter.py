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
from app.sla import calendars
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
    task = Task(
        kind=TaskKind.fix_address,
        state=TaskState.open,
        assignee_id=owner,
        submission_id=submission_id,
        title=title[:300],
        detail=detail[:2000],
        due_at=now,
        breach_at=bt.add_business_days(agency, now, 1),
    )
    session.add(task)
    await session.flush()
    return task
