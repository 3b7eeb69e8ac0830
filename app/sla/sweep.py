"""Firing due checks exactly once, however many workers run (R-SLA-6).

**PostgreSQL: one transaction per batch.** ``fire_due`` locks the due checks (``SELECT … ORDER
BY due_at LIMIT n FOR UPDATE SKIP LOCKED``), marks them fired by primary key, writes their tasks,
events, status messages and nudges (``COPY``), and commits. Concurrent workers skip each other's
locked rows instead of waiting on them. The lease is enforced by the server: the
transaction runs with ``idle_in_transaction_session_timeout`` and ``statement_timeout`` set to
the lease, so a worker that dies has its batch rolled back when its connection drops, and one
that hangs loses its session (and its locks) once the lease has run out; either way the checks
are still ``scheduled`` and the next worker fires them (``bound_by_lease``, the worker's one
copy in ``app.worker.lease``). Each check is written once per batch, and a batch costs a
handful of round trips whatever its size (docs/decisions/0007).

**SQLite (and any caller of ``claim``/``fire``): claim, then fire fenced on the claim.** SQLite
has one writer and no row locks, so a batch is claimed in a short transaction (``state=
'claimed'``, a token and a lease expiry), then fired in a second one that updates only the rows
still ``claimed`` with this worker's token. A worker whose lease ran out finds its token replaced
and fires nothing; whoever claimed the check after the lease fires it.

The claim state lives on the ``sla_check`` rows themselves, not on ``worker_job`` rows: why
this tuned path does not go through ``app.worker.queue`` is decision 0070.

Both paths share ``fire_checks``, which turns fired checks into recruiter tasks, events, the
candidate's status message and client nudges; the tasks and events through the bulk forms of
their domains' one way to write them (``app.tasks.recruiter:open_tasks``,
``app.events.service:record_many``), ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.auth.principal import SYSTEM
from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.clients.models import Client, Contact, ContactPolicy
from app.core import bulk
from app.events.service import NewEvent, record_many
from app.jobs.models import Job
from app.messaging import nudges, outbox
from app.messaging.models import Audience, Message, MessageKind, MessageState
from app.sla.models import CheckKind, CheckState, SlaCheck
from app.sla.policy import get_policy
from app.submissions import service as submissions
from app.submissions.models import StageMoveCreate, Submission
from app.submissions.states import FINAL, Stage
from app.tasks.models import Task, TaskKind, TaskState
from app.tasks.recruiter import NewTask, open_tasks
from app.worker.lease import bound_by_lease

DEFAULT_BATCH = 1000
DEFAULT_LEASE = timedelta(minutes=5)
#: Read once per check and more: an enum member's ``.value`` is a descriptor call (~0.2 µs).
_PROMISE = CheckKind.promise.value
_SILENCE = CheckKind.silence.value
_DO_NOT_CONTACT = ContactPolicy.do_not_contact.value


@dataclass(frozen=True, slots=True)
class SweepResult:
    claimed: int
    fired: int


#: The partial index's predicate, written as literals: with bound parameters a generic (cached)
#: PostgreSQL plan cannot prove it implies ``ix_sla_check_pending_due`` and scans the table.
_PENDING = text("sla_check.state IN ('scheduled', 'claimed')")
_SCHEDULED: ColumnElement[str] = literal_column("'scheduled'")


def _due(now: datetime) -> Any:
    return and_(
        _PENDING,
        col(SlaCheck.due_at) <= now,
        or_(col(SlaCheck.state) == _SCHEDULED, col(SlaCheck.claim_expires_at) <= now),
    )


async def has_due(session: AsyncSession, *, now: datetime) -> bool:
    """The idle poll: one probe of the partial index on pending due instants (ordered by the
    index key, so the planner never prefers a scan)."""
    stmt = select(col(SlaCheck.id)).where(_due(now)).order_by(col(SlaCheck.due_at)).limit(1)
    return (await session.scalar(stmt)) is not None


async def claim(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta, token: str
) -> list[int]:
    """Take up to ``limit`` due checks (or expired claims) for this worker, oldest due first."""
    candidates = (
        select(col(SlaCheck.id))
        .where(_due(now))
        .order_by(col(SlaCheck.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(SlaCheck)
        .where(col(SlaCheck.id).in_(candidates.scalar_subquery()))
        .values(
            state=CheckState.claimed.value,
            claim_token=token,
            claim_expires_at=now + lease,
            claims=col(SlaCheck.claims) + 1,
        )
        .returning(col(SlaCheck.id))
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in result.all()]


async def fire(session: AsyncSession, *, ids: Sequence[int], token: str, now: datetime) -> int:
    """Fire the claimed checks this worker still holds (the claim-then-fire path)."""
    if not ids:
        return 0
    fenced = await session.execute(
        update(SlaCheck)
        .where(
            col(SlaCheck.id).in_(ids),
            col(SlaCheck.state) == CheckState.claimed.value,
            col(SlaCheck.claim_token) == token,
        )
        .values(state=CheckState.fired.value, fired_at=now, claim_token=None)
        .returning(col(SlaCheck.id))
        .execution_options(synchronize_session=False)
    )
    mine = [row[0] for row in fenced.all()]
    if not mine:
        return 0
    checks = select(*_CHECK_COLUMNS).where(col(SlaCheck.id).in_(mine)).subquery("fired")
    return await fire_checks(session, await _load_facts(session, checks), now=now)


async def take_due(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    """PostgreSQL: lock up to ``limit`` due checks until this transaction ends, oldest due
    first; rows other workers hold are skipped (``FOR UPDATE SKIP LOCKED``)."""
    due = await session.execute(
        select(col(SlaCheck.id))
        .where(_due(now))
        .order_by(col(SlaCheck.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [row[0] for row in due.all()]


async def fire_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> SweepResult:
    """PostgreSQL: take and fire one batch in the caller's transaction (the caller commits).

    The locked checks are marked fired by primary key (``id = ANY(array)``) in a CTE whose
    ``RETURNING`` feeds the join that loads what firing needs: one statement. (Updating ``WHERE
    id IN (SELECT … FOR UPDATE SKIP LOCKED)`` instead lets the planner hash-join the batch
    against a scan of the whole table, which it did for batches of 2,000.)
    """
    await bound_by_lease(session, lease)
    ids = await take_due(session, now=now, limit=limit)
    if not ids:
        return SweepResult(claimed=0, fired=0)
    checks = (
        update(SlaCheck)
        .where(col(SlaCheck.id) == any_(bindparam("ids", ids, type_=ARRAY(Integer))))
        .values(
            state=CheckState.fired.value,
            fired_at=now,
            claim_token=None,
            claims=col(SlaCheck.claims) + 1,
        )
        .returning(*_CHECK_COLUMNS)
        .cte("fired")
    )
    rows = await _load_facts(session, checks)
    return SweepResult(claimed=len(ids), fired=await fire_checks(session, rows, now=now))


_CHECK_COLUMNS = (
    col(SlaCheck.id),
    col(SlaCheck.kind),
    col(SlaCheck.due_at),
    col(SlaCheck.breach_at),
    col(SlaCheck.submission_id),
)


class Fired(NamedTuple):
    """What firing needs of one check (``_facts``' columns, in order). A plain tuple: the
    sweep reads about forty of these per check, and a SQLAlchemy row answers each attribute by
    a failed lookup first (about 0.5 µs, against 0.03 µs here; issue 14)."""

    id: int
    kind: str
    due_at: datetime
    breach_at: datetime
    submission_id: int
    owner_id: int
    candidate_id: int
    stage: str
    primary_contact_id: int | None
    calendar_id: int | None
    allow_automated_nudges: bool
    time_zone: str | None
    contact_policy: str | None
    no_chase: bool | None


async def _load_facts(session: AsyncSession, checks: Any) -> list[Fired]:
    result = await session.execute(_facts(checks))
    return [Fired._make(row) for row in result.tuples()]


def _facts(checks: Any) -> Select[Any]:
    """What firing needs of each check in ``checks`` (a subquery or CTE of ``_CHECK_COLUMNS``):
    its submission's owner, candidate and stage, the job's contact and its policy, the client's
    calendar and whether it allows nudges."""
    return (
        select(
            checks.c.id,
            checks.c.kind,
            checks.c.due_at,
            checks.c.breach_at,
            checks.c.submission_id,
            col(Submission.owner_id),
            col(Submission.candidate_id),
            col(Submission.stage),
            col(Job.primary_contact_id),
            col(Client.calendar_id),
            col(Client.allow_automated_nudges),
            col(Contact.time_zone),
            col(Contact.contact_policy),
            col(Contact.no_chase),
        )
        .select_from(checks)
        .join(Submission, col(Submission.id) == checks.c.submission_id)
        .join(Job, col(Job.id) == col(Submission.job_id))
        .join(Client, col(Client.id) == col(Job.client_id))
        .outerjoin(Contact, col(Contact.id) == col(Job.primary_contact_id))
    )


async def fire_checks(session: AsyncSession, rows: Sequence[Fired], *, now: datetime) -> int:
    """The checks of ``rows`` (``_facts``), just marked fired in this transaction, take effect:
    a task each (chase or decide), an event each, the candidate's status message and the
    client's nudge (R-SLA)."""
    if not rows:
        return 0
    cals = await calendars.calendars_by_id(session, {row.calendar_id for row in rows})
    policy = await get_policy(session)
    tasks: list[NewTask] = []
    to_close: list[int] = []
    promised = [row for row in rows if row.kind == _PROMISE]
    keeping, raised = await _promise_days(session, promised, cals, now)
    tasks += raised
    for row in rows:
        if row.kind == _PROMISE:
            continue
        if row.stage in FINAL:
            continue  # closed meanwhile by a path that did not stop the clock: nothing to chase
        cal = cals.get(row.calendar_id, cals[None])
        if row.kind == _SILENCE:
            if policy.auto_close_on_silence:
                to_close.append(row.submission_id)
                continue
            tasks.append(_decide_task(row))
        else:
            tasks.append(_chase_task(row, cal))
    task_ids = await open_tasks(session, tasks, now=now)
    task_of = {task.check_id: task_id for task, task_id in zip(tasks, task_ids, strict=True)}
    events = [
        NewEvent(
            action="sla.check_fired",
            record_type="submission",
            record_id=row.submission_id,
            data={
                "check_id": row.id,
                "kind": row.kind,
                "due_at": row.due_at.isoformat(),
                "task_id": task_of.get(row.id),
            },
        )
        for row in rows
    ]
    await record_many(session, SYSTEM, events, occurred_at=now)
    # Each check also tells the candidate where they stand (R-SLA, R-CAND-2): no news yet.
    # Once per submission: after an outage or a late sync several of its checks fire in one
    # batch, and only the newest is news (R-CAND-4: one section, one promise per application).
    newest: dict[int, Fired] = {}
    for row in rows:
        if row.kind == _PROMISE or row.stage in FINAL:
            continue
        if row.submission_id in to_close:
            continue
        current = newest.get(row.submission_id)
        if current is None or (row.due_at, row.id) > (current.due_at, current.id):
            newest[row.submission_id] = row
    updates = [
        outbox.status_row(
            kind=MessageKind.no_news,
            submission_id=row.submission_id,
            candidate_id=row.candidate_id,
            due_at=row.due_at,
            reason=f"{row.kind} check",
        )
        for row in newest.values()
    ]
    updates += [u for u in keeping if u["submission_id"] not in newest]
    if updates:
        await outbox.supersede(session, [u["submission_id"] for u in updates])
    # A chase also asks the job's contact for a decision by email, where allowed (R-CP-3).
    cadence = [row for row in rows if row.kind != _PROMISE]
    messages = updates + nudges.rows_for(cadence, now=now)
    await bulk.writer(session).insert(Message.__table__, messages)  # type: ignore[attr-defined]
    for submission_id in to_close:
        await _close_on_silence(session, submission_id, now)
    return len(rows)


async def _promise_days(
    session: AsyncSession, rows: list[Fired], cals: dict[int | None, bt.Calendar], now: datetime
) -> tuple[list[dict[str, Any]], list[NewTask]]:
    """R-CAND-1: promise checks whose day came with nothing newer sent about their application.
    Answers the status messages that keep the promises (a short, honest update, or for a
    submission closed without an email, that final message) and the chase tasks to open; a
    recruiter's open chase or decide task on the submission is raised instead (due now).
    An application with a status already on its way (pending in the outbox) needs neither."""
    if not rows:
        return [], []
    ids = sorted({row.submission_id for row in rows})
    on_the_way = set(
        (
            await session.execute(
                select(col(Message.submission_id)).where(
                    col(Message.submission_id).in_(ids),
                    col(Message.audience) == Audience.candidate.value,
                    col(Message.state).in_(
                        (MessageState.pending.value, MessageState.sending.value)
                    ),
                    col(Message.kind).in_(outbox.STATUS_KIND_VALUES),
                )
            )
        ).scalars()
    )
    open_tasks = set(
        (
            await session.execute(
                select(col(Task.submission_id)).where(
                    col(Task.submission_id).in_(ids),
                    col(Task.state) == TaskState.open.value,
                    col(Task.kind).in_((TaskKind.chase.value, TaskKind.decide.value)),
                )
            )
        ).scalars()
    )
    messages: list[dict[str, Any]] = []
    tasks: list[NewTask] = []
    seen: set[int] = set()
    for row in sorted(rows, key=lambda r: (r.due_at, r.id), reverse=True):
        if row.submission_id in on_the_way or row.submission_id in seen:
            continue
        seen.add(row.submission_id)
        stage = Stage(row.stage)
        if stage in FINAL:
            final = outbox.STAGE_MESSAGES.get(stage)
            if final is not None:  # closed without an email (a backdated sync): say so now
                messages.append(_update_row(row, final, now))
            continue
        messages.append(_update_row(row, MessageKind.promise_update, now))
        if row.submission_id in open_tasks:
            continue
        task = _chase_task(row, cals.get(row.calendar_id, cals[None]))
        tasks.append(
            replace(
                task,
                title=f"Candidate promised news today on submission {row.submission_id}",
                detail="The candidate was promised news today and nothing newer was sent, so "
                "Candor sent a short update with a new date. Find out where this stands. "
                + task.detail,
            )
        )
    for row in rows:
        if row.submission_id in seen and row.submission_id in open_tasks:
            await _raise_tasks(session, row.submission_id, now)
    return messages, tasks


async def _raise_tasks(session: AsyncSession, submission_id: int, now: datetime) -> None:
    """The recruiter's open chase/decide task on the submission is due now at the latest, and
    says which promise came due without news."""
    note = " The candidate was promised news today; Candor sent a short update."
    await session.execute(
        update(Task)
        .where(
            col(Task.submission_id) == submission_id,
            col(Task.state) == TaskState.open.value,
            col(Task.kind).in_((TaskKind.chase.value, TaskKind.decide.value)),
        )
        .values(
            due_at=case((col(Task.due_at) > now, now), else_=col(Task.due_at)),
            detail=func.substr(func.coalesce(col(Task.detail), "") + note, 1, 2000),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _update_row(row: Fired, kind: MessageKind, now: datetime) -> dict[str, Any]:
    return outbox.status_row(
        kind=kind,
        submission_id=row.submission_id,
        candidate_id=row.candidate_id,
        due_at=row.due_at,
        reason="promise day",
    ) | {"created_at": now, "updated_at": now}


def _chase_task(row: Fired, cal: bt.Calendar) -> NewTask:
    """R-SLA: chase the job's primary contact, with the next call window (R-CALL). A contact who
    must not be contacted, or asked not to be chased, is never named in a task (R-CP-2, R-CP-3)."""
    contact_id = row.primary_contact_id
    window: tuple[datetime, datetime] | None = None
    detail = f"{row.kind.capitalize()} check: no decision from the client yet."
    if contact_id is None:
        detail += " The job has no primary contact; find who decides."
    elif row.contact_policy == _DO_NOT_CONTACT or row.no_chase:
        detail += " The primary contact may not be chased; follow up through other channels."
        contact_id = None
    else:
        window = bt.next_call_window(cal, row.due_at, time_zone=row.time_zone)
    return NewTask(
        kind=TaskKind.chase,
        assignee_id=row.owner_id,
        submission_id=row.submission_id,
        check_id=row.id,
        contact_id=contact_id,
        title=f"Chase the client on submission {row.submission_id}",
        detail=detail,
        due_at=row.due_at,
        breach_at=row.breach_at,
        call_window=window,
    )


def _decide_task(row: Fired) -> NewTask:
    """R-SLA-4: after silence, the owner decides: keep waiting, or close."""
    return NewTask(
        kind=TaskKind.decide,
        assignee_id=row.owner_id,
        submission_id=row.submission_id,
        check_id=row.id,
        title=f"Decide on submission {row.submission_id}: keep waiting or close",
        detail="No feedback since the first check. Keep waiting schedules one more check; "
        "closing tells the candidate kindly.",
        due_at=row.due_at,
        breach_at=row.breach_at,
    )


async def _close_on_silence(session: AsyncSession, submission_id: int, now: datetime) -> None:
    """R-SLA-4 with the agency's auto-close: the submission closes itself (no decision)."""
    submission = await session.get(Submission, submission_id)
    if submission is None or Stage(submission.stage) in FINAL:
        return
    occurred_at = max(now, submission.stage_changed_at)
    await submissions.move(
        session,
        SYSTEM,
        submission,
        StageMoveCreate(to_stage=Stage.closed, occurred_at=occurred_at, reason="silence"),
        now=now,
    )


async def run_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
    max_batches: int | None = None,
) -> SweepResult:
    """Fire batches until nothing is due at ``now`` (or ``max_batches`` ran)."""
    claimed_total = fired_total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        async with sessionmaker() as session:
            if bulk.is_postgresql(session):
                done = await fire_due(session, now=now, limit=batch, lease=lease)
                await session.commit()
            else:
                done = await _claim_then_fire(sessionmaker, session, now, batch, lease)
        if not done.claimed:
            break
        claimed_total += done.claimed
        fired_total += done.fired
        batches += 1
    return SweepResult(claimed=claimed_total, fired=fired_total)


async def _claim_then_fire(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    now: datetime,
    batch: int,
    lease: timedelta,
) -> SweepResult:
    token = str(uuid.uuid4())
    ids = await claim(session, now=now, limit=batch, lease=lease, token=token)
    await session.commit()
    if not ids:
        return SweepResult(claimed=0, fired=0)
    async with sessionmaker() as firing:
        fired = await fire(firing, ids=ids, token=token, now=now)
        await firing.commit()
    return SweepResult(claimed=len(ids), fired=fired)
