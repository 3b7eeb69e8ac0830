"""The lease, enforced by the server on PostgreSQL: one copy for the worker and its sweepers.

A claim's lease is also a bound on the database work done under it, so a worker that hangs
loses its transaction (and the row locks it took) once its lease has run out, and whoever claims
the work next does it. Two scopes, one figure (``lease_ms``):

- ``bound_by_lease``: this transaction only (``SET LOCAL``), for work that takes and finishes
  a batch in one transaction (the SLA sweep on PostgreSQL, decision 0007);
- ``app.worker.runner:one_connection``: a connection that runs a claimed batch of jobs, one
  transaction per job, bounded for as long as the batch holds it (decision 0050).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def lease_ms(lease: timedelta) -> int:
    """The lease in whole milliseconds, at least one (PostgreSQL reads 0 as no limit)."""
    return max(int(lease.total_seconds() * 1000), 1)


async def bound_by_lease(session: AsyncSession, lease: timedelta) -> None:
    """PostgreSQL: this transaction, and each of its statements, ends after ``lease`` at most,
    so a hung worker's locks are released and its work is done elsewhere (``SET LOCAL``)."""
    await session.execute(
        text(
            "SELECT set_config('idle_in_transaction_session_timeout', :ms, true), "
            "set_config('statement_timeout', :ms, true)"
        ),
        {"ms": str(lease_ms(lease))},
    )
