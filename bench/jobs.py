"""Benchmark: generic jobs per second (``app.worker.runner.run_jobs``) against a plain loop.

Run: ``python bench/jobs.py`` (from the repository root). Not a test: it prints figures.

It drops and recreates the ``candor_bench_jobs`` database (loopback PostgreSQL only) and builds
the schema with Alembic. Then, ``--repeats`` times (5 by default), interleaved, for each of two
kinds of job, N (2000) jobs each:

- **no-op**: the handler does nothing (what the queue itself costs per job);
- **write**: the handler inserts one row (``bench_side``) in the job's transaction.

1. **ours**: N jobs enqueued through ``app.worker.queue.enqueue`` (committed, not timed), then
   one ``run_jobs`` round of one worker: claims of ``--batch`` jobs under a lease, then per job
   one transaction that fences on the claim, runs the handler and commits (timed);
2. **plain**: N rows in a bare table (``bench_plain_job``), drained by the textbook loop over
   the same engine: per job one transaction of ``SELECT … ORDER BY id LIMIT 1 FOR UPDATE SKIP
   LOCKED``, the same handler's statement, ``UPDATE … SET state = 'done'``, ``COMMIT`` (timed).

It prints the median rate of each and the ratio ours/plain per kind (median of the per-run
ratios, each run's two loops measured back to back), with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outbox_drain import machine, recreate  # the same database reset and machine line

import app.models  # noqa: F401 - registers every table, as the worker does
from app.cli import run_migrations
from app.core.database import make_engine, make_sessionmaker
from app.worker import queue
from app.worker.registry import JobOutcome, Registry
from app.worker.runner import run_jobs

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/candor_bench_jobs"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
KINDS = ("noop", "write")
WRITE = text("INSERT INTO bench_side (n) VALUES (:n)")
REGISTRY = Registry()


@REGISTRY.job("bench.noop")
async def noop(session: AsyncSession, *, now: datetime, n: int) -> None:
    return None


@REGISTRY.job("bench.write")
async def write(session: AsyncSession, *, now: datetime, n: int) -> None:
    await session.execute(WRITE, {"n": n})


async def create_plain_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE bench_side (id bigserial PRIMARY KEY, n int)")
        await conn.exec_driver_sql(
            "CREATE TABLE bench_plain_job (id bigserial PRIMARY KEY, kind text NOT NULL,"
            " ids jsonb NOT NULL, state text NOT NULL DEFAULT 'todo')"
        )
        await conn.exec_driver_sql(
            "CREATE INDEX ix_bench_plain_job_todo ON bench_plain_job (id) WHERE state = 'todo'"
        )


async def clear(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE worker_job, bench_side, bench_plain_job")
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE worker_job"))
        await conn.execute(text("ANALYZE bench_plain_job"))
        await conn.commit()


async def ours(engine: AsyncEngine, kind: str, count: int, batch: int) -> float:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        for n in range(count):
            await queue.enqueue(session, f"bench.{kind}", run_at=NOW, n=n)
        await session.commit()
    started = time.perf_counter()
    done = await run_jobs(
        sessions,
        now=NOW,
        lease=timedelta(minutes=5),
        batch=batch,
        only={f"bench.{kind}"},
        registry=REGISTRY,
    )
    elapsed = time.perf_counter() - started
    assert done.count(JobOutcome.done) == count, done
    return count / elapsed


async def plain(engine: AsyncEngine, kind: str, count: int) -> float:
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO bench_plain_job (kind, ids) VALUES (:kind, CAST(:ids AS jsonb))"),
            [{"kind": kind, "ids": f'{{"n": {n}}}'} for n in range(count)],
        )
    claim = text(
        "SELECT id, ids FROM bench_plain_job WHERE state = 'todo'"
        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    finish = text("UPDATE bench_plain_job SET state = 'done' WHERE id = :id")
    done = 0
    started = time.perf_counter()
    async with engine.connect() as conn:
        while True:
            async with conn.begin():
                row = (await conn.execute(claim)).first()
                if row is None:
                    break
                if kind == "write":
                    await conn.execute(WRITE, {"n": row.ids["n"]})
                await conn.execute(finish, {"id": row.id})
                done += 1
    elapsed = time.perf_counter() - started
    assert done == count, done
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=queue.DEFAULT_BATCH)
    args = parser.parse_args()
    url: str = args.database_url
    print(f"machine: {machine()}")
    await recreate(url)
    await asyncio.to_thread(run_migrations, url)
    engine = make_engine(url)
    rates: dict[tuple[str, str], list[float]] = defaultdict(list)
    try:
        await create_plain_tables(engine)
        for _ in range(args.repeats):
            for kind in KINDS:
                await clear(engine)
                rates[("ours", kind)].append(await ours(engine, kind, args.count, args.batch))
                await clear(engine)
                rates[("plain", kind)].append(await plain(engine, kind, args.count))
    finally:
        await engine.dispose()
    print(f"after the runs: {machine()}")
    print(f"{args.count} jobs per run, {args.repeats} interleaved runs, claim batch {args.batch}")
    for kind in KINDS:
        for loop in ("ours", "plain"):
            runs = rates[(loop, kind)]
            print(
                f"{kind:<6} {loop:<6} median {statistics.median(runs):7.0f} jobs/s"
                f"  (runs: {', '.join(f'{r:.0f}' for r in runs)})"
            )
        ratios = [o / p for o, p in zip(rates[("ours", kind)], rates[("plain", kind)], strict=True)]
        print(f"{kind:<6} ratio ours/plain: median of runs {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
