"""Requests and answers for thank-you notes: the recruiter's views carry everything; the
candidate's views (app/portal) have their own models."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlmodel import SQLModel

from app.core.models import MultiLine, RequestModel
from app.thank_you.models import NoteSource, NoteState, RecipientOutcome, VersionAuthor

NoteText = Field(min_length=1, max_length=10_000, description="The note, plain text.")


class NoteCreate(RequestModel):
    text: MultiLine = NoteText


class NoteApprove(RequestModel):
    text: MultiLine | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="R-TY-3: an edited text to send instead; both versions are kept.",
    )


class NoteRequestChanges(RequestModel):
    comment: MultiLine = Field(
        min_length=1, max_length=2000, description="The candidate sees this comment."
    )


class NoteWithhold(RequestModel):
    reason: MultiLine = Field(
        min_length=1,
        max_length=2000,
        description="Internal: the candidate is told kindly, without this reason.",
    )


class FindingPublic(SQLModel):
    code: str
    message: str
    start: int
    end: int


class NoteVersionPublic(SQLModel):
    number: int
    author: VersionAuthor
    text: str
    findings: list[FindingPublic]
    created_at: datetime


class NoteRecipientPublic(SQLModel):
    contact_id: int
    outcome: RecipientOutcome
    reason: str | None
    message_id: int | None
    task_id: int | None


class NotePublic(SQLModel):
    id: int
    interview_id: int
    submission_id: int
    candidate_id: int
    reviewer_id: int
    state: NoteState
    source: NoteSource
    late: bool
    after_rejection: bool
    received_at: datetime
    review_due_at: datetime | None
    review_breach_at: datetime | None
    review_task_id: int | None
    reviewed_at: datetime | None
    review_comment: str | None
    withheld_reason: str | None
    approved_version: int | None
    versions: list[NoteVersionPublic] = Field(default_factory=list)
    recipients: list[NoteRecipientPublic] = Field(default_factory=list)


class LinkCreate(RequestModel):
    interview_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="For a thank-you note link (72 hours); leave out for a status link.",
    )


class LinkIssued(SQLModel):
    id: int
    url: str = Field(description="Shown once: only a hash of its token is kept.")
    candidate_id: int
    interview_id: int | None
    expires_at: datetime
