"""Interviews inside a submission, with the contacts who interview."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import CheckConstraint, String
from sqlmodel import Field, SQLModel

from app.core.models import (
    Day,
    ExternalId,
    Instant,
    PublicModel,
    RefId,
    RequestModel,
    SingleLine,
    SyncedTimestamps,
    UpdateModel,
    instant_field,
    not_null_columns,
    sync_order_index,
)


class InterviewKind(StrEnum):
    phone_screen = "phone_screen"
    hiring_manager_call = "hiring_manager_call"
    video = "video"
    onsite = "onsite"
    panel = "panel"


class InterviewStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"


class ReplyChannel(StrEnum):
    """How the client said the decision will come back."""

    recruiter = "recruiter"
    email = "email"
    phone = "phone"
    unknown = "unknown"


class InterviewBase(SQLModel):
    kind: InterviewKind = Field(sa_type=String(32))
    stated_decision_date: Day | None = Field(
        default=None, description="R-SLA-1: the date the client said a decision would come."
    )
    reply_channel: ReplyChannel = Field(default=ReplyChannel.unknown, sa_type=String(16))
    location: SingleLine | None = Field(default=None, max_length=500)
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)


class Interview(InterviewBase, SyncedTimestamps, table=True):
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    status: InterviewStatus = Field(default=InterviewStatus.scheduled, sa_type=String(16))
    starts_at: datetime = instant_field(nullable=False)
    ends_at: datetime = instant_field(nullable=False)


sync_order_index(Interview)  # the keyset of updated_since syncs (app.core.pagination)


class InterviewInterviewer(SQLModel, table=True):
    """Which contacts interview in which interview (R-TY-5: only they get the note)."""

    __tablename__ = "interview_interviewer"

    interview_id: int = Field(foreign_key="interview.id", primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, index=True)


def _check_span(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")


class InterviewCreate(InterviewBase, RequestModel):
    submission_id: RefId
    starts_at: Instant
    ends_at: Instant
    status: InterviewStatus = InterviewStatus.scheduled
    interviewer_ids: list[RefId] = Field(
        default_factory=list, max_length=50, description="Contacts of the job's client."
    )

    @model_validator(mode="after")
    def _span(self) -> InterviewCreate:
        _check_span(self.starts_at, self.ends_at)
        return self


class InterviewUpdate(UpdateModel):
    not_null = not_null_columns(Interview)

    kind: InterviewKind | None = None
    status: InterviewStatus | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    stated_decision_date: Day | None = None
    reply_channel: ReplyChannel | None = None
    location: SingleLine | None = Field(default=None, max_length=500)
    external_id: ExternalId | None = None
    interviewer_ids: list[RefId] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _span(self) -> InterviewUpdate:
        _check_span(self.starts_at, self.ends_at)
        return self


class InterviewPublic(InterviewBase, PublicModel):
    submission_id: int
    status: InterviewStatus
    starts_at: datetime
    ends_at: datetime
    interviewer_ids: list[int] = Field(default_factory=list)
