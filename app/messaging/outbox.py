"""The outbox's enqueue side: what other domains call to say something (R-CAND, R-CP-5).

Enqueueing writes a ``pending`` row in the caller's transaction, so a rolled-back change emails
nobody; a newer status for the same submission supersedes one not yet sent. Delivering those
rows (claim, gate, compose, send, record, promises) is the worker's part and lives in
``app/messaging/delivery/``; nothing here sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.messaging.models import (
    STATUS_KINDS,
    Audience,
    Message,
    MessageKind,
    MessageState,
)
from app.submissions.models import Submission
from app.submissions.states import Stage

#: R-CAND-2: the status message a stage move calls for (none for a withdrawal or a placement:
#: the candidate made or heard that decision with their recruiter).
STAGE_MESSAGES: dict[Stage, MessageKind] = {
    Stage.submitted: MessageKind.submitted,
    Stage.interview_scheduled: MessageKind.interview_scheduled,
    Stage.interviewed: MessageKind.interview_held,
    Stage.offer: MessageKind.offer,
    Stage.rejected: MessageKind.rejected,
    Stage.closed: MessageKind.closed,
}
#: Kinds that promise a date (R-CAND-1). Each promise is written together with what backs it:
#: the submission's next cadence check when its slot falls on or before the promised day, else
#: a promise check on that day's slot (``CheckKind.promise``).
PROMISING = {
    MessageKind.submitted,
    MessageKind.interview_scheduled,
    MessageKind.interview_held,
    MessageKind.no_news,
    MessageKind.promise_update,
}
#: The status kinds as stored (a newer status supersedes one of these not yet sent).
STATUS_KIND_VALUES = sorted(kind.value for kind in STATUS_KINDS)

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
#: Built once (issue 14, decision 0086): every stage move runs these two.
_SUPERSEDE = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.submission_id.in_(bindparam("submission_ids", expanding=True)),
        _MESSAGES.c.state == MessageState.pending.value,
        _MESSAGES.c.audience == Audience.candidate.value,
        _MESSAGES.c.kind.in_(STATUS_KIND_VALUES),
    )
    .values(state=MessageState.superseded.value)
)
_INSERT_MESSAGE = insert(_MESSAGES)
_INSERT_MESSAGE_RETURNING_ID = insert(_MESSAGES).returning(_MESSAGES.c.id)


def status_row(
    *,
    kind: MessageKind,
    submission_id: int,
    candidate_id: int,
    due_at: datetime,
    reason: str,
    contact_id: int | None = None,
) -> dict[str, Any]:
    """A pending status message as a row (the sweep inserts many at once)."""
    return {
        "kind": kind.value,
        "audience": "candidate",
        "candidate_id": candidate_id,
        "submission_id": submission_id,
        "contact_id": contact_id,
        "reason": reason,
        "automated": True,
        "due_at": due_at,
        "send_at": due_at,
        "state": MessageState.pending.value,
        "attempts": 0,
        "created_at": due_at,
        "updated_at": due_at,
    }


async def supersede(session: AsyncSession, submission_ids: list[int]) -> None:
    """Only the newest status of a submission is worth sending (a note invitation or a review
    outcome is not a status: it stays)."""
    if not submission_ids:
        return
    await session.execute(_SUPERSEDE, {"submission_ids": submission_ids})


async def enqueue_status(
    session: AsyncSession,
    submission: Submission,
    kind: MessageKind,
    *,
    due_at: datetime,
    reason: str,
) -> None:
    """Write a status message for ``submission`` into the outbox (same transaction)."""
    assert submission.id is not None
    await supersede(session, [submission.id])
    await session.execute(
        _INSERT_MESSAGE,
        status_row(
            kind=kind,
            submission_id=submission.id,
            candidate_id=submission.candidate_id,
            due_at=due_at,
            reason=reason,
        ),
    )


async def enqueue_to_candidate(
    session: AsyncSession,
    *,
    kind: MessageKind,
    submission_id: int,
    candidate_id: int,
    due_at: datetime,
    reason: str,
    automated: bool,
    interview_id: int | None = None,
    note_id: int | None = None,
    detail: str | None = None,
) -> None:
    """A message to the candidate that is not a stage status (R-TY, R-FB): it supersedes
    nothing and is never superseded. ``automated`` false for a recruiter's own words (a change
    request, a withheld note, an answered feedback request): they reach an opted-out candidate
    too and skip the daily slot (quiet hours still hold)."""
    await _insert_one(
        session,
        status_row(
            kind=kind,
            submission_id=submission_id,
            candidate_id=candidate_id,
            due_at=due_at,
            reason=reason,
        )
        | {
            "automated": automated,
            "interview_id": interview_id,
            "note_id": note_id,
            "detail": detail,
        },
    )


async def _insert_one(session: AsyncSession, row: dict[str, Any]) -> int:
    inserted = await session.execute(_INSERT_MESSAGE_RETURNING_ID, row)
    return int(inserted.scalar_one())


async def enqueue_to_contact(
    session: AsyncSession,
    *,
    kind: MessageKind,
    contact_id: int,
    submission_id: int,
    candidate_id: int,
    due_at: datetime,
    reason: str,
    automated: bool,
    note_id: int | None = None,
) -> int:
    """A message to a client contact (an approved note, a nudge); the contact outbox sends it
    through the contact policy gate (R-CP). Answers the message id."""
    row = status_row(
        kind=kind,
        submission_id=submission_id,
        candidate_id=candidate_id,
        due_at=due_at,
        reason=reason,
    )
    row.update(
        audience=Audience.contact.value, contact_id=contact_id, automated=automated, note_id=note_id
    )
    return await _insert_one(session, row)
