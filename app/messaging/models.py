"""Messages (the outbox and the record of everything sent or held), their delivery story, the
promises they make, and addresses that must not be emailed (R-CAND, R-CP-5)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, text
from sqlmodel import Field, SQLModel

from app.core.models import WorkTimestamps, instant_field


class MessageKind(StrEnum):
    """R-CAND-2: one status message per situation (several due the same day go as one email)."""

    submitted = "submitted"
    interview_scheduled = "interview_scheduled"
    interview_held = "interview_held"
    no_news = "no_news"
    # R-CAND-1: the promised day came with nothing newer sent: a short, honest update.
    promise_update = "promise_update"
    rejected = "rejected"
    closed = "closed"
    offer = "offer"
    # R-TY / R-FB: to the candidate, beside the status messages (no frequency cap, never
    # superseded by a status).
    note_invitation = "note_invitation"
    note_changes_requested = "note_changes_requested"
    note_withheld = "note_withheld"
    feedback_shared = "feedback_shared"
    feedback_unavailable = "feedback_unavailable"
    # R-TY-5 / R-CP-3: to a client contact.
    thank_you_note = "thank_you_note"
    client_nudge = "client_nudge"


#: R-CAND-2/4: the status messages proper: the frequency cap counts them, and a newer one
#: replaces one not yet sent.
STATUS_KINDS = frozenset(
    {
        MessageKind.submitted,
        MessageKind.interview_scheduled,
        MessageKind.interview_held,
        MessageKind.no_news,
        MessageKind.promise_update,
        MessageKind.rejected,
        MessageKind.closed,
        MessageKind.offer,
    }
)


class SectionKind(StrEnum):
    """The kinds a candidate's email is made of (one section each): what admins may reword."""

    submitted = "submitted"
    interview_scheduled = "interview_scheduled"
    interview_held = "interview_held"
    no_news = "no_news"
    promise_update = "promise_update"
    rejected = "rejected"
    closed = "closed"
    offer = "offer"
    note_invitation = "note_invitation"
    note_changes_requested = "note_changes_requested"
    note_withheld = "note_withheld"
    feedback_shared = "feedback_shared"
    feedback_unavailable = "feedback_unavailable"


#: Messages to a client contact (the contact outbox delivers them).
CONTACT_KINDS = frozenset({MessageKind.thank_you_note, MessageKind.client_nudge})


class Audience(StrEnum):
    candidate = "candidate"
    contact = "contact"


class MessageState(StrEnum):
    pending = "pending"  # in the outbox, waiting for its send instant
    sending = "sending"  # claimed by a worker (with a lease)
    sent = "sent"  # accepted by the provider
    delivered = "delivered"  # the provider reported delivery
    failed = "failed"  # permanently refused by the provider
    refused = "refused"  # the policy gate refused it; `gate_rule` says which rule
    merged = "merged"  # went out in the same email as `digest_id` (a digest)
    superseded = "superseded"  # a newer status for the same submission replaced it


class Message(WorkTimestamps, table=True):
    """One message, from the moment a change calls for it (written in the same transaction as
    that change) to what became of it. ``reason`` says why it exists; ``gate_rule`` which rule
    held or refused it; the delivery story is in ``message_event``."""

    __table_args__ = (
        # The drain's query: what may go now. Partial, so history costs nothing.
        Index(
            "ix_message_pending_send",
            "send_at",
            sqlite_where=text("state IN ('pending', 'sending')"),
            postgresql_where=text("state IN ('pending', 'sending')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: MessageKind = Field(sa_type=String(32))
    audience: str = Field(default="candidate", max_length=16)
    candidate_id: int | None = Field(default=None, foreign_key="candidate.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    interview_id: int | None = Field(default=None, foreign_key="interview.id")
    note_id: int | None = Field(default=None, foreign_key="thank_you_note.id", index=True)
    detail: str | None = Field(
        default=None,
        sa_type=Text,
        description="Recruiter-approved words the message carries (a change request's comment, "
        "a feedback summary): never internal notes (R-CAND-6).",
    )
    reason: str = Field(max_length=200)
    automated: bool = Field(default=True)
    due_at: datetime = instant_field(nullable=False)
    send_at: datetime = instant_field(nullable=False)
    state: MessageState = Field(default=MessageState.pending, sa_type=String(16))
    gate_rule: str | None = Field(default=None, max_length=120)
    digest_id: int | None = Field(default=None, foreign_key="message.id")
    recipient_email: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=300)
    body_text: str | None = Field(default=None, sa_type=Text)
    body_html: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    claim_token: str | None = Field(default=None, max_length=36)
    claim_expires_at: datetime | None = instant_field(default=None, nullable=True)
    provider_message_id: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = instant_field(default=None, nullable=True)
    failure_reason: str | None = Field(default=None, max_length=500)


class MessageEvent(SQLModel, table=True):
    """The delivery story of a message: queued, held, sent, retried, delivered, bounced …"""

    __tablename__ = "message_event"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    occurred_at: datetime = instant_field(nullable=False)
    kind: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=500)
    provider_event_id: str | None = Field(default=None, max_length=100, unique=True)


class PromiseState(StrEnum):
    open = "open"
    kept = "kept"
    broken = "broken"


class Promise(SQLModel, table=True):
    """R-CAND-1: "you'll hear from us by <date>", and whether it was kept."""

    __table_args__ = (
        # Every drain settles the open promises whose day ended: partial, so history is free.
        Index(
            "ix_promise_open_due",
            "due_by_at",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        # Each email settles its submissions' open promises, and the drain's context reads
        # each submission's earliest open one: an index by submission of the open ones alone,
        # so neither walks every open promise (issue 14: the planner ANDed the two above and
        # read all open promises per row, 0.1 ms per email in the drain).
        Index(
            "ix_promise_open_submission",
            "submission_id",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    message_id: int = Field(foreign_key="message.id")
    promised_date: date
    due_by_at: datetime = instant_field(nullable=False)
    state: PromiseState = Field(default=PromiseState.open, sa_type=String(16))
    settled_at: datetime | None = instant_field(default=None, nullable=True)
    settled_by_message_id: int | None = Field(default=None, foreign_key="message.id")


class Suppression(SQLModel, table=True):
    """R-CAND-5: an address that bounced or was dropped is not emailed again."""

    email: str = Field(primary_key=True, max_length=320)
    reason: str = Field(max_length=200)
    created_at: datetime = instant_field(nullable=False)


class OptOutToken(SQLModel, table=True):
    """R-CAND-5: the opt-out link in a status email. Only a keyed hash of the token is stored;
    the link names no person (R-PV: no candidate data in URLs)."""

    __tablename__ = "opt_out_token"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = instant_field(nullable=False)
    used_at: datetime | None = instant_field(default=None, nullable=True)


class MessageTemplate(SQLModel, table=True):
    """An admin's wording for one kind of status section, replacing the packaged template."""

    __tablename__ = "message_template"

    kind: str = Field(primary_key=True, max_length=32)
    body: str = Field(sa_type=Text)
    updated_at: datetime = instant_field(nullable=False)
