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
from tests.support.factories import make_caller
from tests.support.workers import (
    TIMEOUT,
    WorkerDatabase,
    load_checks,
    on_postgresql,
    seed_submissions,
    wait_until_waiting,
)

Sessions = async_sessionmaker[AsyncSession]


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
