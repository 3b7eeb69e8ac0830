"""The worker: claims due work, runs it, never loses it.

Each round runs what the domains registered (``app/<domain>/background.py``, decision 0050):
due jobs, then the sweepers in their order — fire due SLA checks (``sla.fire_due``), then
deliver what the outboxes may send (``messaging.deliver``, ``messaging.deliver_contacts``) —
until nothing is due, then sleeps a poll interval with jitter. An idle round costs one index
probe per kind. SIGTERM/SIGINT finish the current batch and exit cleanly; a worker killed
outright loses nothing either — its claims expire and another worker takes them up.

A worker that loses the database (R-AV) rolls back the unit of work it was in — a batch of
checks fires in one transaction, an email's outcome is written under its claim — and tries the
round again after an exponential backoff with jitter (0.5 s doubling to 30 s), so an outage
costs a delay, never a check or an email, and a restart of the server is ridden out without a
supervisor restarting the worker.
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
from app.core.errors import is_unavailable
from app.core.logs import install_log_hygiene
from app.core.settings import Settings
from app.messaging.backends import EmailBackend, make_backend
from app.worker import registry
from app.worker.queue import DEFAULT_LEASE, RetryPolicy
from app.worker.runner import run_jobs

_rng = random.Random()  # noqa: S311 - jitter, not secrecy
#: R-AV: how a round that lost the database is retried (the queue's one backoff).
OUTAGE_RETRY = RetryPolicy(
    max_attempts=8, base=timedelta(seconds=0.5), max_delay=timedelta(seconds=30)
)

log = logging.getLogger("candor.worker")
Sessions = async_sessionmaker[AsyncSession]
#: Tallies sweepers report into (``@sweeper(..., counts_as=...)``); ``--once`` prints them.
CHECKS_FIRED = "checks_fired"
EMAILS_SENT = "emails_sent"
SWEEP_BATCH = 1000


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    batch: int = SWEEP_BATCH  # the sweepers' batch (the SLA sweep's checks per transaction)
    lease: timedelta = DEFAULT_LEASE
    poll_interval: float = 2.0
    only: frozenset[str] | None = None  # registered kinds to run (``--only``); None: everything
    #: R-AV: the wait after each failed round while the database is away (0.5 s doubling to
    #: 30 s, with jitter: the queue's one backoff), and with ``--once`` the rounds tried before
    #: giving up (about a minute of waits).
    outage_retry: RetryPolicy = OUTAGE_RETRY


@dataclass(frozen=True, slots=True)
class RoundResult:
    checks_fired: int
    emails_sent: int
    jobs_run: int = 0  # jobs, and the items of sweepers that count as neither

    @property
    def work(self) -> int:
        return self.checks_fired + self.emails_sent + self.jobs_run


async def run_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    options: WorkerOptions,
    settings: Settings,
    backend: EmailBackend,
) -> RoundResult:
    """Everything due at ``now`` that is registered (app/worker/registry.py), or with ``only``
    just those kinds: the due jobs, then the sweepers in their order (the SLA sweep before the
    outbox drains it feeds). The loop names none of them."""
    registry.discover()
    done = await run_jobs(
        sessionmaker,
        now=now,
        lease=options.lease,
        only=options.only,
        sweep_batch=options.batch,
        settings=settings,
        backend=backend,
    )
    checks, emails = done.tally(CHECKS_FIRED), done.tally(EMAILS_SENT)
    return RoundResult(
        checks_fired=checks, emails_sent=emails, jobs_run=done.work - sum(done.tallies.values())
    )


async def run(
    settings: Settings, *, once: bool, now: datetime | None, options: WorkerOptions
) -> RoundResult:
    """Run until stopped (or, with ``once``, until nothing is due at ``now``)."""
    install_log_hygiene()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    backend = make_backend(settings)
    sessionmaker = make_sessionmaker(engine)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    fired = sent = failures = 0
    try:
        while not stopping.is_set():
            try:
                done = await run_round(
                    sessionmaker,
                    now=now or utcnow(),
                    options=options,
                    settings=settings,
                    backend=backend,
                )
            except Exception as exc:
                retry = options.outage_retry
                if not is_unavailable(exc) or (once and failures + 1 >= retry.max_attempts):
                    raise
                failures += 1
                delay = retry.delay(failures, rng=_rng).total_seconds()
                # By type only: a driver's message may quote the values of the failed statement.
                log.warning(
                    "database unavailable (%s); round %d failed, retrying in %.1f s",
                    type(exc).__name__,
                    failures,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=delay)
                continue
            if failures:
                log.info("database reachable again after %d failed rounds", failures)
                failures = 0
            fired, sent = fired + done.checks_fired, sent + done.emails_sent
            if once:
                break
            if done.work == 0:
                # Jitter keeps several idle workers from polling in lockstep.
                delay = options.poll_interval * (0.5 + random.random())  # noqa: S311
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=delay)
    finally:
        await backend.aclose()
        await engine.dispose()
    return RoundResult(checks_fired=fired, emails_sent=sent)
