"""The worker: claims due work, runs it, never loses it.

Each round runs every job (today: firing due SLA checks; the outbox joins in the messaging issue)
until nothing is due, then sleeps a poll interval with jitter. An idle round costs one index probe
per job. SIGTERM/SIGINT finish the current batch and exit cleanly; a worker killed outright loses
nothing either — its claims expire and another worker takes them up (app/sla/sweep.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import utcnow
from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.sla import sweep

log = logging.getLogger("candor.worker")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    batch: int = sweep.DEFAULT_BATCH
    lease: timedelta = sweep.DEFAULT_LEASE
    poll_interval: float = 2.0


async def run_round(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, options: WorkerOptions
) -> int:
    """Everything due at ``now``; returns how much work was done (0 means idle)."""
    result = await sweep.run_due(sessionmaker, now=now, batch=options.batch, lease=options.lease)
    if result.fired:
        log.info("fired %d checks (claimed %d)", result.fired, result.claimed)
    return result.fired


async def run(
    settings: Settings, *, once: bool, now: datetime | None, options: WorkerOptions
) -> int:
    """Run until stopped (or, with ``once``, until nothing is due at ``now``)."""
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    total = 0
    try:
        while not stopping.is_set():
            done = await run_round(sessionmaker, now=now or utcnow(), options=options)
            total += done
            if once:
                break
            if done == 0:
                # Jitter keeps several idle workers from polling in lockstep.
                delay = options.poll_interval * (0.5 + random.random())  # noqa: S311
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=delay)
    finally:
        await engine.dispose()
    return total
