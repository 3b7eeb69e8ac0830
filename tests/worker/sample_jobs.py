"""Job kinds registered by the tests only, the way a domain registers its own: with
``@job``/``@sweeper`` on the process's registry, and no change to ``app/worker/loop.py``.

Each run leaves an ``Event`` row (``tests.job_ran``, record id = the job's ``n``), written in the
job's own transaction, so "ran exactly once" is "exactly one such row".
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.events.models import Event
from app.worker.queue import RetryAfter, RetryPolicy
from app.worker.registry import SweepContext, job, sweeper

RECORD = "tests.record"
FOLLOW_UP = "tests.follow_up"
POISON = "tests.poison"
THROTTLED = "tests.throttled"
SWEEP = "tests.sweep"
RAN = "tests.job_ran"
#: Set in a worker process's environment: its ``tests.record`` handler writes its row, says
#: ``holding <n>`` on stdout, then never returns (a worker that hangs or is killed mid-job).
HANG = "CANDOR_TEST_JOB_HANG"
POISON_POLICY = RetryPolicy(
    max_attempts=3, base=timedelta(minutes=1), max_delay=timedelta(minutes=4), jitter=0.5
)
THROTTLE = timedelta(seconds=137)


def ran(session: AsyncSession, n: int, *, now: datetime, kind: str) -> None:
    session.add(
        Event(
            occurred_at=now,
            actor_type="system",
            action=RAN,
            record_type="worker_job_test",
            record_id=n,
            data={"kind": kind},
        )
    )


@job(RECORD)
async def record(session: AsyncSession, *, now: datetime, n: int) -> None:
    ran(session, n, now=now, kind=RECORD)
    if os.environ.get(HANG):
        await session.flush()
        sys.stdout.write(f"holding {n}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


@job(FOLLOW_UP)
async def follow_up(session: AsyncSession, *, now: datetime, event_id: int) -> None:
    """Reloads its row by id and does nothing when it is gone (style rule 7)."""
    source = await session.get(Event, event_id)
    if source is None:
        return
    ran(session, source.record_id, now=now, kind=FOLLOW_UP)


@job(POISON, retry=POISON_POLICY)
async def poison(session: AsyncSession, *, now: datetime, n: int) -> None:
    ran(session, n, now=now, kind=POISON)  # rolled back with the failure: never seen
    raise ValueError(f"poisoned item {n}")


@job(THROTTLED)
async def throttled(session: AsyncSession, *, now: datetime, n: int) -> None:
    raise RetryAfter(THROTTLE, "the far side said 429")


@sweeper(SWEEP)
async def count_runs(ctx: SweepContext) -> int:
    """Set-based work: reports how many job rows exist, writes nothing."""
    async with ctx.sessionmaker() as session:
        return int(
            await session.scalar(select(func.count(col(Event.id))).where(col(Event.action) == RAN))
            or 0
        )


async def runs(sessions: async_sessionmaker[AsyncSession], kind: str = RECORD) -> list[int]:
    """The ``n`` of every run of ``kind`` there is, repeats included."""
    async with sessions() as session:
        rows = await session.scalars(
            select(col(Event.record_id)).where(
                col(Event.action) == RAN, col(Event.data)["kind"].as_string() == kind
            )
        )
        return list(rows.all())
