"""Tasks other domains hand to a submission's recruiter (messaging failures, provider bounces).

One place, so every such task is made the same way: assigned to the submission's owner, due now,
breached a business day later on the agency's default calendar (R-BT: recruiter tasks use it),
and never twice while one is still open for the same submission.

Every task another domain opens is made by ``open_task`` (one, as an ORM row) or ``open_tasks``
(many at once, the SLA sweep's batches: ``COPY`` on PostgreSQL, ``app.core.bulk``); both take
the columns from ``NewTask.columns``, so a new task column has one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.core import bulk
from app.tasks import repository
from app.tasks.models import Task, TaskKind, TaskState


async def open_fix_address_task(
    session: AsyncSession, submission_id: int, *, title: str, detail: str, now: datetime
) -> Task | None:
    """R-CAND-5: the recruiter fixes the candidate's address; one open task per submission.
    Returns the new task, or None when one is already open (or the submission is gone)."""
    if await repository.open_task_id(
        session, submission_id=submission_id, kind=TaskKind.fix_address
    ):
        return None
    owner = await repository.submission_owner(session, submission_id)
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


@dataclass(frozen=True, slots=True)
class NewTask:
    """An open task to write: what ``open_task`` makes one of and ``open_tasks`` many of."""

    kind: TaskKind
    assignee_id: int
    submission_id: int | None
    title: str
    detail: str
    due_at: datetime
    breach_at: datetime
    contact_id: int | None = None
    check_id: int | None = None  # the SLA check it chases (R-SLA), if any
    call_window: tuple[datetime, datetime] | None = None  # R-CALL

    def columns(self) -> dict[str, Any]:
        """The task's columns, without its id and timestamps (an open task, text bounded)."""
        start, end = self.call_window or (None, None)
        return {
            "kind": self.kind,
            "state": TaskState.open,
            "assignee_id": self.assignee_id,
            "submission_id": self.submission_id,
            "check_id": self.check_id,
            "contact_id": self.contact_id,
            "title": self.title[:300],
            "detail": self.detail[:2000],
            "due_at": self.due_at,
            "breach_at": self.breach_at,
            "call_window_start_at": start,
            "call_window_end_at": end,
        }


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
    new = NewTask(
        kind=kind,
        assignee_id=assignee_id,
        submission_id=submission_id,
        contact_id=contact_id,
        title=title,
        detail=detail,
        due_at=due_at,
        breach_at=breach_at,
    )
    task = Task(**new.columns())
    session.add(task)
    await session.flush()
    return task


async def open_tasks(
    session: AsyncSession, tasks: Sequence[NewTask], *, now: datetime
) -> list[int]:
    """Many tasks at once, in the caller's transaction (``COPY`` on PostgreSQL); answers their
    ids in the order of ``tasks``. Nothing is loaded into the session."""
    rows = [
        new.columns()
        | {
            "kind": new.kind.value,
            "state": TaskState.open.value,
            "created_at": now,
            "updated_at": now,
        }
        for new in tasks
    ]
    writer = bulk.writer(session)
    return await writer.insert_returning_ids(Task.__table__, rows)  # type: ignore[attr-defined]


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
    session: AsyncSession, task_id: int | None, *, now: datetime, resolution: str
) -> None:
    """Close a task another domain's action answered (a review decided, a request answered)."""
    if task_id is None:
        return
    task = await session.get(Task, task_id)
    if task is not None and task.state == TaskState.open:
        task.state, task.completed_at, task.resolution = TaskState.done, now, resolution
        task.updated_at = now
