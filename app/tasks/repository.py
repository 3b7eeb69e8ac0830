"""The named queries of the recruiter task queue (style rule 3)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth.principal import Principal
from app.submissions.models import Submission
from app.tasks.models import Task, TaskKind, TaskState


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """A recruiter sees the tasks assigned to them and those on submissions they can see."""
    clause = ownership.submissions(principal)
    if clause is None:
        return None
    return or_(
        col(Task.assignee_id) == principal.user_id,
        col(Task.submission_id).in_(select(col(Submission.id)).where(clause)),
    )


async def open_task_id(session: AsyncSession, *, submission_id: int, kind: TaskKind) -> int | None:
    """The open task of this kind on the submission, if any (one open task per kind)."""
    return await session.scalar(
        select(col(Task.id)).where(
            col(Task.submission_id) == submission_id,
            col(Task.kind) == kind.value,
            col(Task.state) == TaskState.open.value,
        )
    )


async def submission_owner(session: AsyncSession, submission_id: int) -> int | None:
    """Who a submission's tasks go to (None: the submission is gone)."""
    owner: int | None = await session.scalar(
        select(col(Submission.owner_id)).where(col(Submission.id) == submission_id)
    )
    return owner
