"""The outbox drain's claim stays an index scan of ``ix_message_pending_send`` however much
history the message table holds (issue 14): PostgreSQL's generic plan, the one a cached prepared
statement gets, for the claim exactly as ``app.messaging.delivery.claims`` builds it, over 60,000
sent messages. With the states as bound values the generic plan cannot use the partial index and
scans every message ever sent (R-CAND-4: the drain that keeps one email a day must keep up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.messaging.delivery import claims
from app.messaging.models import Audience
from tests.support.workers import on_postgresql
from tests.worker.test_job_claim_plan import _sql_literal

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


@on_postgresql(
    "about PostgreSQL's generic plans for cached prepared statements, which SQLite does not have"
)
class TestOutboxClaimPlan:
    @pytest.mark.parametrize("audience", list(Audience))
    async def test_claim_is_an_index_scan_of_the_pending_messages__R_CAND_4(
        self, connection: AsyncConnection, audience: Audience
    ) -> None:
        await connection.exec_driver_sql(
            "INSERT INTO message (created_at, updated_at, kind, audience, reason, automated,"
            " due_at, send_at, state, attempts)"
            " SELECT now(), now(), 'no_news', CASE WHEN g % 2 = 0 THEN 'candidate' ELSE"
            " 'contact' END, 'history', true, now() - interval '30 days',"
            " now() - interval '30 days', CASE WHEN g % 500 = 0 THEN 'pending' ELSE 'sent' END, 0"
            " FROM generate_series(1, 60000) g"
        )
        await connection.exec_driver_sql("ANALYZE message")
        await connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        statement = claims._claim_statements(audience, True)[0]
        compiled = statement.compile(dialect=connection.dialect)
        values = {
            "b_now": NOW,
            "b_token": "t",
            "b_expires": NOW + timedelta(minutes=5),
            "b_limit": 200,
        }
        assert compiled.positiontup is not None
        given = {**compiled.params, **values}
        args = ", ".join(_sql_literal(given[name]) for name in compiled.positiontup)
        await connection.exec_driver_sql(f"PREPARE outbox_claim AS {compiled}")
        try:
            rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE outbox_claim({args})")
            plan = "\n".join(str(r[0]) for r in rows)
        finally:
            await connection.exec_driver_sql("DEALLOCATE outbox_claim")

        assert "Index Scan using ix_message_pending_send on message" in plan, plan
        assert "Seq Scan on message" not in plan, plan
