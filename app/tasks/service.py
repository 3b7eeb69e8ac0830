"""The recruiter task queue: listing, completing, and the two answers to a decide task."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import Principal
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import Conflict
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.sla import service as sla
from app.submissions import service as submissions
from app.submissions import states
from app.submissions.models import StageMoveCreate, Submission
from app.submissions.states import Stage
from app.tasks import repository
from app.tasks.models import Task, TaskKind, TaskPublic, TaskState


def public(task: Task, *, now: datetime) -> TaskPublic:
    return TaskPublic.model_validate(
        task, update={"overdue": task.state == TaskState.open and task.breach_at <= now}
    )


async def get(session: AsyncSession, principal: Principal, task_id: int) -> Task:
    return await crud.get_or_404(session, Task, task_id, visible=repository.visible_to(principal))


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    assignee_id: int | None,
    kind: TaskKind | None,
    state: TaskState | None,
    overdue: bool | None,
    submission_id: int | None,
    now: datetime,
) -> Page[TaskPublic]:
    """Mine by default: a recruiter's own queue; admins and integrations filter by assignee."""
    if principal.is_recruiter and assignee_id is None:
        assignee_id = principal.user_id
    overdue_clause: ColumnElement[bool] | None = None
    if overdue is True:
        overdue_clause = (col(Task.state) == TaskState.open.value) & (col(Task.breach_at) <= now)
    elif overdue is False:
        overdue_clause = (col(Task.state) != TaskState.open.value) | (col(Task.breach_at) > now)
    stmt = crud.where_all(
        select(Task),
        repository.visible_to(principal),
        col(Task.assignee_id) == assignee_id if assignee_id else None,
        col(Task.kind) == kind.value if kind else None,
        col(Task.state) == state.value if state else None,
        col(Task.submission_id) == submission_id if submission_id else None,
        overdue_clause,
    )
    result = await crud.fetch_page(session, stmt, Task, page, TaskPublic)
    for item in result.items:
        item.overdue = item.state == TaskState.open and item.breach_at <= now
    return result


def _finish(task: Task, *, resolution: str, now: datetime) -> None:
    if task.state != TaskState.open:
        raise Conflict(f"Task {task.id} is already {task.state}.")
    crud.apply_changes(
        task, {"state": TaskState.done, "completed_at": now, "resolution": resolution}
    )


async def complete(
    session: AsyncSession, principal: Principal, task: Task, *, note: str | None
) -> Task:
    """Done. A decide task needs a decision instead (keep waiting, or close)."""
    if task.kind == TaskKind.decide:
        raise Conflict("A decide task is answered with keep-waiting or close-submission.")
    now = utcnow()
    _finish(task, resolution="done", now=now)
    assert task.id is not None
    await events.record(
        session,
        principal,
        action="task.completed",
        record_type="task",
        record_id=task.id,
        data={"kind": str(task.kind), "with_note": note is not None},
    )
    return task


async def _decide_target(session: AsyncSession, principal: Principal, task: Task) -> Submission:
    if task.kind != TaskKind.decide or task.submission_id is None:
        raise Conflict("Only a decide task takes this action.")
    return await submissions.get(session, principal, task.submission_id)


async def keep_waiting(session: AsyncSession, principal: Principal, task: Task) -> Task:
    """R-SLA-4: one more check, 3 business days later (policy)."""
    submission = await _decide_target(session, principal, task)
    now = utcnow()
    _finish(task, resolution="kept_waiting", now=now)
    await sla.keep_waiting(session, submission, now=now)
    assert task.id is not None
    await events.record(
        session, principal, action="task.kept_waiting", record_type="task", record_id=task.id
    )
    return task


async def close_submission(session: AsyncSession, principal: Principal, task: Task) -> Task:
    """R-SLA-4: close the submission as `closed` (no decision)."""
    submission = await _decide_target(session, principal, task)
    now = utcnow()
    _finish(task, resolution="closed", now=now)
    if Stage(submission.stage) not in states.FINAL:
        await submissions.move(
            session,
            principal,
            submission,
            StageMoveCreate(to_stage=Stage.closed, reason="no decision after silence"),
            now=now,
        )
    assert task.id is not None
    await events.record(
        session, principal, action="task.closed_submission", record_type="task", record_id=task.id
    )
    return task
