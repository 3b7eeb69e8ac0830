"""Submissions (one candidate for one job) and their stage history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import (
    ExternalId,
    Instant,
    MultiLine,
    PublicModel,
    RefId,
    RequestModel,
    SyncedTimestamps,
    UpdateModel,
    instant_field,
    not_null_columns,
    sync_order_index,
)
from app.submissions.states import Stage


class SubmissionBase(SQLModel):
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)


class Submission(SubmissionBase, SyncedTimestamps, table=True):
    __table_args__ = (UniqueConstraint("candidate_id", "job_id"),)

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    owner_id: int = Field(foreign_key="user.id", index=True)
    stage: Stage = Field(default=Stage.submitted, sa_type=String(32), index=True)
    stage_changed_at: datetime = instant_field(nullable=False)
    submitted_at: datetime = instant_field(nullable=False)


sync_order_index(Submission)  # the keyset of updated_since syncs (app.core.pagination)


class SubmissionCreate(SubmissionBase, RequestModel):
    candidate_id: RefId
    job_id: RefId
    owner_id: RefId | None = Field(
        default=None, description="Owner recruiter; defaults to the candidate's owner."
    )
    submitted_at: Instant | None = Field(
        default=None, description="When it really happened (backdating); never in the future."
    )


class SubmissionUpdate(UpdateModel):
    not_null = not_null_columns(Submission)

    external_id: ExternalId | None = None
    owner_id: RefId | None = Field(default=None, description="Reassign (admins, integrations).")


class SubmissionPublic(SubmissionBase, PublicModel):
    candidate_id: int
    job_id: int
    owner_id: int
    stage: Stage
    stage_changed_at: datetime
    submitted_at: datetime
    allowed_moves: list[Stage] = Field(default_factory=list)


class StageMove(SQLModel, table=True):
    """History: never updated or deleted."""

    __tablename__ = "stage_move"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    from_stage: Stage | None = Field(default=None, sa_type=String(32))
    to_stage: Stage = Field(sa_type=String(32))
    occurred_at: datetime = instant_field(nullable=False)
    recorded_at: datetime = instant_field(nullable=False)
    actor_type: str = Field(max_length=16)
    actor_id: int | None = None
    reason: str | None = Field(default=None, max_length=1000)


class StageMoveCreate(RequestModel):
    to_stage: Stage
    occurred_at: Instant | None = Field(
        default=None,
        description="When the move really happened (an ATS may backdate); never in the future, "
        "never before the current stage began.",
    )
    reason: MultiLine | None = Field(default=None, max_length=1000)


class StageMovePublic(SQLModel):
    id: int
    submission_id: int
    from_stage: Stage | None
    to_stage: Stage
    occurred_at: datetime
    recorded_at: datetime
    actor_type: str
    actor_id: int | None
    reason: str | None
