"""A request that loses a race inside the database gets 503 with Retry-After and changes
nothing (R-IN): here a real PostgreSQL deadlock between a stage move and another transaction
holding the submission's checks, as a worker firing them would (R-SLA-5, R-SLA-6)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.settings import Settings
from app.main import create_app
from app.sla.models import CheckState
from app.submissions.models import Submission
from tests.factories import make_caller
from tests.worker.conftest import WorkerDatabase, on_postgresql
from tests.worker.test_exactly_once import TIMEOUT, load_checks, seed_submissions

Sessions = async_sessionmaker[AsyncSession]

#: Sessions of this database waiting on another transaction (a row lock).
WAITING_ON_A_TRANSACTION = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE NOT l.granted AND l.locktype = 'transactionid'"
    " AND a.datname = current_database()"
)


async def wait_until_waiting(engine: AsyncEngine, count: int) -> None:
    """Poll a real condition (``count`` sessions wait on a row lock) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    async with engine.connect() as conn:
        while (await conn.scalar(WAITING_ON_A_TRANSACTION) or 0) < count:
            await conn.rollback()
            assert loop.time() < deadline, "the request never waited on the held checks"
            await asyncio.sleep(0.02)


@on_postgresql("a deadlock needs row locks; SQLite has one writer at a time")
class TestDeadlockedRequest:
    async def test_a_deadlocked_stage_move_answers_503_and_changes_nothing__R_IN(
        self,
        worker_database: WorkerDatabase,
        worker_engine: AsyncEngine,
        worker_sessionmaker: Sessions,
    ) -> None:
        (submission_id,) = await seed_submissions(worker_sessionmaker, 1)
        async with worker_sessionmaker() as session:
            admin = await make_caller(session, "admin")
            await session.commit()
        settings = Settings(environment="test", database_url=worker_database.url)
        app = create_app(settings, bind=worker_engine)
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://candor.test") as http,
            worker_engine.connect() as holder,
        ):
            # Another transaction holds the submission's checks, as a firing batch does...
            await holder.execute(
                text("SELECT id FROM sla_check WHERE submission_id = :s FOR UPDATE"),
                {"s": submission_id},
            )
            # ...the move locks the submission, then waits on those checks (stop_clock)...
            move = asyncio.create_task(
                http.post(
                    f"/v1/submissions/{submission_id}/moves",
                    json={"to_stage": "withdrawn"},
                    headers={"Authorization": f"Bearer {admin.key}"},
                )
            )
            await wait_until_waiting(worker_engine, 1)
            # ...and the holder now wants the submission: a cycle. The move, waiting longer,
            # finds the deadlock first and is rolled back.
            await holder.execute(
                text("UPDATE submission SET updated_at = updated_at WHERE id = :s"),
                {"s": submission_id},
            )
            response = await asyncio.wait_for(move, timeout=TIMEOUT)
            await holder.rollback()

        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "urn:candor:problem:busy"
        async with worker_sessionmaker() as session:
            submission = await session.get(Submission, submission_id)
            assert submission is not None and submission.stage == "submitted"
        checks = await load_checks(worker_sessionmaker)
        assert {c.state for c in checks.values()} == {CheckState.scheduled}
