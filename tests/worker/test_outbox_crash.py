"""R-CAND across real processes: the outbox never loses a status email, however often the
worker dies while delivering.

200 status messages fall due for 200 different candidates (so no digest bundles two of them);
real ``candor worker --once`` processes deliver them through the real ``sendgrid`` library to a
SendGrid stand-in served over loopback, and the test SIGKILLs the running worker 20 times at
random points: after the stand-in has accepted a random number of emails, or while a send hangs
at the provider. A killed worker's claims expire after its lease (``--lease-seconds 5``); every
next worker runs at a ``--now`` past that lease, so it takes them up at once (the ``--now``
instant is what a lease is checked against: no real waiting). A last worker runs to the end.

Every message must then have been accepted by the provider at least once (found by the
``candor_message_id`` custom arg) and be recorded ``sent``.

Why duplicates happen, and why they are allowed: a worker sends an email, then records the send
in the transaction of its chunk (``drain.CHUNK`` recipients), which commits once the chunk's
sends are answered. Killed after the provider accepted an email but before that commit, it
leaves the message claimed but not sent; the next worker sends it again. That is at-least-once
delivery: the alternative, recording before sending, would lose the email whenever the crash
falls between the record and the send. Each duplicate carries the same message id, so it can be
found and counted. The test prints that count.

The bound: a worker has at most ``drain.PIPELINE`` chunks in flight on PostgreSQL (one on
SQLite), so one kill repeats at most ``drain.MAX_REPEATED_PER_CRASH`` emails, and 20 kills at
most 20 times that; the test holds the run to it. (Each round waits for 1-8 more accepted
emails, counting re-sends, so most kills land inside the first chunks of the run, which each
next worker sends again: that is where the repeats of one message id come from.)
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.messaging.backends import CUSTOM_ARG
from app.messaging.delivery.drain import MAX_REPEATED_PER_CRASH
from app.messaging.models import Message, MessageState
from tests.support.factories import make_due_status_messages
from tests.support.workers import TIMEOUT, WorkerDatabase, WorkerRun, finish, reap
from tools.sendgrid_standin import AcceptedMail, SendGridStandIn

ROOT = Path(__file__).resolve().parents[2]
CANDOR = Path(sys.executable).with_name("candor")
API_KEY = "SG.outbox-crash-test-key"
MESSAGES = 200
KILLS = 20
LEASE = timedelta(seconds=5)
#: Each next worker runs this much later than the last, past the dead worker's lease.
STEP = LEASE + timedelta(seconds=1)
#: A Tuesday, 16:00 UTC: the delivery slot of a candidate living in UTC (R-CAND-4).
T = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)
#: The messages fell due that morning, so the gate lets every one go in the 16:00 slot.
DUE_AT = T - timedelta(hours=4)
#: Submitted that morning: backdated history (more than 3 days before the real clock) emails
#: nobody, and the first SLA check (5 business days on) is far beyond every worker's ``--now``,
#: so the sweep each worker runs first writes no message that would supersede ours.
SUBMITTED_AT = T - timedelta(hours=6)
#: How long a hanging send sits at the provider before it is accepted anyway.
HANG_SECONDS = 0.3
#: A fixed seed keeps a failure reproducible; CANDOR_CRASH_SEED explores other kill points.
SEED = int(os.environ.get("CANDOR_CRASH_SEED", "20250304"))

Sessions = async_sessionmaker[AsyncSession]


async def seed_messages(sessions: Sessions) -> set[int]:
    """200 candidates in UTC, each submitted once (through the services, as the system), and a
    pending no-news message per submission, due the morning of ``T``. Committed."""
    async with sessions() as session:
        await make_due_status_messages(
            session,
            candidates=MESSAGES,
            jobs=10,
            submitted_at=SUBMITTED_AT,
            due_at=DUE_AT,
            reason="no news for a while",
        )
        await session.commit()
    async with sessions() as session:
        pending = await session.scalars(
            select(col(Message.id)).where(col(Message.state) == MessageState.pending.value)
        )
        ids = {i for i in pending.all() if i is not None}
    # Only ours: the backdated submissions wrote no status message of their own.
    assert len(ids) == MESSAGES
    return ids


def _env(database: WorkerDatabase, standin: SendGridStandIn) -> dict[str, str]:
    return {
        **os.environ,
        "CANDOR_DATABASE_URL": database.url,
        "CANDOR_EMAIL_BACKEND": "sendgrid",
        "CANDOR_SENDGRID_API_KEY": API_KEY,
        "CANDOR_SENDGRID_BASE_URL": standin.base_url,
    }


async def start_worker(
    database: WorkerDatabase, standin: SendGridStandIn, now: datetime
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(CANDOR),
        "worker",
        "--once",
        "--now",
        now.isoformat(),
        "--lease-seconds",
        str(int(LEASE.total_seconds())),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(database, standin),
        cwd=ROOT,
    )


async def until(proc: asyncio.subprocess.Process, reached: Condition, what: str) -> None:
    """Wait for a condition of the stand-in while the worker runs; a worker that exits (or
    never gets there) first fails the test with what it said."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await asyncio.to_thread(reached, 0.25):
        if proc.returncode is not None or loop.time() > deadline:
            run = await finish(proc)
            raise AssertionError(f"the worker never got to {what}\n{run.explain()}")


class Condition:
    """A blocking wait on the stand-in, with a short timeout so the caller can look around."""

    def __init__(self, standin: SendGridStandIn, *, accepted: int = 0, requests: int = 0) -> None:
        self.standin, self.accepted, self.requests = standin, accepted, requests

    def __call__(self, timeout: float) -> bool:
        try:
            if self.accepted:
                self.standin.wait_for(self.accepted, timeout=timeout)
            if self.requests:
                self.standin.wait_for_requests(self.requests, timeout=timeout)
        except TimeoutError:
            return False
        return True


#: Other sessions of this database still holding a lock on ``message``: a killed worker's
#: open transaction, until PostgreSQL has noticed its client is gone.
PG_LOCKS_ON_MESSAGE = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
    " WHERE c.relname = 'message' AND l.pid <> pg_backend_pid()"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def kill(proc: asyncio.subprocess.Process, sessions: Sessions) -> WorkerRun:
    """SIGKILL the worker, and return once its transaction is gone. On PostgreSQL the server
    rolls a dead client's transaction back when it notices the closed socket; until then its row
    locks stand, and the next worker's ``SKIP LOCKED`` claim would quietly pass those rows by (a
    later round would take them; this test wants the next worker to). SQLite's lock dies with
    the process."""
    proc.kill()
    run = await finish(proc)
    # Killed mid-delivery, not finished before the signal landed: otherwise this proved nothing.
    assert run.returncode == -signal.SIGKILL, run.explain()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    async with sessions() as session:
        if session.bind.dialect.name == "postgresql":
            while await session.scalar(PG_LOCKS_ON_MESSAGE):
                assert loop.time() < deadline, "the killed worker's transaction never ended"
                await session.rollback()  # a fresh snapshot of pg_locks each time
                await asyncio.sleep(0.02)
    return run


def message_ids(accepted: list[AcceptedMail]) -> Counter[int]:
    return Counter(int(mail.custom_args[CUSTOM_ARG]) for mail in accepted)


class TestOutboxSurvivesKilledWorkers:
    async def test_200_messages_20_kills_each_delivered_at_least_once__R_CAND(
        self, worker_database: WorkerDatabase, worker_sessionmaker: Sessions
    ) -> None:
        ids = await seed_messages(worker_sessionmaker)
        rng = random.Random(SEED)
        procs: list[asyncio.subprocess.Process] = []
        async with SendGridStandIn(API_KEY) as standin:
            try:
                now = T
                for round_ in range(KILLS):
                    if round_ % 4 == 3:
                        # Killed while its first send hangs at the provider, which then accepts
                        # the email all the same: the textbook duplicate.
                        standin.hang_next(1, seconds=HANG_SECONDS)
                        reached = Condition(standin, requests=standin.requests + 1)
                        what = "a hanging send"
                    else:
                        # Small steps: 20 kills must all land before the 200 are delivered
                        # (each kill repeats at most the chunks in flight).
                        more = rng.randint(1, 8)
                        reached = Condition(standin, accepted=len(standin.accepted) + more)
                        what = f"{more} more accepted emails"
                    proc = await start_worker(worker_database, standin, now)
                    procs.append(proc)
                    await until(proc, reached, what)
                    await kill(proc, worker_sessionmaker)
                    now += STEP
                proc = await start_worker(worker_database, standin, now)
                procs.append(proc)
                last = await finish(proc)
                assert last.returncode == 0, last.explain()
                accepted = standin.accepted
            finally:
                await reap(procs)

        sent = message_ids(accepted)
        assert set(sent) == ids, f"never accepted: {sorted(ids - set(sent))}"
        async with worker_sessionmaker() as session:
            states = dict(
                (await session.execute(select(col(Message.id), col(Message.state)))).tuples().all()
            )
        assert {states[i] for i in ids} == {MessageState.sent}
        duplicates = {i: n for i, n in sent.items() if n > 1}
        sys.stderr.write(
            f"\n[outbox crash] seed {SEED}: {len(accepted)} emails accepted for {len(ids)}"
            f" messages; {len(duplicates)} message ids accepted more than once"
            f" ({len(accepted) - len(ids)} extra sends, at most {max(sent.values())} of one)\n"
        )
        assert len(accepted) - len(ids) <= KILLS * MAX_REPEATED_PER_CRASH


class TestKilledWorkerResendsOnlyWhatWasInFlight:
    async def test_emails_accepted_before_the_kill_are_not_sent_again__R_CAND(
        self, worker_database: WorkerDatabase, worker_sessionmaker: Sessions
    ) -> None:
        """The outbox promises (app/messaging/delivery/drain.py) that a crash repeats at most the
        chunks of emails it had in flight (``MAX_REPEATED_PER_CRASH``: ``PIPELINE`` chunks of
        ``CHUNK`` recipients), not everything its worker sent. A worker killed after 50
        accepted emails leaves the next worker about 150 to send, plus at most those chunks
        again, not all 200."""
        ids = await seed_messages(worker_sessionmaker)
        procs: list[asyncio.subprocess.Process] = []
        async with SendGridStandIn(API_KEY) as standin:
            try:
                proc = await start_worker(worker_database, standin, T)
                procs.append(proc)
                await until(proc, Condition(standin, accepted=50), "50 accepted emails")
                await kill(proc, worker_sessionmaker)
                before = len(standin.accepted)
                proc = await start_worker(worker_database, standin, T + STEP)
                procs.append(proc)
                last = await finish(proc)
                assert last.returncode == 0, last.explain()
                accepted = standin.accepted
            finally:
                await reap(procs)
        sent = message_ids(accepted)
        assert set(sent) == ids
        resent = sorted(i for i, n in sent.items() if n > 1)
        sys.stderr.write(
            f"\n[outbox crash] killed after {before} accepted: the next worker sent"
            f" {len(accepted) - before}, {len(resent)} of them again\n"
        )
        assert len(resent) <= MAX_REPEATED_PER_CRASH, f"sent again: {len(resent)} messages {resent}"
