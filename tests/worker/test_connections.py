"""How requests use database connections (issue 14, decision 0086), on a real committed database.

- A GET runs without a transaction on PostgreSQL (no BEGIN, no COMMIT, no rollback on return);
  a write request runs every statement inside one.
- A GET that tries to write is refused before anything reaches the database, on both databases.
- Connections the server closed (what a restart does) are replaced when they are checked out,
  without a ping per checkout: the requests after it are answered 200, not 503 (R-AV).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from app.candidates.models import Candidate
from app.core.database import WriteInReadOnlyRequest, make_read_sessionmaker
from app.core.settings import Settings
from app.main import create_app
from tests.support.factories import Caller, make_caller, make_candidate
from tests.support.workers import WorkerDatabase, on_postgresql

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def served(worker_database: WorkerDatabase) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its own engine on the test's database, as a server process builds it."""
    app = create_app(Settings(database_url=worker_database.url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://candor.test"
        ) as client,
    ):
        yield app, client


async def _callers(sessions: Sessions) -> tuple[Caller, Caller]:
    async with sessions() as session:
        integration = await make_caller(session, "integration")
        owner = await make_caller(session, "recruiter")
        await session.commit()
    return integration, owner


def _engine_of(app: Any) -> AsyncEngine:
    engine = app.state.sessionmaker.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


@on_postgresql("autocommit reads are PostgreSQL's; SQLite keeps its in-process transactions")
async def test_a_get_runs_without_a_transaction_and_a_write_inside_one(
    served: tuple[Any, httpx.AsyncClient], worker_sessionmaker: Sessions
) -> None:
    """Seen two ways: SQLAlchemy's statements with asyncpg's own view of the connection (inside
    BEGIN … COMMIT or not), and what the driver itself was asked to run, which includes the
    statements run by the driver directly (``app.core.prepared``: GET one record)."""
    app, client = served
    integration, owner = await _callers(worker_sessionmaker)
    seen: list[tuple[str, bool]] = []
    driver_ran: list[str] = []

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        in_transaction = conn.connection.driver_connection.is_in_transaction()
        seen.append((statement.split()[0].upper(), in_transaction))

    def logged(record: Any) -> None:
        driver_ran.append(record.query.split()[0].upper().rstrip(";"))

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(logged)

    engine = _engine_of(app)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "checkout", checkout)
    created = await client.post(
        "/v1/candidates",
        headers=integration.headers,
        json={
            "first_name": "Ada",
            "last_name": "Byron",
            "email": "ada@example.com",
            "owner_id": owner.user_id,
        },
    )
    assert created.status_code == 201, created.text
    await asyncio.sleep(0)  # asyncpg hands query records to loggers with call_soon: let them run
    writes, driven_writes = list(seen), list(driver_ran)
    seen.clear()
    driver_ran.clear()
    read = await client.get(f"/v1/candidates/{created.json()['id']}", headers=integration.headers)
    assert read.status_code == 200, read.text
    await asyncio.sleep(0)
    reads, driven_reads = list(seen), list(driver_ran)

    assert writes and all(in_tx for _, in_tx in writes), writes
    assert any(verb == "INSERT" for verb, _ in writes)
    assert "BEGIN" in driven_writes and "COMMIT" in driven_writes, driven_writes
    assert not any(in_tx for _, in_tx in reads), reads
    assert {verb for verb, _ in reads} <= {"SELECT"}
    assert "SELECT" in driven_reads, driven_reads
    assert not {"BEGIN", "COMMIT", "ROLLBACK"} & set(driven_reads), driven_reads


async def test_a_write_in_a_read_only_session_is_refused_before_it_is_sent(
    worker_engine: AsyncEngine, worker_sessionmaker: Sessions
) -> None:
    """On both databases: the guard, not the database, stops it, and nothing is written."""
    async with worker_sessionmaker() as session:
        candidate = await make_candidate(session)
        await session.commit()
        candidate_id = candidate.id
    sent: list[str] = []
    event.listen(
        worker_engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: sent.append(statement.split()[0].upper()),
    )
    reader = make_read_sessionmaker(worker_engine)
    async with reader() as session:
        loaded = await session.get(Candidate, candidate_id)
        assert loaded is not None
        loaded.first_name = "Changed"
        with pytest.raises(WriteInReadOnlyRequest):
            await session.flush()
    async with reader() as session:
        with pytest.raises(WriteInReadOnlyRequest):
            await session.execute(
                update(Candidate)
                .where(col(Candidate.id) == candidate_id)
                .values(first_name="Changed")
            )
    assert set(sent) <= {"SELECT", "BEGIN"}, sent
    async with worker_sessionmaker() as session:
        stored = await session.get(Candidate, candidate_id)
        assert stored is not None and stored.first_name != "Changed"


@on_postgresql("R-AV: connections a server closes; an SQLite file has none")
async def test_connections_the_server_closed_are_replaced_at_checkout__R_AV(
    served: tuple[Any, httpx.AsyncClient], worker_sessionmaker: Sessions
) -> None:
    """What a restart does to a pool: every connection closed by the server. Without a ping per
    checkout, the driver already knows each is closed; the pool opens new ones in their place."""
    app, client = served
    integration, _ = await _callers(worker_sessionmaker)
    opened: list[Any] = []
    event.listen(
        _engine_of(app).sync_engine, "connect", lambda dbapi, _record: opened.append(dbapi)
    )
    concurrency = 6
    warm = await asyncio.gather(
        *(client.get("/v1/candidates", headers=integration.headers) for _ in range(concurrency))
    )
    assert {r.status_code for r in warm} == {200}
    pooled = list(opened)
    assert pooled, "the app opened no connection of its own"

    async with worker_sessionmaker() as session:
        ended = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert ended is not None and ended >= len(pooled)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not all(c.driver_connection.is_closed() for c in pooled):
        assert loop.time() < deadline, "the driver never saw the server close its connections"
        await asyncio.sleep(0.01)  # a condition waited for, bounded: the server's close arriving

    after = await asyncio.gather(
        *(client.get("/v1/candidates", headers=integration.headers) for _ in range(concurrency))
    )
    assert [r.status_code for r in after] == [200] * concurrency, [r.text for r in after]
    assert len(opened) > len(pooled), "no connection was replaced"
