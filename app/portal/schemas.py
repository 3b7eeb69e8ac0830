"""What a candidate sees through their private link: its own models, holding only
candidate-safe facts (R-CAND-6), so nothing internal can leak through a shared model."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field
from sqlmodel import SQLModel

from app.core.models import MultiLine, RefId, RequestModel


class PortalRecruiter(SQLModel):
    name: str
    email: str


class PortalContact(SQLModel):
    """R-CP-4: a contact who invited the candidate to email them directly."""

    name: str
    email: str | None


class PortalFeedback(SQLModel):
    can_ask: bool = Field(description="R-FB: after a rejection, once per application.")
    state: str | None = Field(description="asked, answered or unavailable")
    summary: str | None = Field(description="The recruiter-approved summary, once answered.")


class PortalApplication(SQLModel):
    id: int
    job_title: str
    client: str
    stage: str
    where_you_stand: str
    what_happens_next: str
    hear_from_us_by: date | None = Field(description="R-CAND-1: the last date promised.")
    may_email_directly: list[PortalContact]
    copy_your_recruiter: str | None
    feedback: PortalFeedback


class PortalNoteVersion(SQLModel):
    number: int
    written_by: str = Field(description="you, or your recruiter (an edit or on your behalf)")
    text: str
    created_at: datetime


class PortalNote(SQLModel):
    state: str
    what_became_of_it: str
    late: bool
    comment: str | None = Field(description="Your recruiter's request for a change.")
    versions: list[PortalNoteVersion]
    sent_text: str | None = Field(description="The text that went to the interviewers.")


class PortalNoteView(SQLModel):
    interview_date: date
    interviewers: list[str]
    aim: str
    can_write: bool
    note: PortalNote | None


class PortalStatus(SQLModel):
    first_name: str
    recruiter: PortalRecruiter
    applications: list[PortalApplication]
    link_expires_at: datetime
    link_is_for_a_thank_you_note: bool


class PortalNoteCreate(RequestModel):
    text: MultiLine = Field(min_length=1, max_length=10_000, description="Your note, plain text.")


class PortalFeedbackRequestCreate(RequestModel):
    submission_id: RefId = Field(description="The application (an id from the status view).")


class PortalAnswer(SQLModel):
    message: str
