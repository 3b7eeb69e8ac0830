"""The durable-work table: one row per piece of background work (decision 0050).

The table is ``worker_job`` because ``job`` is the recruiting domain's job order. A row is
written in the transaction of the change that calls for it (``app.worker.queue.enqueue``), so a
rolled-back change leaves no work behind (style rule 7).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, text
from sqlmodel import Field

from app.core.models import WorkTimestamps, instant_field


class JobState(StrEnum):
    queued = "queued"  # waiting for ``run_at``
    running = "running"  # claimed by a worker until ``lease_expires_at``
    done = "done"
    dead = "dead"  # attempts exhausted; ``last_error`` says why


#: The states in which a job still has to run: a dedupe key is "live" while its job is in one.
LIVE_STATES = (JobState.queued.value, JobState.running.value)
#: Written as a literal (not a bound parameter) so that PostgreSQL can prove a query's predicate
#: implies the partial index's, even with a generic cached plan.
LIVE_PREDICATE = "state IN ('queued', 'running')"


class WorkerJob(WorkTimestamps, table=True):
    """A job takes ids, never payloads: the handler reloads its rows, so a job outlives no
    change it should not know about, and personal data never sits in the queue."""

    __tablename__ = "worker_job"
    __table_args__ = (
        # The claim of due work: one index range scan per kind, history costs nothing.
        Index(
            "ix_worker_job_due",
            "kind",
            "run_at",
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
        # Taking up the work of a worker that died or hung: also a range scan per kind.
        Index(
            "ix_worker_job_lease",
            "kind",
            "lease_expires_at",
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
        # At most one live job per (kind, dedupe key): ``enqueue``'s ON CONFLICT DO NOTHING
        # makes a second enqueue a no-op, race-safe on both databases.
        Index(
            "uq_worker_job_live_dedupe",
            "kind",
            "dedupe_key",
            unique=True,
            sqlite_where=text(f"dedupe_key IS NOT NULL AND {LIVE_PREDICATE}"),
            postgresql_where=text(f"dedupe_key IS NOT NULL AND {LIVE_PREDICATE}"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    ids: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    run_at: datetime = instant_field(nullable=False)
    dedupe_key: str | None = Field(default=None, max_length=200)
    state: JobState = Field(default=JobState.queued, sa_type=String(16))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    claim_token: str | None = Field(default=None, max_length=36)
    lease_expires_at: datetime | None = instant_field(default=None, nullable=True)
    finished_at: datetime | None = instant_field(default=None, nullable=True)
