"""The worker: claims due work, runs it, never loses it.

Each round runs every job — fire due SLA checks, then deliver what the outbox may send — until
nothing is due, then sleeps a poll interval with jitter. An idle round costs one index probe
per job. SIGTERM/SIGINT finish the current batch and exit cleanly; a worker killed outright loses
nothing either — its claims expire and another worker takes them up (app/sla/sweep.py).

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
from app.messaging import contact_outbox, outbox
from app.messaging.backends import EmailBackend, make_backend
from app.sla import sweep
from app.worker import registry
from app.worker.runner import run_jobs

log = logging.getLogger("candor.worker")
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    batch: int = sweep.DEFAULT_BATCH
    lease: timedelta = sweep.DEFAULT_LEASE
    poll_interval: float = 2.0
    only: frozenset[str] | None = None  # registered kinds to run (``--only``); None: everything
    #: R-AV: the first wait after losing the database, doubled per failed round up to the cap.
    backoff_start: float = 0.5
    backoff_cap: float = 30.0
    #: With ``--once``: consecutive failed rounds before giving up (about two minutes of waits).
    once_attempts: int = 8


def backoff(failures: int, *, start: float, cap: float) -> float:
    """Seconds to wait after the ``failures``-th failed round in a row: exponential, capped,
    with jitter so workers that lost the same server do not all come back in one instant."""
    base = min(cap, start * 2.0 ** (failures - 1))
    return base * (0.5 + random.random())  # noqa: S311 - jitter, not security


@dataclass(frozen=True, slots=True)
class RoundResult:
    checks_fired: int
    emails_sent: int
    jobs_run: int = 0

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
    """Everything due at ``now``: checks first (they write status messages), then the outbox,
    then the registered jobs and sweepers (app/worker/registry.py); with ``only``, just those."""
    if options.only is not None:
        return RoundResult(0, 0, jobs_run=await _registered(sessionmaker, now, options))
    fired = await sweep.run_due(sessionmaker, now=now, batch=options.batch, lease=options.lease)
    if fired.fired:
        log.info("fired %d checks (claimed %d)", fired.fired, fired.claimed)
    mail = await outbox.drain(
        sessionmaker, now=now, backend=backend, settings=settings, lease=options.lease
    )
    mail.add(
        await contact_outbox.drain(
            sessionmaker, now=now, backend=backend, settings=settings, lease=options.lease
        )
    )
    if mail.sent_emails or mail.held or mail.refused or mail.retried or mail.failed:
        log.info(
            "emails: %d sent (%d messages), %d held, %d refused, %d to retry, %d failed",
            mail.sent_emails,
            mail.messages_sent,
            mail.held,
            mail.refused,
            mail.retried,
            mail.failed,
        )
    return RoundResult(
        checks_fired=fired.fired,
        emails_sent=mail.sent_emails,
        jobs_run=await _registered(sessionmaker, now, options),
    )


async def _registered(sessionmaker: Sessions, now: datetime, options: WorkerOptions) -> int:
    registry.discover()
    done = await run_jobs(sessionmaker, now=now, lease=options.lease, only=options.only)
    return done.work


async def run(
    settings: Settings, *, once: bool, now: datetime | None, options: WorkerOptions
) -> RoundResult:
    """Run until stopped (or, with ``once``, until nothing is due at ``now``)."""
    install_log_hygiene()
    engine = make_engine(settings.database_url)
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
                if not is_unavailable(exc) or (once and failures + 1 >= options.once_attempts):
                    raise
                failures += 1
                delay = backoff(failures, start=options.backoff_start, cap=options.backoff_cap)
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
