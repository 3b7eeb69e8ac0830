"""What the messages API answers (staff only: bodies may name clients a candidate must not see)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.messaging.models import MessageKind, MessageState, PromiseState


class MessageEventPublic(SQLModel):
    occurred_at: datetime
    kind: str
    detail: str | None


class PromisePublic(SQLModel):
    id: int
    submission_id: int
    message_id: int
    promised_date: date
    due_by_at: datetime
    state: PromiseState
    settled_at: datetime | None
    settled_by_message_id: int | None


class MessagePublic(SQLModel):
    id: int
    kind: MessageKind
    audience: str
    candidate_id: int | None
    submission_id: int | None
    reason: str
    automated: bool
    due_at: datetime
    send_at: datetime
    state: MessageState
    gate_rule: str | None
    digest_id: int | None
    recipient_email: str | None
    subject: str | None
    body_text: str | None
    text_withheld: str | None = Field(
        default=None,
        description="Why `subject` and `body_text` are empty for this key: the message went "
        "out in one email with messages about submissions this key cannot see (R-PV).",
    )
    attempts: int
    provider_message_id: str | None
    sent_at: datetime | None
    failure_reason: str | None
    created_at: datetime
    promises: list[PromisePublic] = []
    story: list[MessageEventPublic] = []
