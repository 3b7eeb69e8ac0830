"""The generic queue's claims stay index range scans however much history the table holds
(decision 0050): PostgreSQL's generic plan, the one a cached prepared statement gets, for each
claim statement exactly as ``app.worker.queue`` builds it, over 60,000 finished jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import ColumnElement, and_, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from app.worker import queue
from app.worker.models import WorkerJob
from tests.support.workers import on_postgresql

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _sql_literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


async def generic_plan(conn: AsyncConnection, where: ColumnElement[bool], order: object) -> str:
    statement = queue._claim_candidates(where, order, 50)
    compiled = statement.compile(dialect=conn.dialect)
    assert compiled.positiontup is not None
    args = ", ".join(_sql_literal(compiled.params[name]) for name in compiled.positiontup)
    await conn.exec_driver_sql(f"PREPARE claim_plan AS {compiled}")
    try:
        rows = await conn.exec_driver_sql(f"EXPLAIN EXECUTE claim_plan({args})")
        return "\n".join(str(r[0]) for r in rows)
    finally:
        await conn.exec_driver_sql("DEALLOCATE claim_plan")


@on_postgresql(
    "about PostgreSQL's generic plans for cached prepared statements, which SQLite does not have"
)
class TestClaimPlans:
    @pytest.mark.parametrize(
        ("state", "column", "index"),
        [
            ("queued", "run_at", "ix_worker_job_due"),
            ("running", "lease_expires_at", "ix_worker_job_lease"),
        ],
    )
    async def test_claim_is_an_index_scan_of_its_partial_index__R_SLA_6(
        self, connection: AsyncConnection, state: str, column: str, index: str
    ) -> None:
        await connection.exec_driver_sql(
            "INSERT INTO worker_job (created_at, updated_at, kind, ids, run_at, state, attempts,"
            " lease_expires_at)"
            " SELECT now(), now(), 'k' || (g % 6), '{}', now() - interval '1 day',"
            " CASE WHEN g % 200 = 0 THEN 'queued' WHEN g % 200 = 1 THEN 'running' ELSE 'done' END,"
            " 1, CASE WHEN g % 200 = 1 THEN now() - interval '1 hour' END"
            " FROM generate_series(1, 60000) g"
        )
        await connection.exec_driver_sql("ANALYZE worker_job")
        await connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        state_literal = queue._QUEUED if state == "queued" else queue._RUNNING
        moment = col(getattr(WorkerJob, column))
        where = and_(
            col(WorkerJob.kind) == "k1", col(WorkerJob.state) == state_literal, moment <= NOW
        )

        plan = await generic_plan(connection, where, moment)

        assert f"Index Scan using {index} on worker_job" in plan, plan
        assert "Seq Scan" not in plan and "Sort" not in plan, plan
