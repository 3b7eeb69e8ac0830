"""The durable-work queue, written once: enqueue, claim, lease, fence, backoff (decision 0050).

**Enqueue in the caller's transaction.** ``enqueue`` adds a ``worker_job`` row through the
caller's session, so the job commits or rolls back with the change that called for it: a
rolled-back request never runs its job. A dedupe key makes a second enqueue of the same live job
a no-op (``INSERT … ON CONFLICT DO NOTHING`` on a partial unique index), race-safe on SQLite and
PostgreSQL alike: two racing enqueues serialise on the index, and the loser inserts nothing.

**Claim under a lease, run fenced on the claim.** ``claim`` marks up to ``limit`` due jobs of a
kind ``running`` with a fresh token and a lease expiry, in one short transaction (PostgreSQL:
``FOR UPDATE SKIP LOCKED``, so concurrent workers skip each other's rows; SQLite: one writer, so
the statement is atomic). ``run_claimed`` then runs each job in a transaction of its own that
*first* moves the job to ``done`` only if it still holds this claim's token, then runs the
handler, then commits: the job's writes and its completion commit together or not at all. A
worker that hung past its lease finds its token replaced (another worker took the job up) and
writes nothing. On PostgreSQL the runner also bounds every statement and idle transaction by
the lease on the server (``app.worker.runner.one_connection``), so a worker hung inside a
handler loses its transaction and its row lock once the lease is over.

**Crash recovery.** A worker killed outright leaves its jobs ``running`` under an expired lease:
the next claim after the lease takes them up again (an attempt more). A job whose lease expired
on its last attempt (a job that kills its worker) ends ``dead`` instead of looping forever.

**Failure and backoff.** A handler that raises is rolled back, then, in a new fenced
transaction, its job is queued again after the retry policy's delay (exponential, with jitter,
or the ``Retry-After`` the handler raised), or marked ``dead`` with its last error once its
attempts are spent. External side effects of a handler (an HTTP call) happen at least once;
its database writes happen exactly once.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.clock import utcnow
from app.worker.models import LIVE_PREDICATE, JobState, WorkerJob

DEFAULT_LEASE = timedelta(minutes=5)
#: Jobs claimed per claim: one lease covers the whole batch, so it stays small.
DEFAULT_BATCH = 50
#: ``last_error`` keeps this much of an error's text.
ERROR_CHARS = 500

#: Ids are the only arguments a job takes (style rule 7); values are JSON scalars.
JobId = int | str

_TABLE = WorkerJob.__table__  # type: ignore[attr-defined]
_QUEUED: ColumnElement[str] = literal_column("'queued'")
_RUNNING: ColumnElement[str] = literal_column("'running'")


class RetryAfter(Exception):
    """Raised by a handler that knows when to try again (an HTTP 429/503 ``Retry-After``): the
    job is queued again after exactly ``delay``; it still counts as an attempt."""

    def __init__(self, delay: timedelta, message: str = "") -> None:
        if delay < timedelta(0):
            raise ValueError("Retry-After must not be negative")
        super().__init__(message or f"retry after {delay.total_seconds():g}s")
        self.delay = delay


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a kind is tried and how long it waits between tries, as data.

    The n-th retry waits ``base * factor**(n-1)``, capped at ``max_delay``, then scaled by a
    random factor in ``[1 - jitter, 1]``, so jobs that failed together (an outage) do not all
    come back in the same instant.
    """

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")
        if self.factor < 1.0 or self.base <= timedelta(0) or self.max_delay < self.base:
            raise ValueError("the delay must not shrink: factor >= 1, 0 < base <= max_delay")

    def delay(
        self, attempt: int, *, rng: random.Random, retry_after: timedelta | None = None
    ) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1 is the first try)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.base * self.factor ** max(attempt - 1, 0), self.max_delay)
        return ceiling * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds until ``lease_expires_at``, fenced on ``token``."""

    id: int
    kind: str
    ids: Mapping[str, Any]
    attempts: int
    token: str
    lease_expires_at: datetime


@dataclass(frozen=True, slots=True)
class Failure:
    """What became of a failed attempt: queued again at ``retry_at``, or dead."""

    dead: bool
    retry_at: datetime | None
    error: str


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def enqueue(
    session: AsyncSession,
    kind: str,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    **ids: JobId,
) -> int | None:
    """Add a job in the caller's transaction; its id, or ``None`` when ``dedupe_key`` names a
    job of this kind that is still queued or running (then nothing is added)."""
    if not kind or len(kind) > 64:
        raise ValueError("a job kind is 1-64 characters")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be an aware instant")
    for name, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"job ids are ints or strings, not {type(value).__name__} ({name})")
    now = utcnow()
    values = {
        "kind": kind,
        "ids": dict(ids),
        "run_at": run_at or now,
        "dedupe_key": dedupe_key,
        "state": JobState.queued.value,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    statement = insert(_TABLE).values(**values)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(
            index_elements=["kind", "dedupe_key"],
            index_where=text(f"dedupe_key IS NOT NULL AND {LIVE_PREDICATE}"),
        )
    result = await session.execute(statement.returning(_TABLE.c.id))
    return result.scalar_one_or_none()


def _claim_candidates(
    where: ColumnElement[bool], order: Any, limit: int
) -> Select[tuple[int | None]]:
    return (
        select(col(WorkerJob.id))
        .where(where)
        .order_by(order)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def _take(
    session: AsyncSession,
    candidates: Select[tuple[int | None]],
    *,
    now: datetime,
    lease: timedelta,
    token: str,
) -> list[ClaimedJob]:
    expires = now + lease
    result = await session.execute(
        update(WorkerJob)
        .where(col(WorkerJob.id).in_(candidates.scalar_subquery()))
        .values(
            state=JobState.running.value,
            claim_token=token,
            lease_expires_at=expires,
            attempts=col(WorkerJob.attempts) + 1,
            updated_at=now,
        )
        .returning(
            col(WorkerJob.id), col(WorkerJob.kind), col(WorkerJob.ids), col(WorkerJob.attempts)
        )
        .execution_options(synchronize_session=False)
    )
    return [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            ids=row.ids,
            attempts=row.attempts,
            token=token,
            lease_expires_at=expires,
        )
        for row in result.all()
    ]


async def bury_exhausted_leases(
    session: AsyncSession, kind: str, *, now: datetime, max_attempts: int
) -> int:
    """Jobs whose worker vanished on their last attempt end ``dead`` (a job that kills its
    worker must not be taken up forever); the error says so."""
    result = await session.execute(
        update(WorkerJob)
        .where(
            col(WorkerJob.kind) == kind,
            col(WorkerJob.state) == _RUNNING,
            col(WorkerJob.lease_expires_at) <= now,
            col(WorkerJob.attempts) >= max_attempts,
        )
        .values(
            state=JobState.dead.value,
            claim_token=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
            last_error=f"lease expired on attempt {max_attempts}: the worker stopped",
        )
        .returning(col(WorkerJob.id))
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


async def claim(
    session: AsyncSession,
    kind: str,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    token: str | None = None,
) -> list[ClaimedJob]:
    """Take up to ``limit`` jobs of ``kind``: first those whose lease expired (their worker
    died or hung), then the due ones, oldest first. Each is an index range scan."""
    token = token or str(uuid.uuid4())
    expired = and_(
        col(WorkerJob.kind) == kind,
        col(WorkerJob.state) == _RUNNING,
        col(WorkerJob.lease_expires_at) <= now,
    )
    taken = await _take(
        session,
        _claim_candidates(expired, col(WorkerJob.lease_expires_at), limit),
        now=now,
        lease=lease,
        token=token,
    )
    if len(taken) < limit:
        due = and_(
            col(WorkerJob.kind) == kind,
            col(WorkerJob.state) == _QUEUED,
            col(WorkerJob.run_at) <= now,
        )
        taken += await _take(
            session,
            _claim_candidates(due, col(WorkerJob.run_at), limit - len(taken)),
            now=now,
            lease=lease,
            token=token,
        )
    return taken


def _fenced(job: ClaimedJob) -> tuple[ColumnElement[bool], ...]:
    return (
        col(WorkerJob.id) == job.id,
        col(WorkerJob.state) == _RUNNING,
        col(WorkerJob.claim_token) == job.token,
    )


#: Built once (a Core statement on the table, with bound parameters): it runs once per job, so
#: neither building it nor the ORM's bulk-update bookkeeping should cost anything per job.
_COMPLETE = (
    _TABLE.update()
    .where(
        _TABLE.c.id == bindparam("job_id"),
        _TABLE.c.state == _RUNNING,
        _TABLE.c.claim_token == bindparam("token"),
    )
    .values(
        state=JobState.done.value,
        claim_token=None,
        lease_expires_at=None,
        last_error=None,
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(_TABLE.c.id)
)


async def complete(session: AsyncSession, job: ClaimedJob, *, now: datetime) -> bool:
    """Mark ``job`` done if this worker still holds it; ``False`` (nothing written) when its
    lease ran out and another worker took it up. Called first in the job's transaction, so
    the handler's writes commit with it or not at all."""
    result = await session.execute(_COMPLETE, {"job_id": job.id, "token": job.token, "now": now})
    return result.first() is not None


def describe(error: BaseException) -> str:
    """The error as ``last_error`` keeps it: its type and the start of its message."""
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]


async def fail(
    session: AsyncSession,
    job: ClaimedJob,
    error: BaseException,
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Failure | None:
    """Queue ``job`` again after the policy's delay, or bury it once its attempts are spent;
    ``None`` when this worker no longer holds it (then the new holder decides)."""
    text_ = describe(error)
    dead = job.attempts >= policy.max_attempts
    retry_at = None
    if not dead:
        retry_after = error.delay if isinstance(error, RetryAfter) else None
        retry_at = now + policy.delay(job.attempts, rng=rng, retry_after=retry_after)
    values: dict[str, Any] = {
        "state": JobState.dead.value if dead else JobState.queued.value,
        "claim_token": None,
        "lease_expires_at": None,
        "last_error": text_,
        "updated_at": now,
    }
    if dead:
        values["finished_at"] = now
    else:
        values["run_at"] = retry_at
    result = await session.execute(
        update(WorkerJob)
        .where(*_fenced(job))
        .values(**values)
        .returning(col(WorkerJob.id))
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        return None
    return Failure(dead=dead, retry_at=retry_at, error=text_)
