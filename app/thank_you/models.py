"""Thank-you notes (R-TY): a note per interview and candidate, its versions, the review, and
what became of it for each interviewer (R-TY-5, R-CP-2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import WorkTimestamps, instant_field


class NoteState(StrEnum):
    awaiting_review = "awaiting_review"
    changes_requested = "changes_requested"
    approved = "approved"
    withheld = "withheld"


class NoteSource(StrEnum):
    candidate = "candidate"  # through the private link
    recruiter = "recruiter"  # entered by the recruiter on the candidate's behalf (R-TY-1)


class VersionAuthor(StrEnum):
    candidate = "candidate"
    recruiter = "recruiter"  # a note entered on the candidate's behalf
    recruiter_edit = "recruiter_edit"  # the approved text, edited by the reviewer (R-TY-3)


class RecipientOutcome(StrEnum):
    emailed = "emailed"  # an `open` contact: a message in the outbox
    pass_on = "pass_on"  # noqa: S105 - `recruiter_only` (or no address): a task to pass it on
    withheld = "withheld"  # `do_not_contact`: nothing sent, no task (R-CP-2)


class ThankYouNote(WorkTimestamps, table=True):
    __tablename__ = "thank_you_note"
    __table_args__ = (UniqueConstraint("interview_id"),)

    id: int | None = Field(default=None, primary_key=True)
    interview_id: int = Field(foreign_key="interview.id")
    submission_id: int = Field(foreign_key="submission.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    reviewer_id: int = Field(foreign_key="user.id", index=True, description="The owner recruiter.")
    state: NoteState = Field(default=NoteState.awaiting_review, sa_type=String(24))
    source: NoteSource = Field(sa_type=String(16))
    late: bool = Field(default=False, description="R-TY-4: arrived after the 24-hour window.")
    after_rejection: bool = Field(default=False, description="R-TY-6: written after a rejection.")
    received_at: datetime = instant_field(nullable=False)
    review_due_at: datetime | None = instant_field(default=None, nullable=True)
    review_breach_at: datetime | None = instant_field(default=None, nullable=True)
    review_task_id: int | None = Field(default=None, foreign_key="task.id")
    reviewed_at: datetime | None = instant_field(default=None, nullable=True)
    review_comment: str | None = Field(
        default=None, sa_type=Text, description="A change request: the candidate sees it."
    )
    withheld_reason: str | None = Field(
        default=None, sa_type=Text, description="Internal: the candidate is told kindly."
    )
    approved_version: int | None = Field(
        default=None, description="The number of the version that was sent (R-TY-3)."
    )


class NoteVersion(SQLModel, table=True):
    """Every text the note had: each candidate version and the reviewer's edit (R-TY-3)."""

    __tablename__ = "note_version"
    __table_args__ = (UniqueConstraint("note_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="thank_you_note.id", index=True)
    number: int
    author: VersionAuthor = Field(sa_type=String(16))
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    text: str = Field(sa_type=Text)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = instant_field(nullable=False)


class NoteRecipient(SQLModel, table=True):
    """What an approved note became for one interviewer (R-TY-5, R-CP-2)."""

    __tablename__ = "note_recipient"

    note_id: int = Field(foreign_key="thank_you_note.id", primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", primary_key=True)
    outcome: RecipientOutcome = Field(sa_type=String(16))
    reason: str | None = Field(default=None, max_length=200)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
