"""R-SLA-6 across real processes: a check fires exactly once, however many workers run, whether
a worker dies holding a claim, hangs past its lease, or the clock stops while it holds one.

The workers are the real ``candor worker`` command, in OS processes of their own, on a committed
database (see conftest.py); the test only seeds through the services and reads the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from app.auth.principal import SYSTEM
from app.events.models import Event
from app.feedback import service as feedback_service
from app.feedback.models import FeedbackCreate
from app.sla import sweep
from app.sla.models import CheckKind, CheckState, SlaCheck
from app.submissions import service as submissions_service
from app.submissions.models import StageMoveCreate, Submission
from app.tasks.models import Task
from tests.factories import (
    make_candidate,
    make_client,
    make_contact,
    make_job,
    make_submission,
    make_user,
)
from tests.logcapture import process_log
from tests.worker.conftest import WorkerDatabase, on_postgresql

ROOT = Path(__file__).resolve().parents[2]
#: The console script installed next to the interpreter running the tests (the project's venv).
CANDOR = Path(sys.executable).with_name("candor")
#: A Monday. No calendar is configured, so clocks run on the fallback: Mon-Fri 09-17 UTC.
SUBMITTED_AT = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)
#: Generous: a limit for a hung process, never a wait the test relies on.
TIMEOUT = 120.0
FIRED_LINE = re.compile(r"fired (\d+) checks")

Sessions = async_sessionmaker[AsyncSession]


# --- seeding and reading back -----------------------------------------------------------------


async def seed_submissions(sessions: Sessions, count: int) -> list[int]:
    """``count`` submissions made by the services as the system, all submitted (backdated) at
    the same instant: each starts a clock, whose checks ``app.sla.service`` places on the same
    due instants. Committed, so worker processes see them."""
    ids: list[int] = []
    async with sessions() as session:
        owner = await make_user(session)
        client = await make_client(session)
        contact = await make_contact(session, client_id=client.id)
        jobs = [
            await make_job(
                session, client_id=client.id, owner_id=owner.id, primary_contact_id=contact.id
            )
            for _ in range(10)
        ]
        for n in range(count):
            candidate = await make_candidate(session, owner_id=owner.id)
            submission = await make_submission(
                session,
                candidate_id=candidate.id,
                job_id=jobs[n % len(jobs)].id,
                submitted_at=SUBMITTED_AT,
            )
            assert submission.id is not None
            ids.append(submission.id)
        await session.commit()
    return ids


async def due_instant(sessions: Sessions, kind: CheckKind) -> datetime:
    """The one instant at which every seeded check of ``kind`` is due."""
    async with sessions() as session:
        instants = set(
            (
                await session.scalars(
                    select(col(SlaCheck.due_at)).where(col(SlaCheck.kind) == kind.value)
                )
            ).all()
        )
    assert len(instants) == 1, instants
    return instants.pop()


async def load_checks(sessions: Sessions) -> dict[int, SlaCheck]:
    async with sessions() as session:
        rows = (await session.scalars(select(SlaCheck))).all()
    return {check.id: check for check in rows if check.id is not None}


async def three_due_first_checks(sessions: Sessions) -> tuple[datetime, set[int]]:
    """Three seeded submissions; the instant their first checks are due, and those checks."""
    await seed_submissions(sessions, 3)
    at = await due_instant(sessions, CheckKind.first)
    due = {i for i, c in (await load_checks(sessions)).items() if c.due_at <= at}
    assert len(due) == 3
    return at, due


async def task_check_ids(sessions: Sessions) -> list[int | None]:
    """The ``check_id`` of every task there is (so a task from nowhere would show too)."""
    async with sessions() as session:
        return list((await session.scalars(select(col(Task.check_id)))).all())


async def fired_event_check_ids(sessions: Sessions) -> list[int]:
    async with sessions() as session:
        data = (
            await session.scalars(
                select(col(Event.data)).where(col(Event.action) == "sla.check_fired")
            )
        ).all()
    return [int(d["check_id"]) for d in data]


async def assert_fired_once(sessions: Sessions, check_ids: set[int], *, claims: int) -> None:
    """Each of ``check_ids`` fired, was claimed ``claims`` times, and left exactly one task and
    one ``sla.check_fired`` event; nothing else left a task or an event."""
    checks = await load_checks(sessions)
    assert {i for i, c in checks.items() if c.state == CheckState.fired} == check_ids
    assert {checks[i].claims for i in check_ids} == {claims}
    assert Counter(await task_check_ids(sessions)) == Counter(check_ids)
    assert Counter(await fired_event_check_ids(sessions)) == Counter(check_ids)


# --- worker processes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerRun:
    returncode: int | None
    stdout: str
    stderr: str

    def explain(self) -> str:
        """What a failed run said: its exit status, output and the end of its traceback."""
        tail = "\n".join(self.stderr.splitlines()[-25:])
        return f"exit {self.returncode}\nstdout:\n{self.stdout}\nstderr (end):\n{tail}"

    @property
    def fired(self) -> int:
        """The count the command printed ("fired N checks"), exactly once."""
        counts = [
            int(match[1])
            for line in self.stdout.splitlines()
            if (match := FIRED_LINE.fullmatch(line.strip()))
        ]
        assert len(counts) == 1, self.explain()
        return counts[0]


def _env(database: WorkerDatabase) -> dict[str, str]:
    return {**os.environ, "CANDOR_DATABASE_URL": database.url}


async def start_worker(
    database: WorkerDatabase, now: datetime, *, batch: int | None = None
) -> asyncio.subprocess.Process:
    """``candor worker --once --now <now>``, as an operator would run it."""
    args = [str(CANDOR), "worker", "--once", "--now", now.isoformat()]
    if batch is not None:
        args += ["--batch", str(batch)]
    return await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(database),
        cwd=ROOT,
    )


async def start_script(
    database: WorkerDatabase, script: str, *args: str
) -> asyncio.subprocess.Process:
    """A Python script of the test's own, in a process of its own, on the test's database."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(database),
        cwd=ROOT,
    )


async def ids_reported(proc: asyncio.subprocess.Process, word: str) -> set[int]:
    """The check ids of the first line the script prints (``<word> id id …``)."""
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout=TIMEOUT)).decode()
    assert line.startswith(word), (line, await finish(proc))
    return {int(part) for part in line.split()[1:]}


async def finish(proc: asyncio.subprocess.Process) -> WorkerRun:
    """Wait for the process to exit; one that hangs is killed and reported, never left behind."""
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        err += f"\n[test] killed after {TIMEOUT} s".encode()
    # Its log stream (stderr) is read by the suite's log test (R-PV); stdout carries what the
    # command prints for its operator, the console backend's emails among them.
    process_log("worker").write_bytes(err)
    return WorkerRun(proc.returncode, out.decode(), err.decode())


async def run_worker(database: WorkerDatabase, now: datetime) -> WorkerRun:
    run = await finish(await start_worker(database, now))
    assert run.returncode == 0, run.explain()
    return run


async def reap(procs: Sequence[asyncio.subprocess.Process]) -> None:
    """Kill whatever is still running (a test that failed half-way leaves no process behind)."""
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


# --- a start line for racing workers ------------------------------------------------------------


@contextlib.asynccontextmanager
async def claims_held(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Hold the lock every claim needs, so workers started meanwhile queue at their first claim
    and all race from the moment it is released, however long each took to start."""
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Any write takes SQLite's single write lock, even one that matches no row.
            await conn.exec_driver_sql("UPDATE sla_check SET claims = claims WHERE 0")
        else:
            await conn.exec_driver_sql("LOCK TABLE sla_check IN EXCLUSIVE MODE")
        try:
            yield conn
        finally:
            await conn.rollback()


#: Sessions of this database waiting for a lock on ``sla_check`` (every claim takes one).
PG_WAITING_ON_SLA_CHECK = text(
    "SELECT count(DISTINCT pid) FROM pg_locks"
    " WHERE locktype = 'relation' AND NOT granted"
    " AND relation = 'sla_check'::regclass"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _have_file_open(pids: Sequence[int], path: Path) -> bool:
    """Whether every process has ``path`` open. A worker opens its SQLite file when it connects
    for its first claim, where it then waits on the held write lock (busy timeout: 10 s)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return True  # no procfs (not Linux): the workers only get the start they happen to get
    target = path.resolve()
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            if any(Path(os.readlink(fd)) == target for fd in (proc / str(pid) / "fd").iterdir()):
                continue
        return False
    return True


async def _all_queued(
    conn: AsyncConnection, procs: Sequence[asyncio.subprocess.Process], database: WorkerDatabase
) -> bool:
    if database.sqlite_path is not None:
        return _have_file_open([p.pid for p in procs], database.sqlite_path)
    waiting = await conn.scalar(PG_WAITING_ON_SLA_CHECK)
    return int(waiting or 0) >= len(procs)


async def wait_until_queued(
    conn: AsyncConnection, procs: Sequence[asyncio.subprocess.Process], database: WorkerDatabase
) -> None:
    """Poll a real condition (every worker waits on the lock) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await _all_queued(conn, procs, database):
        exited = [p.pid for p in procs if p.returncode is not None]
        assert not exited, f"workers {exited} exited before the start line opened"
        assert loop.time() < deadline, "the workers never reached their first claim"
        await asyncio.sleep(0.05)


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
                for _ in range(4):
                    procs.append(await start_worker(worker_database, at, batch=50))
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

#: Sessions of this database still inside a transaction (a worker holding its batch).
PG_OPEN_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND xact_start IS NOT NULL"
)


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


async def wait_until_no_open_transaction(engine: AsyncEngine) -> None:
    """Poll a real condition (the server holds no other transaction) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    async with engine.connect() as conn:
        while await conn.scalar(PG_OPEN_TRANSACTIONS):
            await conn.rollback()
            assert loop.time() < deadline, "the held batch was never released"
            await asyncio.sleep(0.05)


#: Sessions of this database waiting on another transaction (a row lock).
WAITING_ON_A_TRANSACTION = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE NOT l.granted AND l.locktype = 'transactionid'"
    " AND a.datname = current_database()"
)


async def wait_until_waiting(engine: AsyncEngine, count: int) -> None:
    """Poll a real condition (``count`` sessions wait on a row lock) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    async with engine.connect() as conn:
        while (await conn.scalar(WAITING_ON_A_TRANSACTION) or 0) < count:
            await conn.rollback()
            assert loop.time() < deadline, "nobody ever waited on the held rows"
            await asyncio.sleep(0.02)


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
