"""The contacts' outbox drain: approved thank-you notes (R-TY-5) and decision nudges (R-CP-3),
through the contact side of the one policy gate (R-CP-2/5).

Claiming, leases, chunked sends, retries and failures work exactly as for candidates
(``app.messaging.delivery.drain``). The differences are who the gate asks about and what an
email is:

- a note goes to one interviewer, from the agency, with the owner recruiter in copy and as
  reply-to; refused for a ``recruiter_only`` contact (or one without a usable address), it
  becomes a task for the recruiter to pass it on; for ``do_not_contact`` it is withheld;
- nudges to one contact that fall due on one day go as one digest listing every candidate
  awaiting their decision, at most one nudge per submission per 2 business days, only where
  the client allows automated nudges and the contact is ``open`` and did not ask not to be chased.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.auth.models import User
from app.calendar import lookup as calendars
from app.candidates.models import Candidate
from app.clients.models import Client, Contact
from app.core.settings import Settings
from app.interviews.models import Interview
from app.jobs.models import Job
from app.messaging import gate
from app.messaging.backends import (
    MAX_IN_FLIGHT,
    EmailBackend,
    OutgoingEmail,
)
from app.messaging.delivery.claims import (
    DEFAULT_BATCH,
    DEFAULT_LEASE,
    Taken,
    chunks,
    claim,
    event_row,
    save,
    take,
)
from app.messaging.delivery.context import SENT_STATES
from app.messaging.delivery.drain import DrainResult, mark_sent, not_sent, send_all
from app.messaging.models import (
    Audience,
    Message,
    MessageEvent,
    MessageKind,
    MessageState,
    Suppression,
)
from app.messaging.render import Rendered, render_contact_email
from app.submissions.models import Submission
from app.tasks.recruiter import open_pass_on_task
from app.thank_you.models import NoteRecipient, NoteVersion, RecipientOutcome, ThankYouNote

#: Refusals after which a person can still pass an approved note on (R-CP-2).
PASS_ON_RULES = {
    gate.Rule.recruiter_only,
    gate.Rule.contact_no_address,
    gate.Rule.contact_undeliverable,
}


@dataclass
class _Facts:
    contacts: dict[int, Any]
    suppressed: set[str]
    submissions: dict[int, Any]
    last_nudge: dict[tuple[int, int], datetime]
    notes: dict[int, Any]


async def _facts(session: AsyncSession, messages: list[Taken]) -> _Facts:
    contact_ids = {m.contact_id for m in messages if m.contact_id is not None}
    submission_ids = {m.submission_id for m in messages if m.submission_id is not None}
    note_ids = {m.note_id for m in messages if m.note_id is not None}
    contacts = {
        row.id: row
        for row in (
            await session.execute(
                select(
                    col(Contact.id),
                    col(Contact.name),
                    col(Contact.email),
                    col(Contact.time_zone),
                    col(Contact.contact_policy),
                    col(Contact.no_chase),
                    col(Client.allow_automated_nudges),
                )
                .join(Client, col(Client.id) == col(Contact.client_id))
                .where(col(Contact.id).in_(contact_ids))
            )
        ).all()
    }
    emails = {row.email for row in contacts.values() if row.email}
    suppressed = set(
        (
            await session.execute(
                select(col(Suppression.email)).where(col(Suppression.email).in_(emails))
            )
        ).scalars()
    )
    submission_rows: Any = (
        await session.execute(
            select(
                col(Submission.id),
                col(Submission.owner_id),
                col(Submission.submitted_at),
                col(Candidate.first_name),
                col(Candidate.last_name),
                col(Job.title),
                col(User.name).label("recruiter_name"),
                col(User.email).label("recruiter_email"),
            )
            .join(Candidate, col(Candidate.id) == col(Submission.candidate_id))
            .join(Job, col(Job.id) == col(Submission.job_id))
            .join(User, col(User.id) == col(Submission.owner_id))
            .where(col(Submission.id).in_(submission_ids))
        )
    ).all()
    submissions = {row.id: row for row in submission_rows}
    last = await session.execute(
        select(col(Message.submission_id), col(Message.contact_id), func.max(col(Message.sent_at)))
        .where(
            col(Message.submission_id).in_(submission_ids),
            col(Message.contact_id).in_(contact_ids),
            col(Message.kind) == MessageKind.client_nudge.value,
            col(Message.state).in_(SENT_STATES),
        )
        .group_by(col(Message.submission_id), col(Message.contact_id))
    )
    last_nudge = {(sid, cid): at for sid, cid, at in last.all() if at is not None}
    notes = {
        row.id: row
        for row in (
            await session.execute(
                select(
                    col(ThankYouNote.id),
                    col(NoteVersion.text),
                    col(Interview.starts_at),
                    col(Interview.kind),
                )
                .join(
                    NoteVersion,
                    (col(NoteVersion.note_id) == col(ThankYouNote.id))
                    & (col(NoteVersion.number) == col(ThankYouNote.approved_version)),
                )
                .join(Interview, col(Interview.id) == col(ThankYouNote.interview_id))
                .where(col(ThankYouNote.id).in_(note_ids))
            )
        ).all()
    }
    return _Facts(contacts, suppressed, submissions, last_nudge, notes)


async def process(
    session: AsyncSession,
    *,
    ids: list[int],
    token: str,
    now: datetime,
    backend: EmailBackend,
    settings: Settings,
) -> DrainResult:
    """Gate, bundle, send and record the claimed contact messages this worker still holds."""
    result = DrainResult()
    messages = await take(session, ids=ids, token=token, now=now)
    if not messages:
        return result
    facts = await _facts(session, messages)
    agency = await calendars.default_calendar(session)
    events: list[dict[str, Any]] = []
    notes: list[Taken] = []
    nudges: dict[int, list[Taken]] = defaultdict(list)
    for message in messages:
        contact = facts.contacts.get(message.contact_id or 0)
        submission = facts.submissions.get(message.submission_id or 0)
        is_note = message.kind == MessageKind.thank_you_note
        if (
            contact is None
            or submission is None
            or (is_note and message.note_id not in facts.notes)
        ):
            message.set(state=MessageState.refused.value, gate_rule="record gone")
            result.refused += 1
            continue
        verdict = gate.decide_contact(
            gate.ContactRecipient(
                email=contact.email,
                time_zone=contact.time_zone,
                policy=str(contact.contact_policy),
                no_chase=contact.no_chase,
                undeliverable=bool(contact.email) and contact.email in facts.suppressed,
                client_allows_nudges=contact.allow_automated_nudges,
            ),
            nudge=not is_note,
            due_at=message.due_at,
            now=now,
            last_nudge_sent_at=facts.last_nudge.get((submission.id, contact.id)),
            calendar=agency,
        )
        if verdict.action == "refuse":
            assert verdict.rule is not None
            message.set(state=MessageState.refused.value, gate_rule=str(verdict.rule))
            events.append(event_row(message.id, now, "refused", str(verdict.rule)))
            result.refused += 1
            if is_note:
                await _note_refused(session, message, contact, submission, verdict.rule, now)
        elif verdict.action == "hold":
            assert verdict.until is not None
            message.set(
                state=MessageState.pending.value, send_at=verdict.until, gate_rule=str(verdict.rule)
            )
            events.append(
                event_row(message.id, now, "held", f"{verdict.rule} until {verdict.until}")
            )
            result.held += 1
        elif is_note:
            notes.append(message)
        else:
            nudges[contact.id].append(message)
    outgoing = [_note_email(m, facts, settings) for m in notes]
    outgoing += [_nudge_email(group, facts, settings) for group in nudges.values()]
    outcomes = await send_all(backend, [out.email for out in outgoing])
    for out, outcome in zip(outgoing, outcomes, strict=True):
        result.add(_record(out, outcome, now=now, events=events))
    await save(session, messages)
    if events:
        await session.execute(insert(MessageEvent), events)
    return result


async def _note_refused(
    session: AsyncSession,
    message: Taken,
    contact: Any,
    submission: Any,
    rule: gate.Rule,
    now: datetime,
) -> None:
    """What the refusal means for the note: a pass-on task, or withheld for this contact."""
    recipient = await session.get(NoteRecipient, (message.note_id, contact.id))
    task_id = None
    if rule in PASS_ON_RULES:
        task = await open_pass_on_task(
            session,
            assignee_id=submission.owner_id,
            submission_id=submission.id,
            contact_id=contact.id,
            contact_name=contact.name,
            why=f"{rule}.",
            now=now,
        )
        task_id = task.id
    if recipient is not None:
        recipient.outcome = (
            RecipientOutcome.pass_on if task_id is not None else RecipientOutcome.withheld
        )
        recipient.reason, recipient.task_id = str(rule), task_id


@dataclass
class _Out:
    group: list[Taken]
    email: OutgoingEmail
    rendered: Rendered


def _note_email(message: Taken, facts: _Facts, settings: Settings) -> _Out:
    contact = facts.contacts[message.contact_id or 0]
    submission = facts.submissions[message.submission_id or 0]
    note = facts.notes[message.note_id or 0]
    zone = ZoneInfo(contact.time_zone)
    candidate = f"{submission.first_name} {submission.last_name}"
    rendered = render_contact_email(
        "thank_you_note",
        subject=f"A thank-you note from {candidate}",
        contact_name=contact.name,
        candidate_name=candidate,
        interview_date=note.starts_at.astimezone(zone).date(),
        note_text=note.text,
        recruiter_name=submission.recruiter_name,
        recruiter_email=submission.recruiter_email,
        agency_name=settings.email_from_name,
        items=[],
    )
    return _Out([message], _email(message, contact, [submission], rendered, settings), rendered)


def _nudge_email(group: list[Taken], facts: _Facts, settings: Settings) -> _Out:
    """One digest per contact: one line per submission (repeats of one submission merge)."""
    group.sort(key=lambda m: (m.due_at, m.id or 0))
    contact = facts.contacts[group[0].contact_id or 0]
    seen: dict[int, Any] = {}
    for message in group:
        seen.setdefault(message.submission_id or 0, facts.submissions[message.submission_id or 0])
    rows = list(seen.values())
    items = [
        {
            "candidate_name": f"{row.first_name} {row.last_name}",
            "job_title": row.title,
            "recruiter_name": row.recruiter_name,
        }
        for row in rows
    ]
    subject = (
        f"Your decision on {items[0]['candidate_name']}"
        if len(items) == 1
        else f"Your decision on {len(items)} candidates"
    )
    rendered = render_contact_email(
        "client_nudge",
        subject=subject,
        contact_name=contact.name,
        candidate_name="",
        interview_date=None,
        note_text="",
        recruiter_name=rows[0].recruiter_name,
        recruiter_email=rows[0].recruiter_email,
        agency_name=settings.email_from_name,
        items=items,
    )
    return _Out(group, _email(group[0], contact, rows, rendered, settings), rendered)


def _email(
    lead: Taken, contact: Any, rows: list[Any], rendered: Rendered, settings: Settings
) -> OutgoingEmail:
    """From the agency, the owner recruiter(s) in copy, the first as reply-to (R-CP-1)."""
    assert lead.id is not None
    recruiters = list(dict.fromkeys(row.recruiter_email for row in rows))
    return OutgoingEmail(
        message_id=lead.id,
        to=contact.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        from_email=settings.email_from,
        from_name=f"{rows[0].recruiter_name} via {settings.email_from_name}",
        cc=tuple(r for r in recruiters if r.lower() != contact.email.lower()),
        reply_to=rows[0].recruiter_email,
    )


def _record(
    out: _Out, outcome: str | Exception, *, now: datetime, events: list[dict[str, Any]]
) -> DrainResult:
    if isinstance(outcome, Exception):
        return not_sent(out.group, outcome, now=now, events=events)
    mark_sent(out.group, outcome, to=out.email.to, rendered=out.rendered, now=now, events=events)
    return DrainResult(sent_emails=1, messages_sent=len(out.group))


async def drain(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    backend: EmailBackend,
    settings: Settings,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> DrainResult:
    """Deliver every contact message the gate lets go at ``now``, in chunks of
    ``MAX_IN_FLIGHT`` recipients (each chunk its own transaction, as for candidates)."""
    total = DrainResult()
    while True:
        token = str(uuid.uuid4())
        async with sessionmaker() as session:
            ids = await claim(
                session, now=now, limit=batch, lease=lease, token=token, audience=Audience.contact
            )
            await session.commit()
        if not ids:
            return total
        for chunk in chunks(ids, MAX_IN_FLIGHT):
            async with sessionmaker() as session:
                done = await process(
                    session, ids=chunk, token=token, now=now, backend=backend, settings=settings
                )
                await session.commit()
            total.add(done)
