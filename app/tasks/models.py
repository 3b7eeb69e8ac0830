"""Recruiter tasks: chase, decide, review, fix address, feedback request — each with a due and a
breach instant and the record it is about."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlmodel import Field

from app.core.models import MultiLine, PublicModel, RequestModel, WorkTimestamps, instant_field


class TaskKind(StrEnum):
    chase = "chase"
    decide = "decide"
    review = "review"
    fix_address = "fix_address"
    feedback_request = "feedback_request"
    pass_on = "pass_on"  # noqa: S105 - a task kind, not a secret


class TaskState(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class Task(WorkTimestamps, table=True):
    __table_args__ = (Index("ix_task_assignee_state_due", "assignee_id", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: TaskKind = Field(sa_type=String(24))
    state: TaskState = Field(default=TaskState.open, sa_type=String(16))
    assignee_id: int = Field(foreign_key="user.id")
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    check_id: int | None = Field(
        default=None, foreign_key="sla_check.id", unique=True, description="At most one per check."
    )
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    title: str = Field(max_length=300)
    detail: str | None = Field(default=None, max_length=2000)
    due_at: datetime = instant_field(nullable=False)
    breach_at: datetime = instant_field(nullable=False)
    call_window_start_at: datetime | None = instant_field(default=None, nullable=True)
    call_window_end_at: datetime | None = instant_field(default=None, nullable=True)
    completed_at: datetime | None = instant_field(default=None, nullable=True)
    resolution: str | None = Field(default=None, max_length=64)


class TaskPublic(PublicModel):
    kind: TaskKind
    state: TaskState
    assignee_id: int
    submission_id: int | None
    check_id: int | None
    contact_id: int | None
    title: str
    detail: str | None
    due_at: datetime
    breach_at: datetime
    call_window_start_at: datetime | None = Field(
        description="R-CALL: the next suggested call window (UTC), in the contact's local "
        "10:00-11:00 or 15:00-16:00 on a business day."
    )
    call_window_end_at: datetime | None
    completed_at: datetime | None
    resolution: str | None
    overdue: bool = Field(default=False, description="Past its breach instant and still open.")


class TaskComplete(RequestModel):
    note: MultiLine | None = Field(default=None, max_length=2000)
