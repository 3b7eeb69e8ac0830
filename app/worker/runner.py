"""One round of registered background work: what ``app.worker.loop`` calls (decision 0050).

``run_jobs`` takes every registered job kind (or the ``only`` ones) in turn, claims its due jobs
in batches until none is due, and runs each in a unit of work of its own (see
``app.worker.queue`` for the claim, the lease and the fence); then it calls every registered
sweeper once. A handler's exception never stops the round: its job is retried or buried.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.worker import queue
from app.worker.lease import lease_ms
from app.worker.queue import DEFAULT_BATCH, DEFAULT_LEASE, ClaimedJob
from app.worker.registry import (
    REGISTRY,
    JobMetrics,
    JobOutcome,
    JobSpec,
    LoggingMetrics,
    Registry,
    SweepContext,
)

if TYPE_CHECKING:
    from app.core.settings import Settings
    from app.messaging.backends import EmailBackend

log = logging.getLogger("candor.worker.jobs")
_rng = random.Random()  # noqa: S311 - jitter, not secrecy


@dataclass(slots=True)
class JobsRound:
    """What one round did, per outcome; ``swept`` counts the items sweepers reported, and
    ``tallies`` those of sweepers that declared a ``counts_as``, per tally."""

    outcomes: dict[JobOutcome, int] = field(default_factory=dict)
    swept: int = 0
    tallies: dict[str, int] = field(default_factory=dict)

    def tally(self, name: str) -> int:
        return self.tallies.get(name, 0)

    def count(self, outcome: JobOutcome) -> int:
        return self.outcomes.get(outcome, 0)

    @property
    def work(self) -> int:
        return sum(self.outcomes.values()) + self.swept


async def run_claimed(
    sessionmaker: async_sessionmaker[AsyncSession],
    spec: JobSpec,
    job: ClaimedJob,
    *,
    now: datetime,
    rng: random.Random = _rng,
) -> JobOutcome:
    """Run one claimed job: fence, handler and completion in one transaction; on an error, a
    fenced retry or burial in a second one."""
    async with sessionmaker() as session:
        error: Exception | None = None
        try:
            if not await queue.complete(session, job, now=now):
                await session.rollback()
                return JobOutcome.lost
            await spec.handler(session, now=now, **job.ids)
            await session.commit()
            return JobOutcome.done
        except Exception as exc:  # any handler error is the job's failure, never the round's
            await session.rollback()
            error = exc
    log.info(
        "job %s #%d attempt %d failed: %s", job.kind, job.id, job.attempts, type(error).__name__
    )
    async with sessionmaker() as session:
        failure = await queue.fail(session, job, error, now=now, policy=spec.retry, rng=rng)
        await session.commit()
    if failure is None:
        return JobOutcome.lost
    return JobOutcome.dead if failure.dead else JobOutcome.retried


async def _run_kind(
    sessionmaker: async_sessionmaker[AsyncSession],
    spec: JobSpec,
    *,
    now: datetime,
    lease: timedelta,
    batch: int,
    metrics: JobMetrics,
    done: JobsRound,
) -> None:
    async with sessionmaker() as session:
        buried = await queue.bury_exhausted_leases(
            session, spec.kind, now=now, max_attempts=spec.retry.max_attempts
        )
        await session.commit()
    for _ in range(buried):
        metrics.job_finished(spec.kind, JobOutcome.dead, 0.0)
    done.outcomes[JobOutcome.dead] = done.count(JobOutcome.dead) + buried
    while True:
        async with one_connection(sessionmaker, lease) as sessions:
            async with sessions() as session:
                claimed = await queue.claim(session, spec.kind, now=now, limit=batch, lease=lease)
                await session.commit()
            for job in claimed:
                started = time.perf_counter()
                outcome = await run_claimed(sessions, spec, job, now=now)
                metrics.job_finished(spec.kind, outcome, time.perf_counter() - started)
                done.outcomes[outcome] = done.count(outcome) + 1
        if len(claimed) < batch:
            return


@contextlib.asynccontextmanager
async def one_connection(
    sessionmaker: async_sessionmaker[AsyncSession], lease: timedelta
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions for one claimed batch, all on one connection: a pool checkout (and its ping)
    per batch, not per job. On PostgreSQL each statement and each idle transaction on it is
    bounded by the lease, so a worker hung inside a job loses its transaction, and the row
    lock its fence took, once the lease is over (the session settings are reset after)."""
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        yield sessionmaker  # already one connection (the tests' rolled-back transaction)
        return
    async with bind.connect() as conn:
        bounded = conn.dialect.name == "postgresql"
        if bounded:
            ms = lease_ms(lease)
            await conn.exec_driver_sql(f"SET statement_timeout = {ms}")
            await conn.exec_driver_sql(f"SET idle_in_transaction_session_timeout = {ms}")
            await conn.commit()
        try:
            yield async_sessionmaker(bind=conn, expire_on_commit=False)
        finally:
            if bounded and not conn.invalidated:
                await conn.rollback()
                await conn.exec_driver_sql("RESET statement_timeout")
                await conn.exec_driver_sql("RESET idle_in_transaction_session_timeout")
                await conn.commit()


async def run_jobs(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    batch: int = DEFAULT_BATCH,
    only: Collection[str] | None = None,
    registry: Registry = REGISTRY,
    metrics: JobMetrics | None = None,
    sweep_batch: int | None = None,
    settings: Settings | None = None,
    backend: EmailBackend | None = None,
) -> JobsRound:
    """Everything registered (or the ``only`` kinds) that is due at ``now``, once: the jobs
    in claims of ``batch``, then the sweepers in their order, each told ``sweep_batch``
    (default ``batch``), the worker's ``settings`` and its email ``backend``."""
    jobs, sweepers = registry.select(only)
    metrics = metrics or LoggingMetrics()
    done = JobsRound()
    for spec in jobs:
        await _run_kind(
            sessionmaker, spec, now=now, lease=lease, batch=batch, metrics=metrics, done=done
        )
    for sweep in sweepers:
        started = time.perf_counter()
        items = await sweep.handler(
            SweepContext(
                sessionmaker=sessionmaker,
                now=now,
                lease=lease,
                batch=batch if sweep_batch is None else sweep_batch,
                settings=settings,
                backend=backend,
            )
        )
        metrics.sweeper_finished(sweep.kind, items, time.perf_counter() - started)
        done.swept += items
        if sweep.counts_as is not None:
            done.tallies[sweep.counts_as] = done.tally(sweep.counts_as) + items
    return done
