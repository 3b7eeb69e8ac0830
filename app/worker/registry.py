"""Where background work is declared (style rule 14): nothing outside ``app/worker/`` claims,
leases or retries.

A domain declares its work in ``app/<domain>/background.py`` (imported by ``discover``):

- a **job** is per-item work enqueued with ids (``app.worker.queue.enqueue``) and run once per
  item: ``@job("webhooks.deliver", retry=RetryPolicy(max_attempts=8))`` on
  ``async def deliver(session, *, now, delivery_id) -> None``. It reloads its rows by id and
  returns quietly when one is gone (the change that called for it may have been undone since).
  It never commits: the worker commits its writes together with the job's completion.
- a **sweeper** is set-based work the worker calls once per round with a ``SweepContext``
  (``@sweeper("sla.fire_due", order=10)``): a tuned batch path that claims its own rows,
  returning how many items it did. Sweepers run in ``order`` (lower first, then by kind), so a
  domain whose work feeds another's runs before it (the SLA sweep writes the status messages
  the outbox drain delivers). ``counts_as`` names the round's tally the items add to
  (``checks_fired``, ``emails_sent``: what ``candor worker --once`` prints).

The metrics of every kind pass through one ``JobMetrics`` (``LoggingMetrics`` by default): the
place to hang Prometheus or StatsD counters. It is told kinds, outcomes and durations only,
never ids or payloads.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.worker.queue import RetryPolicy

if TYPE_CHECKING:
    from app.core.settings import Settings
    from app.messaging.backends import EmailBackend

log = logging.getLogger("candor.worker.jobs")

#: ``async def handler(session, *, now, **ids) -> None``
JobHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SweepContext:
    """What a sweeper gets each round: its own sessions (one per unit of work), the instant it
    acts at, the lease its claims should use and the batch size it should take; and the
    worker's settings and email backend, where the worker has them (``candor worker``)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    now: datetime
    lease: timedelta
    batch: int
    settings: Settings | None = None
    backend: EmailBackend | None = None


SweepHandler = Callable[[SweepContext], Awaitable[int]]
F = TypeVar("F", bound=JobHandler)
S = TypeVar("S", bound=SweepHandler)


@dataclass(frozen=True, slots=True)
class JobSpec:
    kind: str
    handler: JobHandler
    retry: RetryPolicy


@dataclass(frozen=True, slots=True)
class SweeperSpec:
    kind: str
    handler: SweepHandler
    order: int = 100
    counts_as: str | None = None


class UnknownKind(ValueError):
    """``--only`` named a kind nobody registered: refused, listing the ones there are."""

    def __init__(self, unknown: Iterable[str], known: Iterable[str]) -> None:
        super().__init__(
            f"no job or sweeper registered as {', '.join(sorted(unknown))}; "
            f"registered: {', '.join(sorted(known)) or 'none'}"
        )


@dataclass(slots=True)
class Registry:
    """Kinds to handlers. A kind is registered once: a second registration is a bug (two
    modules claiming the same work), refused at import time."""

    jobs: dict[str, JobSpec] = field(default_factory=dict)
    sweepers: dict[str, SweeperSpec] = field(default_factory=dict)

    def _check_new(self, kind: str) -> None:
        if not kind or len(kind) > 64:
            raise ValueError("a kind is 1-64 characters")
        if kind in self.jobs or kind in self.sweepers:
            raise ValueError(f"kind {kind!r} is already registered")

    def job(self, kind: str, *, retry: RetryPolicy | None = None) -> Callable[[F], F]:
        """Register a per-item job handler under ``kind``."""

        def register(handler: F) -> F:
            self._check_new(kind)
            self.jobs[kind] = JobSpec(kind=kind, handler=handler, retry=retry or RetryPolicy())
            return handler

        return register

    def sweeper(
        self, kind: str, *, order: int = 100, counts_as: str | None = None
    ) -> Callable[[S], S]:
        """Register set-based work called once per worker round under ``kind``, in ``order``
        among the sweepers (lower first)."""

        def register(handler: S) -> S:
            self._check_new(kind)
            self.sweepers[kind] = SweeperSpec(
                kind=kind, handler=handler, order=order, counts_as=counts_as
            )
            return handler

        return register

    def kinds(self) -> set[str]:
        return set(self.jobs) | set(self.sweepers)

    def select(self, only: Collection[str] | None) -> tuple[list[JobSpec], list[SweeperSpec]]:
        """The jobs and sweepers a worker runs: all, or the ``only`` ones (all of which must
        be registered, so a typo in a deployment fails at start instead of idling). Sweepers
        come in their ``order``."""
        sweepers = sorted(self.sweepers.values(), key=lambda spec: (spec.order, spec.kind))
        if only is None:
            return list(self.jobs.values()), sweepers
        unknown = set(only) - self.kinds()
        if unknown:
            raise UnknownKind(unknown, self.kinds())
        return (
            [spec for kind, spec in self.jobs.items() if kind in only],
            [spec for spec in sweepers if spec.kind in only],
        )


#: The process's registry, filled by the ``@job``/``@sweeper`` decorators at import time.
REGISTRY = Registry()
job = REGISTRY.job
sweeper = REGISTRY.sweeper


@functools.cache
def discover(package: str = "app") -> None:
    """Import every domain's ``background`` module, so its decorators register its work
    (once per process: the imports are the registrations)."""
    root = importlib.import_module(package)
    for info in pkgutil.iter_modules(root.__path__):
        if info.ispkg:
            try:
                importlib.import_module(f"{package}.{info.name}.background")
            except ModuleNotFoundError as missing:
                if missing.name != f"{package}.{info.name}.background":
                    raise


class JobOutcome(StrEnum):
    done = "done"
    retried = "retried"
    dead = "dead"
    lost = "lost"  # the lease ran out and another worker holds the job: nothing written


class JobMetrics(Protocol):
    """The one place per-kind metrics go. Kinds, outcomes and durations; never ids or data."""

    def job_finished(self, kind: str, outcome: JobOutcome, seconds: float) -> None: ...

    def sweeper_finished(self, kind: str, items: int, seconds: float) -> None: ...


class LoggingMetrics:
    """The default: a log line per retry or dead job, debug lines for the rest."""

    def job_finished(self, kind: str, outcome: JobOutcome, seconds: float) -> None:
        level = logging.DEBUG if outcome == JobOutcome.done else logging.INFO
        if outcome == JobOutcome.dead:
            level = logging.WARNING
        log.log(level, "job %s %s in %.3fs", kind, outcome.value, seconds)

    def sweeper_finished(self, kind: str, items: int, seconds: float) -> None:
        if items:
            log.info("sweeper %s did %d in %.3fs", kind, items, seconds)
