"""Client nudges (R-CP-2/3): a chase check also emails the job's primary contact asking for a
decision, where the client allows automated nudges and the contact is ``open`` and did not ask
not to be chased. The rows are written in the sweep's transaction, in one ``INSERT … SELECT``;
the contact outbox applies the gate again when sending (policies may change meanwhile), keeps
to one nudge per submission per 2 business days and bundles a contact's day into one digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, false, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.clients.models import Client, Contact, ContactPolicy
from app.core.database import UTCDateTime
from app.jobs.models import Job
from app.messaging.models import Audience, Message, MessageKind, MessageState
from app.sla.models import CheckKind, SlaCheck
from app.submissions.models import Submission
from app.submissions.states import FINAL

COLUMNS = (
    "kind",
    "audience",
    "candidate_id",
    "submission_id",
    "contact_id",
    "reason",
    "automated",
    "due_at",
    "send_at",
    "state",
    "attempts",
    "created_at",
    "updated_at",
)


async def enqueue_for_checks(
    session: AsyncSession, check_ids: Sequence[int], *, now: datetime
) -> None:
    """One nudge per fired chase check whose contact may be nudged (none for silence)."""
    if not check_ids:
        return
    stamp = bindparam("nudge_now", now, type_=UTCDateTime)
    source = (
        select(
            literal(MessageKind.client_nudge.value),
            literal(Audience.contact.value),
            col(Submission.candidate_id),
            col(Submission.id),
            col(Job.primary_contact_id),
            literal("chase check: decision nudge"),
            literal(True),
            col(SlaCheck.due_at),
            col(SlaCheck.due_at),
            literal(MessageState.pending.value),
            literal(0),
            stamp,
            stamp,
        )
        .join(Submission, col(Submission.id) == col(SlaCheck.submission_id))
        .join(Job, col(Job.id) == col(Submission.job_id))
        .join(Client, col(Client.id) == col(Job.client_id))
        .join(Contact, col(Contact.id) == col(Job.primary_contact_id))
        .where(
            col(SlaCheck.id).in_(list(check_ids)),
            col(SlaCheck.kind) != CheckKind.silence.value,
            col(Submission.stage).not_in([stage.value for stage in FINAL]),
            col(Client.allow_automated_nudges).is_(True),
            col(Contact.contact_policy) == ContactPolicy.open.value,
            col(Contact.no_chase) == false(),
        )
    )
    table = Message.__table__  # type: ignore[attr-defined]
    await session.execute(insert(table).from_select(list(COLUMNS), source))
