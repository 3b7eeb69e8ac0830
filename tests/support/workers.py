"""Real ``candor worker`` processes on a committed database, for the worker tests: seeding
through the services, starting, finishing and reaping workers, and polling real conditions
(a lock waited on, no open transaction) instead of sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from app.events.models import Event
from app.sla.models import CheckKind, CheckState, SlaCheck
from app.tasks.models import Task
from tests.support.factories import (
    make_candidate,
    make_client,
    make_contact,
    make_job,
    make_submission,
    make_user,
)
from tests.support.logcapture import process_log


@dataclass(frozen=True, slots=True)
class WorkerDatabase:
    """A committed, migrated database of one test; ``sqlite_path`` is its file on SQLite."""

    url: str
    sqlite_path: Path | None


def on_postgresql(reason: str) -> pytest.MarkDecorator:
    """For tests of what only PostgreSQL does (row locks, server-side timeouts, deadlocks); the
    run on SQLite says why each is not for it."""
    return pytest.mark.skipif(postgres_server_url() is None, reason=reason)


def postgres_server_url() -> str | None:
    return os.environ.get("CANDOR_TEST_DATABASE_URL") or None


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
async def claims_held(
    engine: AsyncEngine, *, table: str = "sla_check"
) -> AsyncIterator[AsyncConnection]:
    """Hold the lock every claim on ``table`` needs, so workers started meanwhile queue at their
    first claim and all race from the moment it is released, however long each took to start."""
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Any write takes SQLite's single write lock, even one that matches no row.
            await conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")  # noqa: S608
        else:
            await conn.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        try:
            yield conn
        finally:
            await conn.rollback()


#: Sessions of this database waiting for a lock on the table (every claim takes one).
PG_WAITING_ON_TABLE = text(
    "SELECT count(DISTINCT pid) FROM pg_locks"
    " WHERE locktype = 'relation' AND NOT granted"
    " AND relation = CAST(:table AS regclass)"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def have_file_open(pids: Sequence[int], path: Path) -> bool:
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
    conn: AsyncConnection,
    procs: Sequence[asyncio.subprocess.Process],
    database: WorkerDatabase,
    table: str,
) -> bool:
    if database.sqlite_path is not None:
        return have_file_open([p.pid for p in procs], database.sqlite_path)
    waiting = await conn.scalar(PG_WAITING_ON_TABLE, {"table": table})
    return int(waiting or 0) >= len(procs)


async def wait_until_queued(
    conn: AsyncConnection,
    procs: Sequence[asyncio.subprocess.Process],
    database: WorkerDatabase,
    *,
    table: str = "sla_check",
) -> None:
    """Poll a real condition (every worker waits on the lock on ``table``) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await _all_queued(conn, procs, database, table):
        exited = [p.pid for p in procs if p.returncode is not None]
        assert not exited, f"workers {exited} exited before the start line opened"
        assert loop.time() < deadline, "the workers never reached their first claim"
        await asyncio.sleep(0.05)


#: Sessions of this database still inside a transaction (a worker holding its batch).
PG_OPEN_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND xact_start IS NOT NULL"
)


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
