"""Databases for tests that need COMMITTED rows other processes can see (R-SLA-6).

The suite's ``connection``/``session`` fixtures keep every test inside one rolled-back
transaction, which a worker subprocess can never see. Here the package builds one template
database with ``app.cli.run_migrations`` (the only way a schema is made) on the backend the suite
runs on, and every test gets a fresh copy of it, dropped afterwards: PostgreSQL's
``CREATE DATABASE … TEMPLATE`` when ``CANDOR_TEST_DATABASE_URL`` names a server, a copied file
otherwise. A copy costs a fraction of a migration, and no test can see another's rows.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.cli import run_migrations
from app.core.database import make_engine, make_sessionmaker
from tests.support.workers import WorkerDatabase, postgres_server_url


async def _admin(server: str, sql: str) -> None:
    """Run ``sql`` on the server's maintenance database (CREATE/DROP DATABASE need autocommit)."""
    engine = create_async_engine(
        make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@pytest.fixture(scope="package")
async def worker_template_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One database built by Alembic for the whole package, dropped at its end.

    Alembic's env.py calls ``asyncio.run``, which cannot nest in the running test loop: the
    migration runs in a thread of its own.
    """
    server = postgres_server_url()
    if server is None:
        path = tmp_path_factory.mktemp("worker-db") / "template.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(run_migrations, url)
        yield url
        return
    name = f"candor_worker_tmpl_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(run_migrations, url)
        yield url
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy_sqlite(template: Path, target: Path) -> None:
    # The migration's engine is disposed, so the WAL is normally checkpointed away; copy it if not.
    shutil.copyfile(template, target)
    wal = template.with_name(template.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))


@pytest.fixture
async def worker_database(
    worker_template_url: str, tmp_path: Path
) -> AsyncIterator[WorkerDatabase]:
    """A fresh copy of the template for one test, dropped afterwards (even if a worker it
    started is still connected: ``WITH (FORCE)``)."""
    template = make_url(worker_template_url)
    if template.get_backend_name() == "sqlite":
        assert template.database is not None
        path = tmp_path / "candor.db"
        await asyncio.to_thread(_copy_sqlite, Path(template.database), path)
        yield WorkerDatabase(url=f"sqlite+aiosqlite:///{path}", sqlite_path=path)
        return
    server = postgres_server_url()
    assert server is not None
    name = f"candor_worker_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"')
    try:
        url = template.set(database=name).render_as_string(hide_password=False)
        yield WorkerDatabase(url=url, sqlite_path=None)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def worker_engine(worker_database: WorkerDatabase) -> AsyncIterator[AsyncEngine]:
    """The test's own engine on that database: what it writes is committed for real."""
    engine = make_engine(worker_database.url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def worker_sessionmaker(worker_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(worker_engine)
