"""What the client said: a decision, internal notes, and a summary shareable once approved."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from app.core.models import (
    Day,
    ExternalId,
    Instant,
    LongText,
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


class Decision(StrEnum):
    advance = "advance"
    reject = "reject"
    hold = "hold"
    offer = "offer"
    none = "none"


class SummaryStatus(StrEnum):
    """R-CAND-6 / R-FB: a summary reaches a candidate only once a recruiter approved it."""

    none = "none"
    pending = "pending"
    approved = "approved"


class FeedbackBase(SQLModel):
    decision: Decision = Field(sa_type=String(16))
    internal_notes: LongText | None = Field(
        default=None, sa_type=Text, description="Never shown to candidates (R-CAND-6)."
    )
    shareable_summary: LongText | None = Field(
        default=None, sa_type=Text, description="May be shared once a recruiter approves it."
    )
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)
    stated_decision_date: Day | None = Field(
        default=None, description="R-SLA-5: with `hold`, the new date the client gave."
    )


class Feedback(FeedbackBase, SyncedTimestamps, table=True):
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    interview_id: int | None = Field(default=None, foreign_key="interview.id", index=True)
    received_at: datetime = instant_field(nullable=False)
    summary_status: SummaryStatus = Field(default=SummaryStatus.none, sa_type=String(16))
    summary_approved_by_type: str | None = Field(default=None, max_length=16)
    summary_approved_by: int | None = None
    summary_approved_at: datetime | None = instant_field(default=None, nullable=True)


sync_order_index(Feedback)  # the keyset of updated_since syncs (app.core.pagination)


class FeedbackCreate(FeedbackBase, RequestModel):
    submission_id: RefId
    interview_id: RefId | None = Field(default=None, description="An interview of the submission.")
    received_at: Instant | None = Field(
        default=None, description="When the client said it; never in the future."
    )


class FeedbackUpdate(UpdateModel):
    not_null = not_null_columns(Feedback)

    decision: Decision | None = None
    stated_decision_date: Day | None = None
    internal_notes: LongText | None = None
    shareable_summary: LongText | None = None
    external_id: ExternalId | None = None


class FeedbackPublic(FeedbackBase, PublicModel):
    submission_id: int
    interview_id: int | None
    received_at: datetime
    summary_status: SummaryStatus
    summary_approved_by_type: str | None
    summary_approved_by: int | None
    summary_approved_at: datetime | None


class FeedbackRequestState(StrEnum):
    open = "open"  # a task for the recruiter
    answered = "answered"  # an approved summary went to the candidate
    unavailable = "unavailable"  # the candidate was told kindly that none can be had


class FeedbackRequest(SQLModel, table=True):
    """R-FB: after a rejection, the candidate may ask once per submission for feedback."""

    __tablename__ = "feedback_request"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", unique=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    state: FeedbackRequestState = Field(default=FeedbackRequestState.open, sa_type=String(16))
    requested_at: datetime = instant_field(nullable=False)
    task_id: int | None = Field(default=None, foreign_key="task.id")
    answered_at: datetime | None = instant_field(default=None, nullable=True)
    answered_by: int | None = Field(default=None, foreign_key="user.id")
    reason: str | None = Field(default=None, max_length=500, description="Internal.")
    summary: str | None = Field(
        default=None, sa_type=Text, description="The recruiter-approved summary that was shared."
    )


class FeedbackRequestPublic(SQLModel):
    id: int
    submission_id: int
    candidate_id: int
    state: FeedbackRequestState
    requested_at: datetime
    task_id: int | None
    answered_at: datetime | None
    reason: str | None
    summary: str | None


class FeedbackAnswer(RequestModel):
    """Exactly one: the words to share, or a feedback record whose summary was approved."""

    summary: LongText | None = Field(default=None, min_length=1)
    feedback_id: RefId | None = None


class FeedbackDecline(RequestModel):
    reason: MultiLine = Field(
        min_length=1,
        max_length=500,
        description="Internal; the candidate is told kindly that feedback is not available.",
    )
