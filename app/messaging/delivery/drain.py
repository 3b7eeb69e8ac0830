"""The candidates' outbox drain: claim what is due, gate it, compose, send, record (R-CAND).

Draining claims due rows under a lease (``app.messaging.delivery.claims``), passes each through
the policy gate (``app.messaging.gate:decide``), bundles what one person gets in one slot into
one email (a digest), sends it, and records the promise it makes
(``app.messaging.delivery.promises``). A worker that dies mid-delivery loses nothing: its
claims expire and are taken up again; the price is that an email accepted by the provider just
before the crash can be sent twice (at-least-once), and the message id carried to the provider
makes such duplicates findable. Sends go out in chunks of ``CHUNK`` recipients, each chunk sent
and recorded in its own transaction, at most ``PIPELINE`` chunks at once, so a crash can repeat
at most the chunks that were in flight (``MAX_REPEATED_PER_CRASH`` emails). A chunk's database
work is set-based: about ten statements whatever its size (decision record 0008).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core import bulk
from app.core.prepared import Prepared
from app.core.settings import Settings
from app.messaging import gate
from app.messaging.backends import (
    MAX_IN_FLIGHT,
    EmailBackend,
    OutgoingEmail,
    PermanentFailure,
    TransientFailure,
)
from app.messaging.delivery import compose, promises
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
from app.messaging.delivery.context import Batch, Context, load_batch, load_context
from app.messaging.models import (
    STATUS_KINDS,
    MessageEvent,
    MessageKind,
    MessageState,
    OptOutToken,
    PromiseState,
)
from app.messaging.render import Rendered
from app.portal.models import CandidateLink
from app.tasks.recruiter import open_fix_address_task

log = logging.getLogger("candor.outbox")

#: A transient failure is retried with backoff this many times, then the message fails.
MAX_ATTEMPTS = 8


@dataclass
class DrainResult:
    """What a drain (or one chunk of it) did, counted per outcome."""

    sent_emails: int = 0
    messages_sent: int = 0
    held: int = 0
    refused: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: DrainResult) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


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
    await _DAY_LOCKS.run(session, {"lock": CANDIDATE_DAY_LOCK, "ids": sorted(candidate_ids)})


#: Built once (a ``text()`` per chunk is parsed for its parameters each time), run by the driver.
_DAY_LOCKS = Prepared(
    text("SELECT pg_advisory_xact_lock(:lock, c) FROM unnest(CAST(:ids AS integer[])) AS c")
)


def _verdict(
    message: Taken, row: Any, ctx: Context, now: datetime, batch: Batch, digest_time: time
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
            events.append(event_row(message.id, now, "refused", str(verdict.rule)))
            result.refused += 1
        elif verdict.action == "hold":
            assert verdict.until is not None
            message.set(
                state=MessageState.pending.value, send_at=verdict.until, gate_rule=str(verdict.rule)
            )
            events.append(
                event_row(message.id, now, "held", f"{verdict.rule} until {verdict.until}")
            )
            result.held += 1
        else:
            sendable[message.candidate_id or 0].append(message)
    noted = await compose.interviews_with_notes(session, [m for g in sendable.values() for m in g])
    for who, group in list(sendable.items()):
        sendable[who] = compose.newest_per_application(group, noted, now=now, events=events)
        if not sendable[who]:
            del sendable[who]
    outgoing = [
        compose.email_for(
            group, ctx, now=now, settings=settings, batch=batch, digest_time=digest_time
        )
        for group in sendable.values()
    ]
    if outgoing:
        # Written before sending: a link in an email that went out always works.
        rows = bulk.writer(session)
        await rows.insert(OptOutToken.__table__, [out.opt_out for out in outgoing])  # type: ignore[attr-defined]
        links = [row for out in outgoing for row in out.links]
        await rows.insert(CandidateLink.__table__, links)  # type: ignore[attr-defined]
    outcomes = await send_all(backend, [out.email for out in outgoing])
    settled: list[dict[str, Any]] = []
    new_promises: list[dict[str, Any]] = []
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
        new_promises += [
            {
                "submission_id": p.submission_id,
                "message_id": lead,
                "promised_date": p.day,
                "due_by_at": promises.end_of_day(p.day, out.time_zone),
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
    await promises.settle(session, settled, new_promises, now=now)
    await promises.back(
        session,
        [s["b_submission"] for s in settled],
        backing,
        agency=batch.agency,
        digest_time=digest_time,
        now=now,
    )
    await bulk.writer(session).insert(MessageEvent.__table__, events)  # type: ignore[attr-defined]
    await _failure_tasks(session, failed, now)
    return result


async def send_all(backend: EmailBackend, emails: list[OutgoingEmail]) -> list[str | Exception]:
    """Send a chunk with bounded concurrency: provider round trips overlap, the database work
    around them stays sequential in the caller.

    At most ``MAX_IN_FLIGHT`` senders, each taking the next email when its last one is done
    (not a task per email queued on a semaphore: asyncio's ``Semaphore.acquire`` walks its
    waiters on every call, measurable at a chunk's size; decision record 0089)."""
    results: list[str | Exception] = [TransientFailure("not sent")] * len(emails)
    todo = iter(enumerate(emails))

    async def sender() -> None:
        for index, email in todo:
            try:
                results[index] = await backend.send(email)
            except (TransientFailure, PermanentFailure) as failure:
                results[index] = failure
            except Exception as unexpected:
                # An unexpected failure is retried, never lost.
                log.warning("unexpected send failure: %s", type(unexpected).__name__)
                results[index] = TransientFailure(type(unexpected).__name__)

    await asyncio.gather(*(sender() for _ in range(min(MAX_IN_FLIGHT, len(emails)))))
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
                events.append(event_row(message.id, now, "failed", message.failure_reason))
                result.failed += 1
                continue
            delay = _backoff(attempts, outcome.retry_after)
            message.set(state=MessageState.pending.value, send_at=now + delay, attempts=attempts)
            events.append(event_row(message.id, now, "retry", f"{outcome.reason}; next in {delay}"))
            result.retried += 1
        return result
    reason = outcome.reason if isinstance(outcome, PermanentFailure) else str(outcome)
    for message in group:
        _fail(message, reason)
        events.append(event_row(message.id, now, "failed", reason))
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
        events.append(event_row(message.id, now, "sent", f"email {lead.id}"))


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
    # A slot per transaction in flight: each chunk holds one until it commits, and so does each
    # claim, so on PostgreSQL the next batch is claimed while the last chunks of this one are
    # still sending (the pipeline never runs dry at a batch's end), and on SQLite (one slot)
    # nothing overlaps. At most ``pipeline_depth`` chunks are in flight, so a crash repeats at
    # most ``MAX_REPEATED_PER_CRASH`` emails: claimed but unsent messages are only claimed again
    # when their lease runs out.
    depth = asyncio.Semaphore(pipeline_depth(sessionmaker))

    async def one_chunk(ids: list[int], token: str, shared: Batch) -> None:
        try:
            async with sessionmaker() as session:
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
        finally:
            depth.release()

    async with asyncio.TaskGroup() as chunk_tasks:
        while True:
            token = str(uuid.uuid4())
            async with depth, sessionmaker() as session:
                claimed = await claim(session, now=now, limit=batch, lease=lease, token=token)
                await session.commit()
                shared = await load_batch(session) if claimed else None
            if shared is None:
                break
            # One transaction per chunk: a worker killed mid-batch can only have sent the chunks
            # it had in flight unrecorded, and only those are sent again.
            for ids in chunks(claimed, CHUNK):
                await depth.acquire()
                chunk_tasks.create_task(one_chunk(ids, token, shared))
    # Every round, so a promise whose day ended is recorded broken even when nothing was due
    # (one probe of a partial index when nothing is overdue).
    async with sessionmaker() as session:
        await promises.break_overdue(session, now=now)
        await session.commit()
    return total
