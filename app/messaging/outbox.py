"""The outbox: status messages written with the change that calls for them, delivered by the
worker through the policy gate (R-CAND, R-CP-5).

Enqueueing writes a ``pending`` row in the caller's transaction, so a rolled-back change emails
nobody; a newer status for the same submission supersedes one not yet sent. Draining claims due
rows under a lease (as the SLA sweep does), passes each through the gate, bundles what one person
gets in one slot into one email (a digest), sends it, and records the promise it makes. A worker
that dies mid-delivery loses nothing: its claims expire and are taken up again; the price is that
an email accepted by the provider just before the crash can be sent twice (at-least-once), and
the message id carried to the provider makes such duplicates findable. Sends go out in chunks of
``MAX_IN_FLIGHT`` recipients, each chunk recorded in its own transaction, so a crash can repeat at
most the one chunk that was in flight.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.auth.keys import generate_key
from app.auth.models import User
from app.calendar import business_time as bt
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
from app.sla import calendars
from app.sla.models import CheckState, SlaCheck
from app.submissions.models import Submission
from app.submissions.states import Stage
from app.tasks.recruiter import open_fix_address_task

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
#: Kinds that promise a date; the promise is backed by the submission's next planned check.
PROMISING = {MessageKind.submitted, MessageKind.interview_held, MessageKind.no_news}
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
) -> list[int]:
    """Take up to ``limit`` due messages to one audience (candidates or client contacts)."""
    candidates = (
        select(col(Message.id))
        .where(_due(now, audience))
        .order_by(col(Message.send_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Message)
        .where(col(Message.id).in_(candidates.scalar_subquery()))
        .values(state=MessageState.sending.value, claim_token=token, claim_expires_at=now + lease)
        .returning(col(Message.id))
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in result.all()]


@dataclass
class _Context:
    """Everything a batch needs about its submissions, loaded in a few queries."""

    rows: dict[int, Any] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    last_sent: dict[int, datetime] = field(default_factory=dict)
    next_check: dict[int, datetime] = field(default_factory=dict)
    interview_day: dict[int, date] = field(default_factory=dict)


async def load_context(session: AsyncSession, submission_ids: set[int]) -> _Context:
    ctx = _Context()
    rows: Any = await session.execute(
        select(
            col(Submission.id),
            col(Candidate.first_name),
            col(Candidate.email),
            col(Candidate.time_zone),
            col(Candidate.status_emails_opt_out),
            col(Job.title),
            col(Client.name),
            col(Client.confidential),
            col(User.name).label("recruiter_name"),
            col(User.email).label("recruiter_email"),
        )
        .join(Candidate, col(Candidate.id) == col(Submission.candidate_id))
        .join(Job, col(Job.id) == col(Submission.job_id))
        .join(Client, col(Client.id) == col(Job.client_id))
        .join(User, col(User.id) == col(Submission.owner_id))
        .where(col(Submission.id).in_(submission_ids))
    )
    ctx.rows = {row.id: row for row in rows}
    emails = {row.email for row in ctx.rows.values()}
    if emails:
        found = await session.execute(
            select(col(Suppression.email)).where(col(Suppression.email).in_(emails))
        )
        ctx.suppressed = set(found.scalars())
    last = await session.execute(
        select(col(Message.submission_id), func.max(col(Message.sent_at)))
        .where(
            col(Message.submission_id).in_(submission_ids),
            col(Message.state).in_(SENT_STATES),
            col(Message.kind).in_(STATUS_KIND_VALUES),
        )
        .group_by(col(Message.submission_id))
    )
    ctx.last_sent = {sid: at for sid, at in last.all() if at is not None}
    checks = await session.execute(
        select(col(SlaCheck.submission_id), func.min(col(SlaCheck.due_at)))
        .where(
            col(SlaCheck.submission_id).in_(submission_ids),
            col(SlaCheck.state).in_((CheckState.scheduled.value, CheckState.claimed.value)),
        )
        .group_by(col(SlaCheck.submission_id))
    )
    ctx.next_check = {sid: at for sid, at in checks.all() if at is not None}
    interviews = await session.execute(
        select(col(Interview.submission_id), func.max(col(Interview.starts_at)))
        .where(
            col(Interview.submission_id).in_(submission_ids), col(Interview.status) != "cancelled"
        )
        .group_by(col(Interview.submission_id))
    )
    for sid, starts_at in interviews.all():
        if starts_at is not None and sid in ctx.rows:
            zone = ZoneInfo(ctx.rows[sid].time_zone)
            ctx.interview_day[sid] = starts_at.astimezone(zone).date()
    return ctx


async def template_overrides(session: AsyncSession) -> dict[str, str]:
    """The admin's wording per section kind (a handful of rows, read once per batch)."""
    rows = await session.execute(select(col(MessageTemplate.kind), col(MessageTemplate.body)))
    return {kind: body for kind, body in rows.all()}


def _event(message_id: int, now: datetime, kind: str, detail: str | None = None) -> dict[str, Any]:
    return {"message_id": message_id, "occurred_at": now, "kind": kind, "detail": detail}


async def fence(session: AsyncSession, *, ids: list[int], token: str, now: datetime) -> list[int]:
    """The claimed ids this worker still holds (its lease not taken over).

    Write first: the fenced UPDATE takes SQLite's write lock at the start of the transaction (a
    transaction that reads, then writes after another worker committed, is refused).
    """
    held = await session.execute(
        update(Message)
        .where(
            col(Message.id).in_(ids),
            col(Message.state) == MessageState.sending.value,
            col(Message.claim_token) == token,
        )
        .values(updated_at=now)
        .returning(col(Message.id))
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in held.all()]


async def process(
    session: AsyncSession,
    *,
    ids: list[int],
    token: str,
    now: datetime,
    backend: EmailBackend,
    settings: Settings,
    digest_time: time = gate.DEFAULT_DIGEST_TIME,
) -> DrainResult:
    """Gate, bundle, send and record the claimed messages this worker still holds."""
    result = DrainResult()
    mine = await fence(session, ids=ids, token=token, now=now)
    if not mine:
        return result
    messages = list(
        (await session.execute(select(Message).where(col(Message.id).in_(mine)))).scalars()
    )
    if not messages:
        return result
    ctx = await load_context(session, {m.submission_id for m in messages if m.submission_id})
    agency = await calendars.default_calendar(session)
    events: list[dict[str, Any]] = []
    sendable: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        assert message.id is not None
        row = ctx.rows.get(message.submission_id or 0)
        if row is None:  # the submission is gone (erased): nothing to say to anyone
            message.state, message.gate_rule = MessageState.refused, "record gone"
            result.refused += 1
            continue
        verdict = gate.decide(
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
            calendar=agency,
            digest_time=digest_time,
            capped=MessageKind(message.kind) in STATUS_KINDS,
        )
        message.claim_token = None
        if verdict.action == "refuse":
            message.state, message.gate_rule = MessageState.refused, str(verdict.rule)
            events.append(_event(message.id, now, "refused", str(verdict.rule)))
            result.refused += 1
        elif verdict.action == "hold":
            assert verdict.until is not None
            message.state, message.send_at = MessageState.pending, verdict.until
            message.gate_rule = str(verdict.rule)
            events.append(_event(message.id, now, "held", f"{verdict.rule} until {verdict.until}"))
            result.held += 1
        else:
            sendable[message.candidate_id or 0].append(message)
    overrides = await template_overrides(session) if sendable else {}
    outgoing = [
        _compose(
            group,
            ctx,
            now=now,
            settings=settings,
            agency=agency,
            digest_time=digest_time,
            overrides=overrides,
        )
        for group in sendable.values()
    ]
    if outgoing:
        # Written before sending: a link in an email that went out always works.
        table = OptOutToken.__table__  # type: ignore[attr-defined]
        await session.execute(insert(table), [out.opt_out for out in outgoing])
        link_rows = [row for out in outgoing for row in out.links]
        await session.execute(insert(CandidateLink.__table__), link_rows)  # type: ignore[attr-defined]
    outcomes = await _send_all(backend, [out.email for out in outgoing])
    for out, outcome in zip(outgoing, outcomes, strict=True):
        result.add(await _record(session, out, outcome, now=now, events=events))
    if events:
        await session.execute(insert(MessageEvent), events)
    await session.execute(
        update(Promise)
        .where(col(Promise.state) == PromiseState.open.value, col(Promise.due_by_at) < now)
        .values(state=PromiseState.broken.value, settled_at=now)
        .execution_options(synchronize_session=False)
    )
    return result


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
    """The day the candidate will hear next: the slot of the submission's next planned check
    (or, when the recruiter must decide, the end of their keep-waiting window)."""
    if kind not in PROMISING:
        return None
    next_check = ctx.next_check.get(submission_id)
    if next_check is None:
        next_check = bt.add_business_days(agency, now, 3)
    slot = gate.digest_slot(max(next_check, now), tz, digest_time)
    return slot.astimezone(ZoneInfo(tz)).date()


@dataclass
class _Outgoing:
    """One email about to go: the messages it carries and what it says."""

    group: list[Message]
    email: OutgoingEmail
    rendered: Rendered
    promises: list[tuple[int, date]]
    time_zone: str
    opt_out: dict[str, Any]
    links: list[dict[str, Any]]


def _compose(
    group: list[Message],
    ctx: _Context,
    *,
    now: datetime,
    settings: Settings,
    agency: bt.Calendar,
    digest_time: time,
    overrides: dict[str, str] | None = None,
) -> _Outgoing:
    """One email to one person for everything in ``group`` (a digest when several)."""
    group.sort(key=lambda m: (m.due_at, m.id or 0))
    lead = group[0]
    assert lead.id is not None
    first = ctx.rows[lead.submission_id or 0]
    sections: list[Section] = []
    promises: list[tuple[int, date]] = []
    portal = links.issue(settings, candidate_id=lead.candidate_id or 0, interview_id=None, now=now)
    link_rows = [portal.row]
    tokens = [portal.token]
    for message in group:
        link = ""
        if message.kind in LINKED_KINDS and message.interview_id is not None:
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
        promised = promise_date_for(
            ctx,
            MessageKind(message.kind),
            message.submission_id or 0,
            now=now,
            tz=row.time_zone,
            agency=agency,
            digest_time=digest_time,
        )
        sections.append(
            Section(
                kind=str(message.kind),
                job_title=row.title,
                client_name=CONFIDENTIAL_CLIENT if row.confidential else row.name,
                next_date=promised,
                interview_date=ctx.interview_day.get(message.submission_id or 0),
                detail=message.detail or "",
                link=link,
                portal_url=portal.url,
            )
        )
        if promised is not None and message.submission_id is not None:
            promises.append((message.submission_id, promised))
    token = generate_key(settings.secret_key.get_secret_value(), prefix="")
    rendered = render_email(
        first_name=first.first_name,
        sections=sections,
        recruiter_name=first.recruiter_name,
        recruiter_email=first.recruiter_email,
        agency_name=settings.email_from_name,
        overrides=overrides,
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


async def _send_all(backend: EmailBackend, emails: list[OutgoingEmail]) -> list[str | Exception]:
    """Send a batch with bounded concurrency: provider round trips overlap, the database work
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


async def _record(
    session: AsyncSession,
    out: _Outgoing,
    outcome: str | Exception,
    *,
    now: datetime,
    events: list[dict[str, Any]],
) -> DrainResult:
    """What became of one email: sent (and its promises), retried later, or failed."""
    result = DrainResult()
    group, lead = out.group, out.group[0]
    assert lead.id is not None
    if isinstance(outcome, Exception):
        result = not_sent(group, outcome, now=now, events=events)
        await _failure_tasks(session, group, now)
        return result
    mark_sent(group, outcome, to=out.email.to, rendered=out.rendered, now=now, events=events)
    await _settle_promises(
        session, group, out.promises, lead_id=lead.id, now=now, time_zone=out.time_zone
    )
    result.sent_emails, result.messages_sent = 1, len(group)
    return result


def not_sent(
    group: list[Message], outcome: Exception, *, now: datetime, events: list[dict[str, Any]]
) -> DrainResult:
    """A transient failure retries later (backoff with jitter, never before ``Retry-After``;
    failed after ``MAX_ATTEMPTS``); anything else fails the messages for good."""
    result = DrainResult()
    if isinstance(outcome, TransientFailure):
        for message in group:
            assert message.id is not None
            message.attempts += 1
            if message.attempts >= MAX_ATTEMPTS:
                _fail(message, f"gave up after {message.attempts} attempts: {outcome.reason}")
                events.append(_event(message.id, now, "failed", message.failure_reason))
                result.failed += 1
                continue
            delay = _backoff(message.attempts, outcome.retry_after)
            message.state, message.send_at = MessageState.pending, now + delay
            events.append(_event(message.id, now, "retry", f"{outcome.reason}; next in {delay}"))
            result.retried += 1
        return result
    reason = outcome.reason if isinstance(outcome, PermanentFailure) else str(outcome)
    for message in group:
        assert message.id is not None
        _fail(message, reason)
        events.append(_event(message.id, now, "failed", reason))
        result.failed += 1
    return result


def mark_sent(
    group: list[Message],
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
    assert lead.id is not None
    for message in group:
        assert message.id is not None
        message.state = MessageState.sent if message is lead else MessageState.merged
        message.digest_id = None if message is lead else lead.id
        message.sent_at = now
        message.recipient_email = to
        message.subject, message.body_text, message.body_html = (
            rendered.subject,
            rendered.text,
            rendered.html,
        )
        message.provider_message_id = provider_id
        events.append(_event(message.id, now, "sent", f"email {lead.id}"))


def _fail(message: Message, reason: str) -> None:
    message.state, message.failure_reason = MessageState.failed, reason[:500]


async def _failure_tasks(session: AsyncSession, group: list[Message], now: datetime) -> None:
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
    group: list[Message],
    promises: list[tuple[int, date]],
    *,
    lead_id: int,
    now: datetime,
    time_zone: str,
) -> None:
    """Earlier promises of these submissions are settled by this email (kept if in time), and
    the dates it states become the new promises (R-CAND-1)."""
    submission_ids = [m.submission_id for m in group if m.submission_id is not None]
    await session.execute(
        update(Promise)
        .where(
            col(Promise.submission_id).in_(submission_ids),
            col(Promise.state) == PromiseState.open.value,
            col(Promise.due_by_at) >= now,
        )
        .values(state=PromiseState.kept.value, settled_at=now, settled_by_message_id=lead_id)
        .execution_options(synchronize_session=False)
    )
    for submission_id, promised in promises:
        session.add(
            Promise(
                submission_id=submission_id,
                message_id=lead_id,
                promised_date=promised,
                due_by_at=_end_of_day(promised, time_zone),
            )
        )


def _end_of_day(day: date, time_zone: str) -> datetime:
    """A promise "by Thursday" holds until that Thursday ends where the candidate lives."""
    zone = ZoneInfo(time_zone)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


async def _chunks(
    sessionmaker: async_sessionmaker[AsyncSession], ids: list[int]
) -> list[list[int]]:
    """The claimed ids in chunks of at most ``MAX_IN_FLIGHT`` recipients, each recipient's
    messages together (they may go as one digest)."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(col(Message.id), col(Message.candidate_id)).where(col(Message.id).in_(ids))
        )
        by_recipient: dict[int, list[int]] = defaultdict(list)
        for message_id, candidate_id in rows.all():
            by_recipient[candidate_id or 0].append(message_id)
    groups = list(by_recipient.values())
    return [
        [i for group in groups[start : start + MAX_IN_FLIGHT] for i in group]
        for start in range(0, len(groups), MAX_IN_FLIGHT)
    ]


async def drain(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    backend: EmailBackend,
    settings: Settings,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> DrainResult:
    """Deliver everything the gate lets go at ``now``, batch by batch."""
    total = DrainResult()
    while True:
        token = str(uuid.uuid4())
        async with sessionmaker() as session:
            ids = await claim(session, now=now, limit=batch, lease=lease, token=token)
            await session.commit()
        if not ids:
            return total
        for chunk in await _chunks(sessionmaker, ids):
            # One transaction per chunk: a worker killed mid-batch can only have sent the one
            # chunk it had in flight unrecorded, and only that chunk is sent again.
            async with sessionmaker() as session:
                done = await process(
                    session, ids=chunk, token=token, now=now, backend=backend, settings=settings
                )
                await session.commit()
            total.add(done)
