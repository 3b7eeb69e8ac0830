"""The outbox: status messages written with the change that calls for them, delivered by the
worker through the policy gate (R-CAND, R-CP-5).

Enqueueing writes a ``pending`` row in the caller's transaction, so a rolled-back change emails
nobody; a newer status for the same submission supersedes one not yet sent. Draining claims due
rows under a lease (as the SLA sweep does), passes each through the gate, bundles what one person
gets in one slot into one email (a digest), sends it, and records the promise it makes. A worker
that dies mid-delivery loses nothing: its claims expire and are taken up again; the price is that
an email accepted by the provider just before the crash can be sent twice (at-least-once), and
the message id carried to the provider makes such duplicates findable. Sends go out in chunks of
``CHUNK`` recipients, each chunk sent and recorded in its own transaction, at most ``PIPELINE``
chunks at once, so a crash can repeat at most the chunks that were in flight
(``MAX_REPEATED_PER_CRASH`` emails). A chunk's database work is set-based: about ten statements
whatever its size (decision record 0008).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel, col

from app.auth.keys import generate_key
from app.auth.models import User
from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.candidates.models import Candidate
from app.clients.models import Client
from app.core.settings import Settings
from app.interviews.models import Interview
from app.jobs.models import Job
from app.messaging import gate
from app.messaging.backends import (
    MAX_IN_FLIGHT,
    EmailBackend,
    OutgoingEmail,
    PermanentFailure,
    TransientFailure,
)
from app.messaging.models import (
    STATUS_KINDS,
    Audience,
    Message,
    MessageEvent,
    MessageKind,
    MessageState,
    MessageTemplate,
    OptOutToken,
    Promise,
    PromiseState,
    Suppression,
)
from app.messaging.render import CONFIDENTIAL_CLIENT, Rendered, Section, render_email
from app.portal import links
from app.portal.models import CandidateLink
from app.sla.models import CheckKind, CheckState, Policy, SlaCheck, SlaClock
from app.submissions.models import Submission
from app.submissions.states import Stage
from app.tasks.recruiter import open_fix_address_task
from app.thank_you.models import ThankYouNote

log = logging.getLogger("candor.outbox")

DEFAULT_BATCH = 200
DEFAULT_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
SENT_STATES = (MessageState.sent.value, MessageState.merged.value, MessageState.delivered.value)

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
STATUS_KIND_VALUES = sorted(kind.value for kind in STATUS_KINDS)
#: Kinds whose section carries a fresh private link for their interview (R-TY-1).
LINKED_KINDS = {MessageKind.note_invitation, MessageKind.note_changes_requested}


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
    await session.execute(
        update(Message)
        .where(
            col(Message.submission_id).in_(submission_ids),
            col(Message.state) == MessageState.pending.value,
            col(Message.audience) == Audience.candidate.value,
            col(Message.kind).in_(STATUS_KIND_VALUES),
        )
        .values(state=MessageState.superseded.value)
        .execution_options(synchronize_session=False)
    )


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
        insert(Message),
        [
            status_row(
                kind=kind,
                submission_id=submission.id,
                candidate_id=submission.candidate_id,
                due_at=due_at,
                reason=reason,
            )
        ],
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
    table = Message.__table__  # type: ignore[attr-defined]
    inserted = await session.execute(insert(table).returning(table.c.id), [row])
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


# --- draining ------------------------------------------------------------------------------


@dataclass
class DrainResult:
    sent_emails: int = 0
    messages_sent: int = 0
    held: int = 0
    refused: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: DrainResult) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _due(now: datetime, audience: Audience) -> Any:
    return and_(
        col(Message.state).in_((MessageState.pending.value, MessageState.sending.value)),
        col(Message.send_at) <= now,
        col(Message.audience) == audience.value,
        or_(
            col(Message.state) == MessageState.pending.value,
            col(Message.claim_expires_at) <= now,
        ),
    )


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    token: str,
    audience: Audience = Audience.candidate,
) -> list[tuple[int, int]]:
    """Take up to ``limit`` due messages to one audience (candidates or client contacts), and
    every other due message of the same recipients. Answers ``(message id, recipient id)``
    pairs: the candidate's, or the contact's, so the caller can keep one person's messages
    together (they may go as one digest)."""
    candidates = (
        select(col(Message.id))
        .where(_due(now, audience))
        .order_by(col(Message.send_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    recipient = col(Message.candidate_id if audience == Audience.candidate else Message.contact_id)

    async def take_up(ids: Any) -> list[tuple[int, int]]:
        result = await session.execute(
            update(Message)
            .where(col(Message.id).in_(ids.scalar_subquery()))
            .values(
                state=MessageState.sending.value, claim_token=token, claim_expires_at=now + lease
            )
            .returning(col(Message.id), recipient)
            .execution_options(synchronize_session=False)
        )
        return [(message_id or 0, who or 0) for message_id, who in result.tuples().all()]

    claimed = await take_up(candidates)
    people = sorted({who for _, who in claimed})
    if people:
        # The rest of these people's due messages too: one person's day goes as one email
        # (R-CAND-4), never split by the batch limit into an email today and one tomorrow.
        # Held ones that already fell due come too: if one of them goes now, the rest of
        # today's go with it (``process`` folds them in) instead of at the slot.
        claimed += await take_up(
            select(col(Message.id))
            .where(
                col(Message.state) == MessageState.pending.value,
                col(Message.audience) == audience.value,
                col(Message.due_at) <= now,
                recipient.in_(people),
            )
            .with_for_update(skip_locked=True)
        )
    return claimed


def chunks(claimed: list[tuple[int, int]], size: int) -> list[list[int]]:
    """The claimed ids in chunks of at most ``size`` recipients, each recipient's messages in
    one chunk (they may go as one digest)."""
    by_recipient: dict[int, list[int]] = defaultdict(list)
    for message_id, who in claimed:
        by_recipient[who].append(message_id)
    groups = list(by_recipient.values())
    return [
        [i for group in groups[start : start + size] for i in group]
        for start in range(0, len(groups), size)
    ]


@dataclass
class _Context:
    """Everything a chunk needs about its submissions, loaded in one query."""

    rows: dict[int, Any] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    last_sent: dict[int, datetime] = field(default_factory=dict)
    next_check: dict[int, datetime] = field(default_factory=dict)
    interview_day: dict[int, date] = field(default_factory=dict)
    interview_end: dict[int, datetime] = field(default_factory=dict)
    #: Per submission: the earliest day an open promise names (R-CAND-1).
    promised_day: dict[int, date] = field(default_factory=dict)
    #: Per candidate: when the last automated email reached them (R-CAND-4).
    last_automated: dict[int, datetime] = field(default_factory=dict)


def _per_submission(aggregate: Any, label: str, *where: Any) -> Any:
    """A correlated scalar subquery: one value per row of the outer query's submission."""
    return select(aggregate).where(*where).scalar_subquery().label(label)


@cache
def _context_query() -> Any:
    """Built once: a statement object reused across chunks keeps its cache key, which this one
    (four joins, four subqueries) is costly to compute per execution."""
    submission_id = col(Submission.id)
    suppressed = (
        select(col(Suppression.email))
        .where(col(Suppression.email) == col(Candidate.email))
        .exists()
        .label("suppressed")
    )
    last_sent = _per_submission(
        func.max(col(Message.sent_at)),
        "last_sent",
        col(Message.submission_id) == submission_id,
        col(Message.state).in_(SENT_STATES),
        col(Message.kind).in_(STATUS_KIND_VALUES),
    )
    next_check = _per_submission(
        func.min(col(SlaCheck.due_at)),
        "next_check",
        col(SlaCheck.submission_id) == submission_id,
        col(SlaCheck.state).in_((CheckState.scheduled.value, CheckState.claimed.value)),
        col(SlaCheck.kind) != CheckKind.promise.value,
    )
    interview_end = _per_submission(
        func.max(col(Interview.ends_at)),
        "interview_end",
        col(Interview.submission_id) == submission_id,
        col(Interview.status) != "cancelled",
    )
    promised_day = _per_submission(
        func.min(col(Promise.promised_date)),
        "promised_day",
        col(Promise.submission_id) == submission_id,
        col(Promise.state) == PromiseState.open.value,
    )
    last_automated = (
        select(func.max(col(Message.sent_at)))
        .where(
            col(Message.candidate_id) == col(Candidate.id),
            col(Message.audience) == Audience.candidate.value,
            col(Message.automated).is_(True),
            col(Message.state).in_(SENT_STATES),
        )
        .scalar_subquery()
        .label("last_automated")
    )
    last_interview = _per_submission(
        func.max(col(Interview.starts_at)),
        "last_interview",
        col(Interview.submission_id) == submission_id,
        col(Interview.status) != "cancelled",
    )
    return (
        select(
            submission_id,
            col(Submission.stage),
            col(Candidate.id).label("candidate_id"),
            col(Candidate.first_name),
            col(Candidate.email),
            col(Candidate.time_zone),
            col(Candidate.status_emails_opt_out),
            col(Job.title),
            col(Client.name),
            col(Client.confidential),
            col(User.name).label("recruiter_name"),
            col(User.email).label("recruiter_email"),
            suppressed,
            last_sent,
            next_check,
            last_interview,
            interview_end,
            promised_day,
            last_automated,
        )
        .join(Candidate, col(Candidate.id) == col(Submission.candidate_id))
        .join(Job, col(Job.id) == col(Submission.job_id))
        .join(Client, col(Client.id) == col(Job.client_id))
        .join(User, col(User.id) == col(Submission.owner_id))
        .where(submission_id.in_(bindparam("submission_ids", expanding=True)))
    )


async def load_context(session: AsyncSession, submission_ids: set[int]) -> _Context:
    """One round trip: the submission's people and job, and per submission (as correlated
    subqueries on indexed columns) whether the address is suppressed, the last status email
    sent, the next planned check and the latest interview."""
    ctx = _Context()
    if not submission_ids:
        return ctx
    connection = await session.connection()
    rows: Any = await connection.execute(
        _context_query(), {"submission_ids": sorted(submission_ids)}
    )
    for row in rows:
        ctx.rows[row.id] = row
        if row.suppressed:
            ctx.suppressed.add(row.email)
        if row.last_sent is not None:
            ctx.last_sent[row.id] = row.last_sent
        if row.next_check is not None:
            ctx.next_check[row.id] = row.next_check
        if row.last_interview is not None:
            zone = ZoneInfo(row.time_zone)
            ctx.interview_day[row.id] = row.last_interview.astimezone(zone).date()
        if row.interview_end is not None:
            ctx.interview_end[row.id] = row.interview_end
        if row.promised_day is not None:
            ctx.promised_day[row.id] = row.promised_day
        if row.last_automated is not None:
            ctx.last_automated[row.candidate_id] = row.last_automated
    return ctx


async def template_overrides(session: AsyncSession) -> dict[str, str]:
    """The admin's wording per section kind (a handful of rows, read once per batch)."""
    rows = await session.execute(select(col(MessageTemplate.kind), col(MessageTemplate.body)))
    return {kind: body for kind, body in rows.all()}


def _event(message_id: int, now: datetime, kind: str, detail: str | None = None) -> dict[str, Any]:
    return {"message_id": message_id, "occurred_at": now, "kind": kind, "detail": detail}


#: What the drain reads of a claimed message (``take``).
_TAKEN = (
    "id",
    "kind",
    "candidate_id",
    "submission_id",
    "contact_id",
    "interview_id",
    "note_id",
    "detail",
    "automated",
    "due_at",
    "attempts",
)


@dataclass(eq=False, slots=True)
class Taken:
    """A claimed message as a plain row (no ORM object, no identity map): what the drain reads,
    and in ``changes`` the columns it decided to write, saved set-wise by :func:`save`."""

    id: int
    kind: str
    candidate_id: int | None
    submission_id: int | None
    contact_id: int | None
    interview_id: int | None
    note_id: int | None
    detail: str | None
    automated: bool
    due_at: datetime
    attempts: int
    state: str = MessageState.sending.value
    failure_reason: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    def set(self, **values: Any) -> None:
        """Record new column values (``state``, ``attempts``, ``failure_reason`` are also
        kept on the row, since the drain reads them back)."""
        self.changes.update(values)
        for name in ("state", "attempts", "failure_reason"):
            if name in values:
                setattr(self, name, values[name])


@cache
def _take_statement() -> Any:
    table = _messages()
    return (
        update(table)
        .where(
            table.c.id.in_(bindparam("ids", expanding=True)),
            table.c.state == MessageState.sending.value,
            table.c.claim_token == bindparam("token"),
        )
        .values(updated_at=bindparam("now"))
        .returning(*(table.c[name] for name in _TAKEN))
    )


def _messages() -> Any:
    return Message.__table__  # type: ignore[attr-defined]


async def take(session: AsyncSession, *, ids: list[int], token: str, now: datetime) -> list[Taken]:
    """The claimed messages this worker still holds (its lease not taken over), fenced and read
    in one statement.

    Write first: the fenced UPDATE takes SQLite's write lock at the start of the transaction (a
    transaction that reads, then writes after another worker committed, is refused).
    """
    connection = await session.connection()
    held = await connection.execute(_take_statement(), {"ids": ids, "token": token, "now": now})
    return sorted((Taken(*row) for row in held.tuples().all()), key=lambda m: m.id)


#: The advisory-lock class of "one candidate's emails of the day" (R-CAND-4); the second key is
#: the candidate's id. No other lock of Candor's uses this class.
CANDIDATE_DAY_LOCK = 0x43414E44  # "CAND"


async def one_sender_per_candidate(session: AsyncSession, candidate_ids: set[int]) -> None:
    """R-CAND-4 with several workers: a claim skips rows another worker's claim is locking, so
    two workers may each hold part of one candidate's due messages. On PostgreSQL each chunk
    takes a transaction-level lock per candidate, in id order (two chunks never deadlock),
    before it reads what was sent today: the second chunk waits for the first one's commit and
    then sees its email, so its messages wait for the next day's slot. SQLite has one writer,
    so its chunks are serial already."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or not candidate_ids:
        return
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(:lock, c) FROM unnest(CAST(:ids AS integer[])) AS c"),
        {"lock": CANDIDATE_DAY_LOCK, "ids": sorted(candidate_ids)},
    )


async def save(session: AsyncSession, messages: list[Taken]) -> None:
    """Write what the drain decided, one executemany per set of changed columns (usually one:
    every message sent). Each message also gives its claim up."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        values = message.changes | {"claim_token": None}
        groups[tuple(sorted(values))].append({"b_id": message.id, **values})
    connection = await session.connection()
    for names, params in groups.items():
        await connection.execute(_save_statement(names), params)


@lru_cache(maxsize=32)
def _save_statement(names: tuple[str, ...]) -> Any:
    """One UPDATE by primary key per set of changed columns (a handful of sets exist)."""
    table = _messages()
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in names})
    )


async def load_batch(session: AsyncSession) -> Batch:
    """What a claimed batch shares: the agency calendar, the admin's wording, the policy."""
    policy = await session.get(Policy, 1)
    return Batch(
        agency=await calendars.default_calendar(session),
        overrides=await template_overrides(session),
        after_interview_days=policy.after_interview_days if policy else 2,
        promise_days=policy.promise_days if policy else 3,
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """What every chunk of one claimed batch shares (read once per batch, not per chunk)."""

    agency: bt.Calendar
    overrides: dict[str, str]
    #: R-CAND-1 policy numbers: news after an interview, and how far ahead a promise no
    #: cadence check backs is made.
    after_interview_days: int = 2
    promise_days: int = 3


def _verdict(
    message: Taken, row: Any, ctx: _Context, now: datetime, batch: Batch, digest_time: time
) -> gate.Verdict:
    """The gate's verdict on one claimed message, from what the chunk's context knows."""
    return gate.decide(
        gate.Recipient(
            email=row.email,
            time_zone=row.time_zone,
            opted_out=row.status_emails_opt_out,
            undeliverable=row.email in ctx.suppressed,
        ),
        due_at=message.due_at,
        now=now,
        automated=message.automated,
        last_status_sent_at=ctx.last_sent.get(message.submission_id or 0),
        calendar=batch.agency,
        digest_time=digest_time,
        capped=MessageKind(message.kind) in STATUS_KINDS,
        last_automated_sent_at=ctx.last_automated.get(message.candidate_id or 0),
        promised_day=ctx.promised_day.get(message.submission_id or 0),
    )


def _folds(
    message: Taken, verdict: gate.Verdict, going: set[int | None], now: datetime, time_zone: str
) -> bool:
    """A message held only for today's slot joins the email its candidate gets now."""
    if verdict.action != "hold" or verdict.rule is not gate.Rule.digest_slot:
        return False
    if not message.automated or message.candidate_id not in going or verdict.until is None:
        return False
    zone = ZoneInfo(time_zone)
    return verdict.until.astimezone(zone).date() == now.astimezone(zone).date()


async def process(
    session: AsyncSession,
    *,
    ids: list[int],
    token: str,
    now: datetime,
    backend: EmailBackend,
    settings: Settings,
    batch: Batch,
    digest_time: time = gate.DEFAULT_DIGEST_TIME,
) -> DrainResult:
    """Gate, bundle, send and record the claimed messages this worker still holds: about ten
    statements for the whole chunk, whatever its size."""
    result = DrainResult()
    messages = await take(session, ids=ids, token=token, now=now)
    if not messages:
        return result
    await one_sender_per_candidate(session, {m.candidate_id for m in messages if m.candidate_id})
    ctx = await load_context(session, {m.submission_id for m in messages if m.submission_id})
    events: list[dict[str, Any]] = []
    sendable: dict[int, list[Taken]] = defaultdict(list)
    verdicts: list[tuple[Taken, gate.Verdict, str]] = []
    for message in messages:
        row = ctx.rows.get(message.submission_id or 0)
        if row is None:  # the submission is gone (erased): nothing to say to anyone
            message.set(state=MessageState.refused.value, gate_rule="record gone")
            result.refused += 1
            continue
        verdict = _verdict(message, row, ctx, now, batch, digest_time)
        verdicts.append((message, verdict, row.time_zone))
    going = {m.candidate_id for m, v, _ in verdicts if v.action == "send" and m.automated}
    for message, verdict, time_zone in verdicts:
        if _folds(message, verdict, going, now, time_zone):
            # R-CAND-4: the day's email is going now (a late worker sends an overdue one), so
            # what fell due today goes in it rather than as a second email at the slot.
            verdict = gate.Verdict("send")
        if verdict.action == "refuse":
            message.set(state=MessageState.refused.value, gate_rule=str(verdict.rule))
            events.append(_event(message.id, now, "refused", str(verdict.rule)))
            result.refused += 1
        elif verdict.action == "hold":
            assert verdict.until is not None
            message.set(
                state=MessageState.pending.value, send_at=verdict.until, gate_rule=str(verdict.rule)
            )
            events.append(_event(message.id, now, "held", f"{verdict.rule} until {verdict.until}"))
            result.held += 1
        else:
            sendable[message.candidate_id or 0].append(message)
    noted = await _interviews_with_notes(session, [m for g in sendable.values() for m in g])
    for who, group in list(sendable.items()):
        sendable[who] = _newest_per_application(group, noted, now=now, events=events)
        if not sendable[who]:
            del sendable[who]
    outgoing = [
        _compose(group, ctx, now=now, settings=settings, batch=batch, digest_time=digest_time)
        for group in sendable.values()
    ]
    connection = await session.connection()
    if outgoing:
        # Written before sending: a link in an email that went out always works.
        await connection.execute(_insert(OptOutToken), [out.opt_out for out in outgoing])
        link_rows = [row for out in outgoing for row in out.links]
        await connection.execute(_insert(CandidateLink), link_rows)
    outcomes = await send_all(backend, [out.email for out in outgoing])
    settled: list[dict[str, Any]] = []
    promises: list[dict[str, Any]] = []
    backing: list[dict[str, Any]] = []
    failed: list[Taken] = []
    for out, outcome in zip(outgoing, outcomes, strict=True):
        if isinstance(outcome, Exception):
            result.add(not_sent(out.group, outcome, now=now, events=events))
            failed += out.group
            continue
        mark_sent(
            out.group, outcome, to=out.email.to, rendered=out.rendered, now=now, events=events
        )
        result.sent_emails, result.messages_sent = (
            result.sent_emails + 1,
            result.messages_sent + len(out.group),
        )
        lead = out.group[0].id
        # A status about an application settles its earlier promises (a note invitation or
        # shared feedback leaves the standing promise, and what backs it, in place).
        settled += [
            {"b_submission": m.submission_id, "b_lead": lead}
            for m in out.group
            if m.submission_id is not None and MessageKind(m.kind) in STATUS_KINDS
        ]
        promises += [
            {
                "submission_id": p.submission_id,
                "message_id": lead,
                "promised_date": p.day,
                "due_by_at": _end_of_day(p.day, out.time_zone),
                "state": PromiseState.open.value,
            }
            for p in out.promises
        ]
        backing += [
            {"submission_id": p.submission_id, "day": p.day, "time_zone": out.time_zone}
            for p in out.promises
            if not p.backed
        ]
    await save(session, messages)
    await _settle_promises(session, settled, promises, now=now)
    await _back_promises(
        session,
        [s["b_submission"] for s in settled],
        backing,
        agency=batch.agency,
        digest_time=digest_time,
        now=now,
    )
    if events:
        await connection.execute(_insert(MessageEvent), events)
    await _failure_tasks(session, failed, now)
    return result


@dataclass(frozen=True, slots=True)
class Promised:
    """A date an email promises for one application, and whether a cadence check backs it
    (if not, a promise check is scheduled on its slot when the email goes)."""

    submission_id: int
    day: date
    backed: bool


def promise_for(
    ctx: _Context,
    kind: MessageKind,
    submission_id: int,
    *,
    now: datetime,
    tz: str,
    batch: Batch,
    digest_time: time = gate.DEFAULT_DIGEST_TIME,
) -> Promised | None:
    """R-CAND-1, from the submission's state at send time: the day the candidate will hear
    next. After a scheduled interview: its end plus the policy's business days. Otherwise the
    slot of the next cadence check; with none (a stopped clock, after silence), the policy's
    days ahead. Never today: the promise is of news still to come, and today's email is this
    one (R-CAND-4)."""
    if kind not in PROMISING:
        return None
    agency = batch.agency
    zone = ZoneInfo(tz)
    earliest = bt.add_business_days(agency, now, 1)
    next_check = ctx.next_check.get(submission_id)
    check_day = (
        gate.digest_slot(max(next_check, now), tz, digest_time).astimezone(zone).date()
        if next_check is not None
        else None
    )
    interview_end = ctx.interview_end.get(submission_id)
    if kind is MessageKind.interview_scheduled and interview_end is not None:
        target = max(
            bt.add_business_days(agency, interview_end, batch.after_interview_days), earliest
        )
    elif kind is not MessageKind.interview_scheduled and check_day is not None:
        # A check later today sends its news tomorrow (one email a day): still the promise.
        return Promised(submission_id, max(check_day, _after_today(now, tz)), backed=True)
    else:
        target = max(bt.add_business_days(agency, now, batch.promise_days), earliest)
    day = max(
        gate.digest_slot(target, tz, digest_time).astimezone(zone).date(), _after_today(now, tz)
    )
    if check_day is not None and check_day <= day:
        # A check already falls on or before the day: it is the promise, with its date.
        return Promised(submission_id, check_day, backed=True)
    return Promised(submission_id, day, backed=False)


def _after_today(now: datetime, tz: str) -> date:
    """The first weekday after ``now``'s local day (the earliest day a promise may name)."""
    zone = ZoneInfo(tz)
    tomorrow = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(0), zone)
    return gate.digest_slot(tomorrow, tz).astimezone(zone).date()


def promise_date_for(
    ctx: _Context,
    kind: MessageKind,
    submission_id: int,
    *,
    now: datetime,
    tz: str,
    agency: bt.Calendar,
    digest_time: time = gate.DEFAULT_DIGEST_TIME,
) -> date | None:
    """The promised day alone (the template preview), with the default policy numbers."""
    promised = promise_for(
        ctx,
        kind,
        submission_id,
        now=now,
        tz=tz,
        batch=Batch(agency=agency, overrides={}),
        digest_time=digest_time,
    )
    return promised.day if promised else None


def _newest_per_application(
    group: list[Taken], noted: set[int], *, now: datetime, events: list[dict[str, Any]]
) -> list[Taken]:
    """Compose at send time (R-CAND-1, R-CAND-4): of the statuses of one application only the
    newest goes (a backfill that fired several checks at once says "no news" once), and a note
    invitation whose note has already arrived is dropped. The others are ``superseded``."""
    newest: dict[int, Taken] = {}
    for message in group:
        if MessageKind(message.kind) in STATUS_KINDS and message.submission_id is not None:
            current = newest.get(message.submission_id)
            if current is None or (message.due_at, message.id) > (current.due_at, current.id):
                newest[message.submission_id] = message
    kept: list[Taken] = []
    for message in group:
        status = MessageKind(message.kind) in STATUS_KINDS and message.submission_id is not None
        if status and newest[message.submission_id or 0] is not message:
            why = f"superseded by message {newest[message.submission_id or 0].id}"
        elif message.kind == MessageKind.note_invitation and message.interview_id in noted:
            why = "R-TY-1 the note it invites has already arrived"
        else:
            kept.append(message)
            continue
        message.set(state=MessageState.superseded.value, gate_rule=why[:120])
        events.append(_event(message.id, now, "superseded", why))
    return kept


async def _interviews_with_notes(session: AsyncSession, messages: list[Taken]) -> set[int]:
    """The interviews among ``messages``' note invitations that already have a note."""
    invited = {
        m.interview_id
        for m in messages
        if m.kind == MessageKind.note_invitation and m.interview_id is not None
    }
    if not invited:
        return set()
    rows = await session.execute(
        select(col(ThankYouNote.interview_id)).where(col(ThankYouNote.interview_id).in_(invited))
    )
    return {interview_id for (interview_id,) in rows.all()}


@dataclass
class _Outgoing:
    """One email about to go: the messages it carries and what it says."""

    group: list[Taken]
    email: OutgoingEmail
    rendered: Rendered
    promises: list[Promised]
    time_zone: str
    opt_out: dict[str, Any]
    links: list[dict[str, Any]]


def _compose(
    group: list[Taken],
    ctx: _Context,
    *,
    now: datetime,
    settings: Settings,
    batch: Batch,
    digest_time: time,
) -> _Outgoing:
    """One email to one person for everything in ``group`` (a digest when several)."""
    # Statuses first, so each application's section opens with where it stands; applications
    # in the order their news fell due.
    group.sort(key=lambda m: (m.due_at, m.id))
    first_due: dict[int | None, int] = {}
    for message in group:
        first_due.setdefault(message.submission_id, len(first_due))
    group.sort(
        key=lambda m: (
            first_due[m.submission_id],
            MessageKind(m.kind) not in STATUS_KINDS,
            m.due_at,
            m.id,
        )
    )
    lead = group[0]
    first = ctx.rows[lead.submission_id or 0]
    sections: list[Section] = []
    promises: list[Promised] = []
    portal = links.issue(settings, candidate_id=lead.candidate_id or 0, interview_id=None, now=now)
    link_rows = [portal.row]
    tokens = [portal.token]
    for message in group:
        link = ""
        if MessageKind(message.kind) in LINKED_KINDS and message.interview_id is not None:
            # R-TY-1: this interview's own link, 72 hours from the moment it is sent.
            invitation = links.issue(
                settings,
                candidate_id=lead.candidate_id or 0,
                interview_id=message.interview_id,
                now=now,
            )
            link_rows.append(invitation.row)
            tokens.append(invitation.token)
            link = invitation.url
        row = ctx.rows[message.submission_id or 0]
        promised = promise_for(
            ctx,
            MessageKind(message.kind),
            message.submission_id or 0,
            now=now,
            tz=row.time_zone,
            batch=batch,
            digest_time=digest_time,
        )
        sections.append(
            Section(
                kind=str(message.kind),
                job_title=row.title,
                client_name=CONFIDENTIAL_CLIENT if row.confidential else row.name,
                next_date=promised.day if promised else None,
                interview_date=ctx.interview_day.get(message.submission_id or 0),
                detail=message.detail or "",
                link=link,
                portal_url=portal.url,
                application=message.submission_id or 0,
            )
        )
        if promised is not None and message.submission_id is not None:
            promises.append(promised)
    token = generate_key(settings.secret_key.get_secret_value(), prefix="")
    rendered = render_email(
        first_name=first.first_name,
        sections=sections,
        recruiter_name=first.recruiter_name,
        recruiter_email=first.recruiter_email,
        agency_name=settings.email_from_name,
        overrides=batch.overrides,
        opt_out_url=f"{settings.public_base_url.rstrip('/')}/v1/opt-out/{token.key}",
        portal_url=portal.url,
    )
    email = OutgoingEmail(
        message_id=lead.id,
        to=first.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        from_email=settings.email_from,
        from_name=settings.email_from_name,
    )
    opt_out = {
        "candidate_id": lead.candidate_id,
        "token_hash": token.key_hash,
        "created_at": now,
    }
    tokens.append(token.key)
    # What is kept of the email must not open anything: tokens are stored only as hashes.
    kept = Rendered(
        subject=rendered.subject,
        text=redact(rendered.text, tokens),
        html=redact(rendered.html, tokens),
    )
    return _Outgoing(group, email, kept, promises, first.time_zone, opt_out, link_rows)


def redact(text: str, tokens: list[str]) -> str:
    for secret in tokens:
        text = text.replace(secret, "(private link)")
    return text


async def send_all(backend: EmailBackend, emails: list[OutgoingEmail]) -> list[str | Exception]:
    """Send a chunk with bounded concurrency: provider round trips overlap, the database work
    around them stays sequential in the caller."""
    gate_ = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one(email: OutgoingEmail) -> str:
        async with gate_:
            return await backend.send(email)

    outcomes = await asyncio.gather(*(one(e) for e in emails), return_exceptions=True)
    results: list[str | Exception] = []
    for outcome in outcomes:
        if isinstance(outcome, (TransientFailure, PermanentFailure, str)):
            results.append(outcome)
        elif isinstance(outcome, Exception):
            # An unexpected failure is retried, never lost.
            log.warning("unexpected send failure: %s", type(outcome).__name__)
            results.append(TransientFailure(type(outcome).__name__))
        else:
            raise outcome
    return results


def not_sent(
    group: list[Taken], outcome: Exception, *, now: datetime, events: list[dict[str, Any]]
) -> DrainResult:
    """A transient failure retries later (backoff with jitter, never before ``Retry-After``;
    failed after ``MAX_ATTEMPTS``); anything else fails the messages for good."""
    result = DrainResult()
    if isinstance(outcome, TransientFailure):
        for message in group:
            attempts = message.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                _fail(message, f"gave up after {attempts} attempts: {outcome.reason}")
                message.set(attempts=attempts)
                events.append(_event(message.id, now, "failed", message.failure_reason))
                result.failed += 1
                continue
            delay = _backoff(attempts, outcome.retry_after)
            message.set(state=MessageState.pending.value, send_at=now + delay, attempts=attempts)
            events.append(_event(message.id, now, "retry", f"{outcome.reason}; next in {delay}"))
            result.retried += 1
        return result
    reason = outcome.reason if isinstance(outcome, PermanentFailure) else str(outcome)
    for message in group:
        _fail(message, reason)
        events.append(_event(message.id, now, "failed", reason))
        result.failed += 1
    return result


def mark_sent(
    group: list[Taken],
    provider_id: str,
    *,
    to: str,
    rendered: Rendered,
    now: datetime,
    events: list[dict[str, Any]],
) -> None:
    """One email went: its lead message is ``sent``, the others ``merged`` into it (a digest),
    each keeping what was said (with no private-link token in it)."""
    lead = group[0]
    for message in group:
        message.set(
            state=(MessageState.sent if message is lead else MessageState.merged).value,
            digest_id=None if message is lead else lead.id,
            sent_at=now,
            recipient_email=to,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            provider_message_id=provider_id,
        )
        events.append(_event(message.id, now, "sent", f"email {lead.id}"))


def _fail(message: Taken, reason: str) -> None:
    message.set(state=MessageState.failed.value, failure_reason=reason[:500])


async def _failure_tasks(session: AsyncSession, group: list[Taken], now: datetime) -> None:
    """R-CAND-5: a message that can never go tells the recruiter (one task per submission)."""
    failed = [m for m in group if m.state == MessageState.failed and m.submission_id is not None]
    for message in failed:
        assert message.submission_id is not None
        await open_fix_address_task(
            session,
            message.submission_id,
            title=f"A status email on submission {message.submission_id} could not be sent",
            detail=message.failure_reason or "",
            now=now,
        )


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential from 30 s, capped at an hour, with jitter; never sooner than Retry-After."""
    base = min(30 * 2 ** (attempts - 1), 3600)
    delay = base * (0.5 + random.random())  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


async def _settle_promises(
    session: AsyncSession,
    settled: list[dict[str, Any]],
    promises: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Earlier promises of the submissions an email went about are settled by it (kept if in
    time), and the dates it states become the new promises (R-CAND-1). One executemany and one
    multi-row insert for the chunk; a submission is in at most one email of a chunk (one
    recipient's messages are never split), so the order per email is kept."""
    connection = await session.connection()
    if settled:
        await connection.execute(_keep_statement(), [p | {"b_now": now} for p in settled])
    if promises:
        await connection.execute(_insert(Promise), promises)


async def _back_promises(
    session: AsyncSession,
    spoken_of: list[int],
    unbacked: list[dict[str, Any]],
    *,
    agency: bt.Calendar,
    digest_time: time,
    now: datetime,
) -> None:
    """R-CAND-1: a status just sent about an application cancels its pending promise checks
    (the promise they backed is settled), and each promise no cadence check backs gets one on
    its day (``gate.promise_check_at``), written in the same transaction as the promise."""
    if spoken_of:
        await session.execute(
            update(SlaCheck)
            .where(
                col(SlaCheck.submission_id).in_(sorted(set(spoken_of))),
                col(SlaCheck.kind) == CheckKind.promise.value,
                col(SlaCheck.state).in_((CheckState.scheduled.value, CheckState.claimed.value)),
            )
            .values(state=CheckState.cancelled.value, claim_token=None)
            .execution_options(synchronize_session=False)
        )
    if not unbacked:
        return
    clocks = dict(
        (
            await session.execute(
                select(col(SlaClock.submission_id), func.max(col(SlaClock.id)))
                .where(col(SlaClock.submission_id).in_({p["submission_id"] for p in unbacked}))
                .group_by(col(SlaClock.submission_id))
            )
        )
        .tuples()
        .all()
    )
    rows = []
    for promise in unbacked:
        clock_id = clocks.get(promise["submission_id"])
        if clock_id is None:  # every submission starts with a clock; none: it is gone
            continue
        due = gate.promise_check_at(promise["day"], promise["time_zone"])
        rows.append(
            {
                # The clock of the period that made the promise (the latest, maybe stopped).
                "clock_id": clock_id,
                "submission_id": promise["submission_id"],
                "kind": CheckKind.promise.value,
                "due_at": due,
                "breach_at": bt.add_business_days(agency, due, 1),
                "state": CheckState.scheduled.value,
                "claims": 0,
            }
        )
    if rows:
        await (await session.connection()).execute(_insert(SlaCheck), rows)


@cache
def _keep_statement() -> Any:
    table = Promise.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(
            table.c.submission_id == bindparam("b_submission"),
            table.c.state == PromiseState.open.value,
            table.c.due_by_at >= bindparam("b_now"),
        )
        .values(
            state=PromiseState.kept.value,
            settled_at=bindparam("b_now"),
            settled_by_message_id=bindparam("b_lead"),
        )
    )


@cache
def _insert(model: type[SQLModel]) -> Any:
    """A Core multi-row INSERT of ``model``'s table (no ORM bulk machinery per row)."""
    return insert(model.__table__)  # type: ignore[attr-defined]


async def break_overdue_promises(session: AsyncSession, *, now: datetime) -> None:
    """A promise whose day ended with no email about its submission was broken (R-CAND-1).
    Probed first (a read of the partial index), so an idle round takes no write lock."""
    overdue = await session.scalar(
        # The partial index's predicate as a literal, so a cached PostgreSQL plan can use it.
        select(col(Promise.id))
        .where(text("promise.state = 'open'"), col(Promise.due_by_at) < now)
        .limit(1)
    )
    if overdue is None:
        return
    await session.execute(
        update(Promise)
        .where(col(Promise.state) == PromiseState.open.value, col(Promise.due_by_at) < now)
        .values(state=PromiseState.broken.value, settled_at=now)
        .execution_options(synchronize_session=False)
    )


def _end_of_day(day: date, time_zone: str) -> datetime:
    """A promise "by Thursday" holds until that Thursday ends where the candidate lives."""
    zone = ZoneInfo(time_zone)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


#: Recipients per chunk: each chunk is sent and recorded in its own transaction, so a crash
#: repeats at most the chunks it had in flight. Larger chunks spread the chunk's ten or so
#: statements and its commit over more emails; 32 was the best of 16-64 on the drain benchmark
#: (docs/performance.md) while keeping what a crash repeats small.
CHUNK = 32
#: Chunks a worker has in flight at once on PostgreSQL: chunk n+1 is claimed, gated and
#: composed while chunk n's emails are at the provider. SQLite has one writer, and a session
#: bound to one connection (the tests') can run only one transaction: there, one.
PIPELINE = 2
#: The most emails a crash can make the next worker send again: every chunk in flight.
MAX_REPEATED_PER_CRASH = CHUNK * PIPELINE


def pipeline_depth(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    bind = sessionmaker.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return PIPELINE
    return 1


async def drain(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    backend: EmailBackend,
    settings: Settings,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> DrainResult:
    """Deliver everything the gate lets go at ``now``, batch by batch, each batch in chunks of
    ``CHUNK`` recipients, up to ``pipeline_depth`` chunks at once (each its own transaction)."""
    total = DrainResult()
    depth = asyncio.Semaphore(pipeline_depth(sessionmaker))

    async def one_chunk(ids: list[int], token: str, shared: Batch) -> None:
        async with depth, sessionmaker() as session:
            done = await process(
                session,
                ids=ids,
                token=token,
                now=now,
                backend=backend,
                settings=settings,
                batch=shared,
            )
            await session.commit()
        total.add(done)

    while True:
        token = str(uuid.uuid4())
        async with sessionmaker() as session:
            claimed = await claim(session, now=now, limit=batch, lease=lease, token=token)
            await session.commit()
            if not claimed:
                break
            shared = await load_batch(session)
        # One transaction per chunk: a worker killed mid-batch can only have sent the chunks
        # it had in flight unrecorded (at most ``MAX_REPEATED_PER_CRASH`` emails), and only
        # those are sent again.
        async with asyncio.TaskGroup() as chunk_tasks:
            for ids in chunks(claimed, CHUNK):
                chunk_tasks.create_task(one_chunk(ids, token, shared))
    # Every round, so a promise whose day ended is recorded broken even when nothing was due
    # (one probe of a partial index when nothing is overdue).
    async with sessionmaker() as session:
        await break_overdue_promises(session, now=now)
        await session.commit()
    return total
