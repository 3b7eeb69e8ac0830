"""A worker process for the generic-queue tests: ``python -m tests.worker.jobs_worker NOW
LEASE_SECONDS BATCH`` on ``CANDOR_DATABASE_URL``.

It registers the test kinds (``tests.worker.sample_jobs``) and calls the same
``app.worker.runner.run_jobs`` that ``candor worker`` calls each round, limited to them
(``--only``), then prints what it did.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta

from app.core.database import make_engine, make_sessionmaker
from app.worker.runner import run_jobs
from tests.worker import sample_jobs


async def main(now: datetime, lease: timedelta, batch: int) -> None:
    engine = make_engine(os.environ["CANDOR_DATABASE_URL"])
    try:
        done = await run_jobs(
            make_sessionmaker(engine),
            now=now,
            lease=lease,
            batch=batch,
            only={sample_jobs.RECORD},
        )
    finally:
        await engine.dispose()
    print(" ".join(f"{k.value}={v}" for k, v in sorted(done.outcomes.items())))


if __name__ == "__main__":
    at, lease_seconds, batch = sys.argv[1:4]
    asyncio.run(main(datetime.fromisoformat(at), timedelta(seconds=int(lease_seconds)), int(batch)))
