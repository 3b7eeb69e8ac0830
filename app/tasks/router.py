"""The recruiter task queue over REST."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import CurrentPrincipal
from app.core.clock import utcnow
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import IdPath, Paging, SubmissionFilter
from app.core.models import MAX_ID
from app.core.pagination import Page
from app.tasks import service
from app.tasks.models import TaskComplete, TaskKind, TaskPublic, TaskState

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=problem_responses(401, 422))


@router.get("", summary="List tasks")
async def list_tasks(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Paging,
    assignee_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Defaults to me.")
    ] = None,
    kind: Annotated[TaskKind | None, Query()] = None,
    state: Annotated[TaskState | None, Query()] = None,
    overdue: Annotated[bool | None, Query(description="Open and past breach.")] = None,
    submission_id: SubmissionFilter = None,
) -> Page[TaskPublic]:
    """A recruiter's own queue by default (admins and integrations see all, or filter)."""
    return await service.list_page(
        session,
        principal,
        page,
        assignee_id=assignee_id,
        kind=kind,
        state=state,
        overdue=overdue,
        submission_id=submission_id,
        now=utcnow(),
    )


@router.get("/{task_id}", summary="Get a task", responses=problem_responses(404))
async def get_task(session: SessionDep, principal: CurrentPrincipal, task_id: IdPath) -> TaskPublic:
    """One task, with its due and breach instants and, for a chase, the call window."""
    return service.public(await service.get(session, principal, task_id), now=utcnow())


@router.post(
    "/{task_id}/complete", summary="Complete a task", responses=problem_responses(404, 409)
)
async def complete_task(
    session: SessionDep, principal: CurrentPrincipal, task_id: IdPath, body: TaskComplete
) -> TaskPublic:
    """Mark an open task done. Decide tasks are answered with keep-waiting or close-submission."""
    task = await service.get(session, principal, task_id)
    done = await service.complete(session, principal, task, note=body.note)
    return service.public(done, now=utcnow())


@router.post(
    "/{task_id}/keep-waiting",
    summary="Decide: keep waiting",
    responses=problem_responses(404, 409),
)
async def keep_waiting(
    session: SessionDep, principal: CurrentPrincipal, task_id: IdPath
) -> TaskPublic:
    """R-SLA-4: schedules one more check 3 business days later (the agency's policy)."""
    task = await service.get(session, principal, task_id)
    return service.public(await service.keep_waiting(session, principal, task), now=utcnow())


@router.post(
    "/{task_id}/close-submission",
    summary="Decide: close the submission",
    responses=problem_responses(404, 409),
)
async def close_submission(
    session: SessionDep, principal: CurrentPrincipal, task_id: IdPath
) -> TaskPublic:
    """R-SLA-4: closes the submission as `closed` (no decision)."""
    task = await service.get(session, principal, task_id)
    return service.public(await service.close_submission(session, principal, task), now=utcnow())
