"""R-SLA-6 across real processes: a check fires exactly once, however many workers run, whether
a worker dies holding a claim, hangs past its lease, or the clock stops while it holds one.

The workers are the real ``candor worker`` command, in OS processes of their own, on a committed
database (see conftest.py); the test only seeds through the services and reads the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from app.auth.principal import SYSTEM
from app.feedback import service as feedback_service
from app.feedback.models import FeedbackCreate
from app.sla import sweep
from app.sla.models import CheckKind, CheckState
from app.submissions import service as submissions_service
from app.submissions.models import StageMoveCreate, Submission
from app.tasks.models import Task
from tests.support.workers import (
    TIMEOUT,
    Sessions,
    WorkerDatabase,
    assert_fired_once,
    claims_held,
    due_instant,
    finish,
    fired_event_check_ids,
    ids_reported,
    load_checks,
    on_postgresql,
    reap,
    run_worker,
    seed_submissions,
    start_script,
    start_worker,
    task_check_ids,
    three_due_first_checks,
    wait_until_no_open_transaction,
    wait_until_queued,
    wait_until_waiting,
)

# --- the tests --------------------------------------------------------------------------------


class TestConcurrentWorkersFireEachCheckOnce:
    async def test_four_workers_fire_each_of_2000_checks_exactly_once__R_SLA_6(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        await seed_submissions(worker_sessionmaker, 1000)
        # At the second check's instant, every first and second check is due; silence is not.
        at = await due_instant(worker_sessionmaker, CheckKind.second)
        before = await load_checks(worker_sessionmaker)
        due = {i for i, c in before.items() if c.due_at <= at}
        assert len(due) == 2000
        assert {(c.state, c.claims) for c in before.values()} == {(CheckState.scheduled, 0)}

        procs: list[asyncio.subprocess.Process] = []
        try:
            async with claims_held(worker_engine) as lock:
                # Small batches hand SQLite's one write lock over 100 times: at batch 50 one or two
                # workers, polling the lock between their own batches, often fired everything
                # while the others slept in the busy handler (one worker fired all 2,000 once).
                for _ in range(4):
                    procs.append(await start_worker(worker_database, at, batch=20))
                await wait_until_queued(lock, procs, worker_database)
            runs = await asyncio.gather(*(finish(proc) for proc in procs))
        finally:
            await reap(procs)

        failed = [run.explain() for run in runs if run.returncode != 0]
        assert not failed, "\n\n".join(failed)
        fired_by = [run.fired for run in runs]
        assert sum(fired_by) == 2000, fired_by
        # Otherwise this proved nothing about concurrency.
        assert sum(1 for n in fired_by if n > 0) >= 2, fired_by
        await assert_fired_once(worker_sessionmaker, due, claims=1)
        after = await load_checks(worker_sessionmaker)
        not_due = before.keys() - due
        assert {(after[i].state, after[i].claims) for i in not_due} == {(CheckState.scheduled, 0)}


CLAIM_AND_HANG = """
import asyncio, sys, uuid
from datetime import datetime, timedelta

from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.sla import sweep


async def main() -> None:
    engine = make_engine(Settings().database_url)
    async with make_sessionmaker(engine)() as session:
        ids = await sweep.claim(
            session,
            now=datetime.fromisoformat(sys.argv[1]),
            limit=1000,
            lease=timedelta(seconds=60),
            token=str(uuid.uuid4()),
        )
        await session.commit()
        print("claimed", *ids, flush=True)
        await asyncio.Event().wait()  # a worker that hangs (or dies) before it fires


asyncio.run(main())
"""


class TestKilledWorkersClaimIsTakenUpAfterItsLease:
    async def test_killed_workers_checks_fire_once_after_lease_not_before__R_SLA_6(
        self, worker_database: WorkerDatabase, worker_sessionmaker: Sessions
    ) -> None:
        at, due = await three_due_first_checks(worker_sessionmaker)

        proc = await start_script(worker_database, CLAIM_AND_HANG, at.isoformat())
        try:
            claimed = await ids_reported(proc, "claimed")
            proc.kill()
            await proc.communicate()
        finally:
            await reap([proc])
        assert proc.returncode == -signal.SIGKILL
        assert claimed == due

        # Its lease (60 s) still holds: nobody may take the checks over yet.
        assert (await run_worker(worker_database, at + timedelta(seconds=30))).fired == 0
        checks = await load_checks(worker_sessionmaker)
        assert {(checks[i].state, checks[i].claims) for i in due} == {(CheckState.claimed, 1)}
        assert {checks[i].claim_expires_at for i in due} == {at + timedelta(seconds=60)}
        assert await task_check_ids(worker_sessionmaker) == []
        assert await fired_event_check_ids(worker_sessionmaker) == []

        # Once it has run out, the next worker claims them again and fires each once.
        assert (await run_worker(worker_database, at + timedelta(seconds=61))).fired == 3
        await assert_fired_once(worker_sessionmaker, due, claims=2)
        # And nothing fires twice on a later round.
        assert (await run_worker(worker_database, at + timedelta(minutes=10))).fired == 0
        await assert_fired_once(worker_sessionmaker, due, claims=2)


TAKE_AND_HANG = """
import asyncio, sys
from datetime import datetime, timedelta

from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.sla import sweep


async def main() -> None:
    engine = make_engine(Settings().database_url)
    async with make_sessionmaker(engine)() as session:
        await sweep.bound_by_lease(session, timedelta(seconds=float(sys.argv[2])))
        ids = await sweep.take_due(session, now=datetime.fromisoformat(sys.argv[1]), limit=1000)
        print("took", *ids, flush=True)
        await asyncio.Event().wait()  # a worker that hangs (or dies) before it commits


asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def batch_held_by_a_stopped_worker(
    database: WorkerDatabase, sessions: Sessions, lease: timedelta
) -> AsyncIterator[tuple[datetime, set[int], asyncio.subprocess.Process]]:
    """Three due checks, taken in the open transaction of a worker process that then stops
    (hangs) before it commits; while it holds them, another worker skips them."""
    at, due = await three_due_first_checks(sessions)
    proc = await start_script(database, TAKE_AND_HANG, at.isoformat(), str(lease.total_seconds()))
    try:
        assert await ids_reported(proc, "took") == due
        assert (await sweep.run_due(sessions, now=at)).fired == 0
        checks = await load_checks(sessions)
        assert {checks[i].state for i in due} == {CheckState.scheduled}
        yield at, due, proc
    finally:
        await reap([proc])


@on_postgresql("PostgreSQL's one-transaction batches; SQLite claims under a lease (tested above)")
class TestPostgresBatchHeldByADeadOrHungWorker:
    """On PostgreSQL a batch is taken and fired in one transaction (R-SLA-6): the checks a
    worker holds are locked, skipped by every other worker, and fired by the next one once the
    holder's transaction is gone, because it died or because the server ended it at the lease.
    """

    async def test_killed_workers_batch_fires_once_by_the_next_worker__R_SLA_6(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        lease = timedelta(minutes=5)
        async with batch_held_by_a_stopped_worker(worker_database, worker_sessionmaker, lease) as (
            at,
            due,
            proc,
        ):
            proc.kill()
            await proc.communicate()
        assert proc.returncode == -signal.SIGKILL

        # Its transaction died with it: the next worker fires each check once, at once.
        await wait_until_no_open_transaction(worker_engine)
        assert (await run_worker(worker_database, at)).fired == 3
        await assert_fired_once(worker_sessionmaker, due, claims=1)
        assert (await run_worker(worker_database, at + timedelta(minutes=10))).fired == 0
        await assert_fired_once(worker_sessionmaker, due, claims=1)

    async def test_hung_workers_batch_fires_once_after_its_lease__R_SLA_6(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        lease = timedelta(seconds=3)
        async with batch_held_by_a_stopped_worker(worker_database, worker_sessionmaker, lease) as (
            at,
            due,
            proc,
        ):
            # The server ends its transaction once the lease (idle in transaction) runs out;
            # the process itself is still there, hung.
            await wait_until_no_open_transaction(worker_engine)
            assert proc.returncode is None
            assert (await sweep.run_due(worker_sessionmaker, now=at)).fired == 3
        await assert_fired_once(worker_sessionmaker, due, claims=1)


class TestWorkerWhoseLeaseExpiredCannotFire:
    async def test_stale_token_fires_nothing_new_holder_fires_once__R_SLA_6(
        self, worker_sessionmaker: Sessions
    ) -> None:
        await seed_submissions(worker_sessionmaker, 3)
        at = await due_instant(worker_sessionmaker, CheckKind.first)
        lease = timedelta(seconds=10)
        token_a, token_b = str(uuid.uuid4()), str(uuid.uuid4())

        async with worker_sessionmaker() as session:
            ids_a = await sweep.claim(session, now=at, limit=100, lease=lease, token=token_a)
            await session.commit()
        assert len(ids_a) == 3
        async with worker_sessionmaker() as session:
            # A lease that has not run out is respected...
            assert (
                await sweep.claim(
                    session,
                    now=at + lease - timedelta(seconds=1),
                    limit=100,
                    lease=lease,
                    token=str(uuid.uuid4()),
                )
                == []
            )
            # ...one that has is taken over.
            ids_b = await sweep.claim(
                session,
                now=at + lease + timedelta(seconds=1),
                limit=100,
                lease=lease,
                token=token_b,
            )
            await session.commit()
        assert sorted(ids_b) == sorted(ids_a)

        # Worker A wakes up after its lease and tries to fire what it claimed.
        fired_at = at + lease + timedelta(seconds=2)
        async with worker_sessionmaker() as session:
            assert await sweep.fire(session, ids=ids_a, token=token_a, now=fired_at) == 0
            await session.commit()
        checks = await load_checks(worker_sessionmaker)
        assert {(checks[i].state, checks[i].claim_token) for i in ids_a} == {
            (CheckState.claimed, token_b)
        }
        assert await task_check_ids(worker_sessionmaker) == []
        assert await fired_event_check_ids(worker_sessionmaker) == []

        async with worker_sessionmaker() as session:
            assert await sweep.fire(session, ids=ids_b, token=token_b, now=fired_at) == 3
            await session.commit()
        async with worker_sessionmaker() as session:
            assert await sweep.fire(session, ids=ids_b, token=token_b, now=fired_at) == 0
            await session.commit()
        await assert_fired_once(worker_sessionmaker, set(ids_b), claims=2)


async def _feedback(session: AsyncSession, submission_id: int) -> None:
    data = FeedbackCreate.model_validate({"submission_id": submission_id, "decision": "reject"})
    await feedback_service.create(session, SYSTEM, data)


async def _withdraw(session: AsyncSession, submission_id: int) -> None:
    submission = await session.get(Submission, submission_id)
    assert submission is not None
    data = StageMoveCreate.model_validate({"to_stage": "withdrawn"})
    await submissions_service.move(session, SYSTEM, submission, data)


StopClock = Callable[[AsyncSession, int], Awaitable[None]]


class TestCheckCancelledWhileClaimed:
    @pytest.mark.parametrize("stop", [_feedback, _withdraw], ids=["feedback", "stage_move"])
    async def test_clock_stopped_between_claim_and_fire_fires_nothing__R_SLA_5(
        self, worker_sessionmaker: Sessions, stop: StopClock
    ) -> None:
        stopped, running = await seed_submissions(worker_sessionmaker, 2)
        at = await due_instant(worker_sessionmaker, CheckKind.first)
        token = str(uuid.uuid4())
        async with worker_sessionmaker() as session:
            ids = await sweep.claim(
                session, now=at, limit=100, lease=sweep.DEFAULT_LEASE, token=token
            )
            await session.commit()
        assert len(ids) == 2

        async with worker_sessionmaker() as session:
            await stop(session, stopped)
            await session.commit()
        async with worker_sessionmaker() as session:
            assert await sweep.fire(session, ids=ids, token=token, now=at) == 1
            await session.commit()

        checks = await load_checks(worker_sessionmaker)
        fired = {i for i in ids if checks[i].submission_id == running}
        assert {checks[i].state for i in ids if i not in fired} == {CheckState.cancelled}
        assert {c.state for c in checks.values() if c.submission_id == stopped} == {
            CheckState.cancelled
        }
        await assert_fired_once(worker_sessionmaker, fired, claims=1)


@on_postgresql("PostgreSQL's row locks; SQLite cancels a claimed check (tested above)")
class TestClockStoppedWhileItsBatchIsFiring:
    @pytest.mark.parametrize("stop", [_feedback, _withdraw], ids=["feedback", "stage_move"])
    async def test_the_stop_waits_for_the_batch_then_cancels_what_it_opened__R_SLA_5(
        self, worker_engine: AsyncEngine, worker_sessionmaker: Sessions, stop: StopClock
    ) -> None:
        """A batch being fired holds its checks' row locks until it commits: a clock stopped
        meanwhile waits, then finds its check fired and cancels the chase task that firing
        opened, and the rest of its checks; the other submission's check stays fired with its
        task open (decision record 0007)."""
        stopped, running = await seed_submissions(worker_sessionmaker, 2)
        at = await due_instant(worker_sessionmaker, CheckKind.first)
        async with worker_sessionmaker() as firing, worker_sessionmaker() as stopping:
            done = await sweep.fire_due(firing, now=at, limit=100, lease=sweep.DEFAULT_LEASE)
            assert (done.claimed, done.fired) == (2, 2)

            async def stop_and_commit() -> None:
                await stop(stopping, stopped)
                await stopping.commit()

            stopper = asyncio.create_task(stop_and_commit())
            await wait_until_waiting(worker_engine, 1)
            assert not stopper.done()
            await firing.commit()
            await asyncio.wait_for(stopper, timeout=TIMEOUT)

        checks = await load_checks(worker_sessionmaker)
        fired = {i for i, c in checks.items() if c.state == CheckState.fired}
        assert {checks[i].submission_id for i in fired} == {stopped, running}
        rest = {(c.submission_id, c.state) for c in checks.values() if c.id not in fired}
        assert rest == {(stopped, CheckState.cancelled), (running, CheckState.scheduled)}
        async with worker_sessionmaker() as session:
            tasks = (await session.execute(select(col(Task.submission_id), col(Task.state)))).all()
        assert sorted(tasks) == sorted([(stopped, "cancelled"), (running, "open")])
