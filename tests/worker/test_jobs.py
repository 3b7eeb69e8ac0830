"""The generic job queue (decision 0050) on a committed database, SQLite and PostgreSQL alike:
a job enqueued in a request's transaction runs only if the request committed, exactly once
however many workers run, after the lease when its worker was killed, never twice when its
worker hung; a job whose row is gone is done, a poison job ends dead with its error, and
retries back off with jitter or wait the ``Retry-After`` the job gave.

The kinds are registered by ``tests/worker/sample_jobs.py`` alone: nothing in ``app/`` knows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.database import SessionDep, make_engine, make_sessionmaker
from app.core.errors import Conflict
from app.core.settings import Settings
from app.events.models import Event
from app.main import create_app
from app.messaging.backends import ConsoleBackend
from app.worker import queue
from app.worker.loop import WorkerOptions, run_round
from app.worker.models import JobState, WorkerJob
from app.worker.registry import REGISTRY, JobOutcome
from app.worker.runner import run_claimed, run_jobs
from tests.support.workers import (
    TIMEOUT,
    WorkerDatabase,
    claims_held,
    finish,
    on_postgresql,
    reap,
    wait_until_no_open_transaction,
    wait_until_queued,
)
from tests.worker import sample_jobs

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
Sessions = async_sessionmaker[AsyncSession]


async def enqueue_committed(sessions: Sessions, kind: str, count: int) -> list[int]:
    async with sessions() as session:
        made = [await queue.enqueue(session, kind, run_at=NOW, n=n) for n in range(count)]
        await session.commit()
    return [i for i in made if i is not None]


async def jobs_of(sessions: Sessions, kind: str) -> list[WorkerJob]:
    async with sessions() as session:
        rows = await session.scalars(
            select(WorkerJob).where(WorkerJob.kind == kind).order_by(WorkerJob.id)  # type: ignore[arg-type]
        )
        return list(rows.all())


# --- a request's transaction ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def api_with_enqueue_route(engine: AsyncEngine, url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the committed database, plus one route of the test's own that enqueues a
    job through the request's session and then succeeds or fails (409): the commit point is
    ``app.core.database:get_session``, as for every route."""
    app: FastAPI = create_app(Settings(environment="test", database_url=url), bind=engine)

    @app.post("/test-enqueue/{n}")
    async def enqueue_then(n: int, session: SessionDep, fail: bool = False) -> dict[str, int]:
        await queue.enqueue(session, sample_jobs.RECORD, run_at=NOW, n=n)
        if fail:
            raise Conflict("refused after enqueueing")
        return {"n": n}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://candor.test") as http:
        yield http


class TestJobEnqueuedInARequest:
    async def test_rolled_back_request_never_runs_its_job_committed_runs_once__R_IN(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        async with api_with_enqueue_route(worker_engine, worker_database.url) as http:
            refused = await http.post("/test-enqueue/1", params={"fail": "true"})
            accepted = await http.post("/test-enqueue/2")
        assert refused.status_code == 409, refused.text
        assert accepted.status_code == 200, accepted.text
        assert [j.ids for j in await jobs_of(worker_sessionmaker, sample_jobs.RECORD)] == [{"n": 2}]

        first = await run_jobs(worker_sessionmaker, now=NOW, only={sample_jobs.RECORD})
        again = await run_jobs(worker_sessionmaker, now=NOW + LEASE * 10, only={sample_jobs.RECORD})

        assert first.count(JobOutcome.done) == 1
        assert again.work == 0
        assert await sample_jobs.runs(worker_sessionmaker) == [2]
        [row] = await jobs_of(worker_sessionmaker, sample_jobs.RECORD)
        assert (row.state, row.attempts, row.claim_token) == (JobState.done, 1, None)
        assert (row.finished_at, row.lease_expires_at) == (NOW, None)

    async def test_the_loop_runs_a_kind_only_a_test_registered__R_SLA_6(
        self, worker_sessionmaker: Sessions, worker_database: WorkerDatabase
    ) -> None:
        """``app.worker.loop:run_round`` with ``--only``: the registry, not the loop, knows it."""
        await enqueue_committed(worker_sessionmaker, sample_jobs.RECORD, 3)
        done = await run_round(
            worker_sessionmaker,
            now=NOW,
            options=WorkerOptions(only=frozenset({sample_jobs.RECORD})),
            settings=Settings(environment="test", database_url=worker_database.url),
            backend=ConsoleBackend(),
        )
        assert done.jobs_run == 3
        assert sorted(await sample_jobs.runs(worker_sessionmaker)) == [0, 1, 2]


# --- several workers ---------------------------------------------------------------------------


def _env(database: WorkerDatabase, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != sample_jobs.HANG}
    return {**env, "CANDOR_DATABASE_URL": database.url, **extra}


async def start_job_worker(
    database: WorkerDatabase,
    now: datetime,
    *,
    batch: int = 10,
    hang: bool = False,
    lease: timedelta = LEASE,
) -> asyncio.subprocess.Process:
    extra = {sample_jobs.HANG: "1"} if hang else {}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.worker.jobs_worker",
        now.isoformat(),
        str(int(lease.total_seconds())),
        str(batch),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(database, **extra),
        cwd=ROOT,
    )


class TestSeveralWorkerProcesses:
    async def test_three_workers_run_each_of_300_jobs_exactly_once__R_SLA_6(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        await enqueue_committed(worker_sessionmaker, sample_jobs.RECORD, 300)
        procs: list[asyncio.subprocess.Process] = []
        try:
            async with claims_held(worker_engine, table="worker_job") as lock:
                for _ in range(3):
                    procs.append(await start_job_worker(worker_database, NOW, batch=10))
                await wait_until_queued(lock, procs, worker_database, table="worker_job")
            runs = await asyncio.gather(*(finish(proc) for proc in procs))
        finally:
            await reap(procs)
        assert all(run.returncode == 0 for run in runs), [run.explain() for run in runs]

        assert Counter(await sample_jobs.runs(worker_sessionmaker)) == Counter(range(300))
        rows = await jobs_of(worker_sessionmaker, sample_jobs.RECORD)
        assert {(r.state, r.attempts) for r in rows} == {(JobState.done, 1)}
        # Every worker printed what it did: together, each job once.
        done = [
            int(part.split("=")[1])
            for run in runs
            for part in run.stdout.split()
            if part.startswith("done=")
        ]
        assert sum(done) == 300


class TestKilledWorker:
    async def test_job_held_by_a_killed_worker_runs_after_its_lease__R_SLA_6(
        self, worker_database: WorkerDatabase, worker_sessionmaker: Sessions
    ) -> None:
        await enqueue_committed(worker_sessionmaker, sample_jobs.RECORD, 1)
        proc = await start_job_worker(worker_database, NOW, hang=True)
        try:
            await holding(proc)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            await reap([proc])

        within = await run_jobs(
            worker_sessionmaker, now=NOW + LEASE / 2, lease=LEASE, only={sample_jobs.RECORD}
        )
        assert within.work == 0  # still leased to the dead worker
        after = await run_jobs(
            worker_sessionmaker, now=NOW + LEASE, lease=LEASE, only={sample_jobs.RECORD}
        )

        assert after.count(JobOutcome.done) == 1
        assert await sample_jobs.runs(worker_sessionmaker) == [0]  # the killed run wrote nothing
        [row] = await jobs_of(worker_sessionmaker, sample_jobs.RECORD)
        assert (row.state, row.attempts) == (JobState.done, 2)


async def holding(proc: asyncio.subprocess.Process) -> None:
    """Wait until the worker process says it is inside the job (its write made, uncommitted)."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=TIMEOUT)
    assert line.decode().split() == ["holding", "0"], (line, await finish(proc))


@on_postgresql(
    "the server ends a hung worker's transaction (statement and idle timeouts); SQLite has no "
    "server to do it: a hung worker there is fenced on its claim token (TestHungWorker)"
)
class TestWorkerHungInsideAJobOnPostgres:
    async def test_server_ends_the_hung_transaction_after_the_lease_and_it_runs_elsewhere__R_SLA_6(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        await enqueue_committed(worker_sessionmaker, sample_jobs.RECORD, 1)
        short = timedelta(seconds=2)
        proc = await start_job_worker(worker_database, NOW, hang=True, lease=short)
        try:
            await holding(proc)
            within = await run_jobs(worker_sessionmaker, now=NOW, only={sample_jobs.RECORD})
            assert within.work == 0
            # Without the lease bound the hung transaction would hold the job's row forever,
            # and the claim below would skip it.
            await wait_until_no_open_transaction(worker_engine)
            after = await run_jobs(
                worker_sessionmaker, now=NOW + short, lease=short, only={sample_jobs.RECORD}
            )
            assert proc.returncode is None  # still hung: the server, not the worker, let go
        finally:
            await reap([proc])

        assert after.count(JobOutcome.done) == 1
        assert await sample_jobs.runs(worker_sessionmaker) == [0]
        [row] = await jobs_of(worker_sessionmaker, sample_jobs.RECORD)
        assert (row.state, row.attempts) == (JobState.done, 2)


class TestHungWorker:
    async def test_write_of_a_worker_whose_lease_ran_out_is_refused__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        await enqueue_committed(worker_sessionmaker, sample_jobs.RECORD, 1)
        spec = REGISTRY.jobs[sample_jobs.RECORD]
        async with worker_sessionmaker() as session:
            [hung] = await queue.claim(session, spec.kind, now=NOW, limit=10, lease=LEASE)
            await session.commit()
        # The holder hangs. Within the lease nobody else may take the job; after it, one may.
        half = await run_jobs(worker_sessionmaker, now=NOW + LEASE / 2, only={spec.kind})
        assert half.work == 0
        async with worker_sessionmaker() as session:
            [second] = await queue.claim(session, spec.kind, now=NOW + LEASE, limit=10, lease=LEASE)
            await session.commit()

        # The hung worker wakes while the second holds the job, then again once it is done.
        late = await run_claimed(worker_sessionmaker, spec, hung, now=NOW + LEASE)
        assert late == JobOutcome.lost
        assert await sample_jobs.runs(worker_sessionmaker) == []
        assert await run_claimed(worker_sessionmaker, spec, second, now=NOW + LEASE) == (
            JobOutcome.done
        )
        later = await run_claimed(worker_sessionmaker, spec, hung, now=NOW + LEASE * 2)

        assert later == JobOutcome.lost
        assert await sample_jobs.runs(worker_sessionmaker) == [0]
        [row] = await jobs_of(worker_sessionmaker, spec.kind)
        assert (row.state, row.attempts) == (JobState.done, 2)

    async def test_failure_of_a_worker_whose_lease_ran_out_changes_nothing__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        """A hung worker whose job then fails must not re-queue or bury the job it lost."""
        await enqueue_committed(worker_sessionmaker, sample_jobs.POISON, 1)
        async with worker_sessionmaker() as session:
            [hung] = await queue.claim(session, sample_jobs.POISON, now=NOW, limit=1, lease=LEASE)
            [second] = await queue.claim(
                session, sample_jobs.POISON, now=NOW + LEASE, limit=1, lease=LEASE
            )
            failed = await queue.fail(
                session,
                hung,
                ValueError("late"),
                now=NOW + LEASE,
                policy=sample_jobs.POISON_POLICY,
                rng=random.Random(0),
            )
            await session.commit()
        assert failed is None
        [row] = await jobs_of(worker_sessionmaker, sample_jobs.POISON)
        assert (row.state, row.claim_token, row.last_error) == (
            JobState.running,
            second.token,
            None,
        )


# --- what a job meets ---------------------------------------------------------------------------


class TestJobWhoseRowIsGone:
    async def test_job_for_a_deleted_row_is_done_without_error__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        async with worker_sessionmaker() as session:
            kept = Event(
                occurred_at=NOW, actor_type="system", action="seed", record_type="x", record_id=41
            )
            gone = Event(
                occurred_at=NOW, actor_type="system", action="seed", record_type="x", record_id=42
            )
            # The gone row is not the last: SQLite would hand its id to the next event written.
            session.add(gone)
            await session.flush()
            session.add(kept)
            await session.flush()
            assert kept.id is not None and gone.id is not None
            await queue.enqueue(session, sample_jobs.FOLLOW_UP, run_at=NOW, event_id=kept.id)
            await queue.enqueue(session, sample_jobs.FOLLOW_UP, run_at=NOW, event_id=gone.id)
            await session.commit()
        async with worker_sessionmaker() as session:
            await session.delete(gone)
            await session.commit()

        done = await run_jobs(worker_sessionmaker, now=NOW, only={sample_jobs.FOLLOW_UP})

        assert done.count(JobOutcome.done) == 2
        assert await sample_jobs.runs(worker_sessionmaker, sample_jobs.FOLLOW_UP) == [41]
        rows = await jobs_of(worker_sessionmaker, sample_jobs.FOLLOW_UP)
        assert [(r.state, r.attempts, r.last_error) for r in rows] == [(JobState.done, 1, None)] * 2


class TestPoisonJob:
    async def test_poison_job_is_dead_after_its_attempts_with_its_error__R_AV(
        self, worker_sessionmaker: Sessions
    ) -> None:
        await enqueue_committed(
            worker_sessionmaker,
            sample_jobs.POISON,
            1,
        )
        policy = sample_jobs.POISON_POLICY
        at, outcomes = NOW, []
        for attempt in range(1, policy.max_attempts + 1):
            done = await run_jobs(worker_sessionmaker, now=at, only={sample_jobs.POISON})
            outcomes += [o for o, n in done.outcomes.items() for _ in range(n)]
            [row] = await jobs_of(worker_sessionmaker, sample_jobs.POISON)
            assert row.attempts == attempt
            if row.state == JobState.queued:
                ceiling = min(policy.base * policy.factor ** (attempt - 1), policy.max_delay)
                assert at + ceiling * (1 - policy.jitter) <= row.run_at <= at + ceiling
                at = row.run_at
        assert outcomes == [JobOutcome.retried] * (policy.max_attempts - 1) + [JobOutcome.dead]
        assert (row.state, row.last_error) == (JobState.dead, "ValueError: poisoned item 0")
        assert row.finished_at == at
        assert (
            await run_jobs(
                worker_sessionmaker, now=at + timedelta(days=1), only={sample_jobs.POISON}
            )
        ).work == 0
        assert await sample_jobs.runs(worker_sessionmaker, sample_jobs.POISON) == []

    async def test_job_that_kills_its_worker_on_its_last_attempt_is_dead__R_AV(
        self, worker_sessionmaker: Sessions
    ) -> None:
        """Its lease expires on every attempt; after the last one it is buried, not retaken."""
        await enqueue_committed(worker_sessionmaker, sample_jobs.POISON, 1)
        at = NOW
        for _ in range(sample_jobs.POISON_POLICY.max_attempts):
            async with worker_sessionmaker() as session:
                assert (
                    len(
                        await queue.claim(session, sample_jobs.POISON, now=at, limit=1, lease=LEASE)
                    )
                    == 1
                )
                await session.commit()
            at += LEASE
        done = await run_jobs(worker_sessionmaker, now=at, only={sample_jobs.POISON})
        assert done.count(JobOutcome.dead) == 1
        [row] = await jobs_of(worker_sessionmaker, sample_jobs.POISON)
        assert (row.state, row.attempts) == (JobState.dead, sample_jobs.POISON_POLICY.max_attempts)
        assert row.last_error is not None and "lease expired" in row.last_error


class TestRetryAfter:
    async def test_job_that_raises_retry_after_waits_exactly_that_long__R_AV(
        self, worker_sessionmaker: Sessions
    ) -> None:
        await enqueue_committed(worker_sessionmaker, sample_jobs.THROTTLED, 1)
        done = await run_jobs(worker_sessionmaker, now=NOW, only={sample_jobs.THROTTLED})
        assert done.count(JobOutcome.retried) == 1
        [row] = await jobs_of(worker_sessionmaker, sample_jobs.THROTTLED)
        assert (row.state, row.run_at) == (JobState.queued, NOW + sample_jobs.THROTTLE)
        assert row.last_error == "RetryAfter: the far side said 429"
        # Not a moment before.
        early = NOW + sample_jobs.THROTTLE - timedelta(seconds=1)
        assert (
            await run_jobs(worker_sessionmaker, now=early, only={sample_jobs.THROTTLED})
        ).work == 0
        on_time = NOW + sample_jobs.THROTTLE
        assert (
            await run_jobs(worker_sessionmaker, now=on_time, only={sample_jobs.THROTTLED})
        ).work == 1


class TestDedupe:
    async def test_second_enqueue_with_a_live_key_adds_nothing__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        async with worker_sessionmaker() as session:
            first = await queue.enqueue(
                session, sample_jobs.RECORD, dedupe_key="k", run_at=NOW, n=1
            )
            second = await queue.enqueue(
                session, sample_jobs.RECORD, dedupe_key="k", run_at=NOW, n=2
            )
            other_kind = await queue.enqueue(
                session, sample_jobs.POISON, dedupe_key="k", run_at=NOW, n=3
            )
            await session.commit()
        assert first is not None and other_kind is not None and second is None
        await run_jobs(worker_sessionmaker, now=NOW, only={sample_jobs.RECORD})
        # Once its job is done, the key is free again.
        async with worker_sessionmaker() as session:
            third = await queue.enqueue(
                session, sample_jobs.RECORD, dedupe_key="k", run_at=NOW, n=4
            )
            await session.commit()
        assert third is not None
        assert [j.ids["n"] for j in await jobs_of(worker_sessionmaker, sample_jobs.RECORD)] == [
            1,
            4,
        ]

    async def test_racing_enqueues_of_one_key_add_one_job__R_SLA_6(
        self, worker_database: WorkerDatabase, worker_sessionmaker: Sessions
    ) -> None:
        """Two engines (two connections) enqueue the same keys at once, 20 times over."""
        engines = [make_engine(worker_database.url) for _ in range(2)]
        try:
            makers = [make_sessionmaker(e) for e in engines]

            async def enqueue_key(maker: Sessions, key: str, n: int) -> int | None:
                async with maker() as session:
                    made = await queue.enqueue(
                        session, sample_jobs.RECORD, dedupe_key=key, run_at=NOW, n=n
                    )
                    await session.commit()
                    return made

            for k in range(20):
                made = await asyncio.gather(
                    *(enqueue_key(m, f"key-{k}", i) for i, m in enumerate(makers))
                )
                assert sum(m is not None for m in made) == 1, made
        finally:
            for engine in engines:
                await engine.dispose()
        rows = await jobs_of(worker_sessionmaker, sample_jobs.RECORD)
        assert Counter(r.dedupe_key for r in rows) == Counter(f"key-{k}" for k in range(20))
